"""Front-matter schema of a guideline topic file in `guideline_corpus/`.

Only pydantic and PyYAML are needed here, so the corpus can be validated without the ML stack:
`python -m drafter.corpus.validate guideline_corpus/`.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TOPIC_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Guideline(str, Enum):
    """Guidelines of the MTUS (and the evidence tiers after it) that topics belong to."""

    DEFINITIONS = "MTUS General Provisions"
    CPMTG = "MTUS Chronic Pain Medical Treatment Guidelines"
    ACUPUNCTURE = "MTUS Acupuncture Medical Treatment Guidelines"
    POSTSURGICAL = "MTUS Postsurgical Treatment Guidelines"
    ACOEM_2004 = "ACOEM Practice Guidelines, 2nd Edition (2004)"
    ACOEM_MTUS = "MTUS ACOEM-based Guidelines"
    FORMULARY = "MTUS Drug Formulary"
    USER_PDF = "User-supplied guideline"


# Guidelines that letters cite by printed page number: their topics must list pages.
PAGED_GUIDELINES = {Guideline.CPMTG, Guideline.ACOEM_2004}
# Guidelines cited by guideline and topic only (licensed post-2017 text): no page numbers.
UNPAGED_GUIDELINES = {Guideline.ACOEM_MTUS, Guideline.FORMULARY}


class Category(str, Enum):
    """Treatment categories, following CWCI's grouping of IMR disputes."""

    DEFINITIONS = "definitions"
    OPIOIDS = "opioids"
    TOPICALS = "topicals"
    MUSCLE_RELAXANTS = "muscle_relaxants"
    OTHER_PHARMACEUTICALS = "other_pharmaceuticals"
    REHABILITATION = "rehabilitation"
    DIAGNOSTICS = "diagnostics"
    DME = "dme"
    INJECTIONS = "injections"
    SURGERY = "surgery"
    PROGRAMS = "programs"
    HOME_HEALTH = "home_health"
    EVALUATION_MANAGEMENT = "evaluation_management"
    PSYCHOLOGICAL = "psychological"


class Recommendation(str, Enum):
    RECOMMENDED = "recommended"
    CONDITIONAL = "conditional"
    NOT_RECOMMENDED = "not recommended"


# Case facts that a criterion may check. The criteria stage extracts these from case files,
# so the vocabulary is closed: add a fact here (with its meaning) before using it in a topic.
FACTS: dict[str, str] = {
    "functional_improvement": "documented clinically significant improvement in ADLs or work restrictions, less dependence on care",
    "prior_visits_completed": "number of visits/sessions of this treatment already completed",
    "home_exercise_program": "an active, self-directed home exercise program is in place",
    "objective_deficits": "objective functional deficits on exam that therapy can address",
    "radiculopathy_on_exam": "radiculopathy documented on physical examination",
    "imaging_or_electrodiagnostic_corroboration": "imaging or electrodiagnostic studies corroborate the clinical finding",
    "conservative_care_failed": "failure of conservative treatment (exercise, physical methods, medications)",
    "red_flags": "red flags: fracture, tumor, infection, cauda equina, progressive neurologic deficit",
    "specific_nerve_compromise": "unequivocal objective findings identifying specific nerve compromise on neurologic exam",
    "surgery_considered": "surgery is being considered or planned",
    "injection_considered": "an epidural or other spinal injection is being considered or planned",
    "corticosteroid_injection_given": "a corticosteroid (cortisone) injection has already been given for the condition",
    "prior_injection_relief": "percent pain relief and its duration after a prior injection, with reduced medication",
    "gi_risk_factors": "gastrointestinal risk factors: age > 65, GI bleed/ulcer history, ASA/steroid/anticoagulant use, high-dose or multiple NSAIDs",
    "first_line_therapy_failed": "trial of first-line therapy (e.g. antidepressant or AED) failed",
    "neuropathic_pain": "neuropathic pain diagnosis",
    "four_as_documented": "ongoing opioid monitoring: analgesia, activities of daily living, adverse effects, aberrant behaviour",
    "pain_score_change": "documented pain scores with and without the medication",
    "urine_drug_screen": "urine drug screen results and their consistency",
    "consistent_prior_uds": "an earlier urine drug screen was consistent with the prescribed medications",
    "opioid_agreement": "opioid treatment agreement / single prescriber",
    "return_to_work": "the patient has returned to work or work status improved",
    "daily_mme": "total daily oral morphine milligram equivalents",
    "duration_of_use_weeks": "how long the patient has already used the medication or treatment, in weeks",
    "acute_exacerbation": "an acute exacerbation of chronic pain is documented",
    "intolerance_to_oral_medication": "oral medications are not tolerated or contraindicated",
    "compounded_ingredients": "the ingredients of a compounded topical product",
    "homebound": "the patient is homebound",
    "medical_treatment_needed_at_home": "the home services requested are medical treatment, not homemaker or personal care only",
    "hours_per_week": "hours of service per week requested",
    "adjunct_to_functional_restoration": "the modality is used as an adjunct to a program of evidence-based functional restoration",
    "trial_completed": "a prior trial (e.g. one-month TENS trial) was completed with documented outcomes",
    "psychological_evaluation": "a psychological evaluation was performed or cleared the patient",
    "baseline_functional_testing": "baseline functional testing was done so that follow-up can show improvement",
    "motivation_to_change": "the patient shows motivation to change and willingness to forgo secondary gains",
    "negative_predictors_addressed": "negative predictors of success were identified and addressed",
    "previous_methods_unsuccessful": "previous methods of treating chronic pain have been unsuccessful and no other option is likely to help",
    "not_surgical_candidate": "the patient is not a candidate for surgery or declines it",
    "surgery_date": "date of the surgery, to place a request within the postsurgical period",
    "surgery_type": "the surgical procedure performed",
    "postsurgical_visits_completed": "postsurgical therapy visits already completed",
    "symptom_duration_weeks": "how long the symptoms have persisted, in weeks",
    "neurologic_deficit": "a neurologic deficit (motor, sensory or reflex) on examination",
    "mechanical_symptoms": "locking, catching or giving way of a joint",
    "instability": "documented joint instability",
    "imaging_findings": "what prior imaging showed",
    "advanced_osteoarthritis": "imaging shows advanced (severe, end-stage, bone-on-bone) osteoarthritis of the joint",
    "prior_imaging": "imaging of the same region already done, and when",
    "diagnosis_uncertain": "the diagnosis is uncertain or extremely complex, or psychosocial factors are present",
    "work_status": "current work status and restrictions",
    "job_demands_identified": "a defined return-to-work goal with identified job demands",
    "trigger_points_palpated": "circumscribed trigger points with a twitch response and referred pain on palpation",
    "formulary_status": "MTUS Drug Formulary status of the drug: preferred, non-preferred, special fill, perioperative fill",
    "within_fill_period": "the request falls within a special-fill or perioperative fill period",
    "date_of_injury": "date of injury",
    "request_date": "date of the request for authorization or UR decision",
    "spasticity_or_dystonia": "spasticity or a dystonia diagnosis (e.g. cervical dystonia)",
    "insomnia_evaluated": "the cause of insomnia was evaluated and sleep hygiene addressed",
    "supervised_therapy_required": "the patient cannot do the exercise program without supervision",
    "reduced_weight_bearing_desirable": "reduced weight bearing is desirable (e.g. extreme obesity)",
    "age": "the patient's age in years",
    "radicular_symptoms": "the patient reports pain radiating into a limb, or numbness or tingling in a limb",
    "treatment_phase": "initial (a first course, trial or prescription) or continuation (more of a treatment already given)",
}


class Criterion(BaseModel):
    """A requirement the guideline sets, checked later against one case fact."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="kebab-case, unique within the topic")
    text: str = Field(min_length=10, description="the requirement in plain words")
    fact: str = Field(description="the case fact this criterion checks (a key of FACTS)")
    applies: Literal["initial", "continuation", "all", "first_request"] = Field(
        default="all", description="initial: a first request (and, for a drug, still an indication when it is continued); "
        "first_request: a first request only, never checked when the treatment is continued; continuation; all")
    page: int | None = Field(default=None, description="printed page where the guideline states it")
    expect: Literal["present", "absent", "any"] = Field(
        default="present",
        description="present: the fact must be documented; absent: the fact must NOT hold (e.g. no red flags); "
        "any: informational, recorded but never decisive",
    )
    any_of: str | None = Field(
        default=None,
        description="criteria sharing an any_of label are alternatives: the group is met when any one is met",
    )
    on_silence: Literal["not_met", "unknown", "met"] | None = Field(
        default=None,
        description="what the records' silence on the fact means. Default: the requesting physician carries the burden "
        "of documentation, so silence on a required fact is not_met (expect: absent gates read silence as met); "
        "'unknown' leaves it for the reviewer, and needs a silence_why",
    )
    silence_why: str | None = Field(default=None, description="why silence does not count against the request here")
    follows_excludes: bool = Field(default=False, description="met only when none of the topic's excludes matches the "
                                   "request: the compound rule (p. 111), any product with an ingredient not recommended "
                                   "is not recommended")
    items: list[str] = Field(
        default_factory=list,
        description="in a topic that covers several treatments (an ACOEM-based chapter): words of the requests this "
        "criterion governs, e.g. ['MRI', 'imaging']; empty: every request the topic governs",
    )

    def governs(self, request: str) -> bool:
        """Whether this criterion speaks to the request (its `items` words, as whole words, case-insensitive)."""
        if not self.items:
            return True
        low = request.lower()
        return any(re.search(rf"(?<![a-z0-9]){re.escape(w.lower())}(?![a-z0-9])", low) for w in self.items)

    @field_validator("id")
    @classmethod
    def _kebab(cls, v: str) -> str:
        if not TOPIC_ID.match(v):
            raise ValueError(f"criterion id {v!r} must be kebab-case (a-z, 0-9, hyphens)")
        return v

    @model_validator(mode="after")
    def _silence_explained(self) -> Criterion:
        if self.on_silence in ("unknown", "met") and not self.silence_why:
            raise ValueError(f"criterion {self.id}: on_silence {self.on_silence!r} needs a silence_why")
        return self

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, v: str) -> str:
        if v not in FACTS:
            raise ValueError(f"unknown fact {v!r}; use one of drafter.corpus.schema.FACTS or add it there")
        return v


LimitUnit = Literal[
    "visits", "sessions", "treatments", "injections", "weeks", "days", "months", "hours_per_week",
    "hours_per_day", "mg_per_day", "mme_per_day", "units", "tablets",
]


class Limit(BaseModel):
    """A numeric limit: at most (or at least) `max`/`min` of `unit`, optionally for one condition."""

    model_config = ConfigDict(extra="forbid")

    unit: LimitUnit
    max: float | None = None
    min: float | None = None
    over_weeks: float | None = Field(default=None, description="the period the amount is spread over")
    condition: str | None = Field(default=None, description="diagnosis or phase the limit is for")
    page: int | None = None
    note: str | None = None
    default_course: bool = Field(default=False, description="the course reviewers apply when the diagnosis is nonspecific "
                                 "(e.g. chronic low back pain takes the myalgia/myositis course)")
    hours_per_week: float | None = Field(default=None, description="for a weeks limit on a program requested in hours: the "
                                         "hours of one week of full-day sessions, to convert the request")

    @model_validator(mode="after")
    def _has_bound(self) -> Limit:
        if self.max is None and self.min is None:
            raise ValueError("a limit needs max or min")
        return self


class Exclusion(BaseModel):
    """A drug, ingredient or form the topic names as not recommended (checked against the item string)."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=3, description="word or phrase as requests write it, e.g. 'gabapentin'")
    note: str = Field(min_length=10, description="what the guideline says about it")
    page: int | None = None
    unless: list[str] = Field(default_factory=list, description="words of a request that lift the exclusion, e.g. "
                              "'lidoderm' for 'lidocaine' (the dermal patch is the one lidocaine form supported)")


class TopicMeta(BaseModel):
    """YAML front matter of one guideline topic file."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    id: str
    guideline: Guideline
    edition: str = Field(min_length=4, description="e.g. 2009, 2004, 2017, 2018")
    regulation: str = Field(pattern=r"^9792\.\d+(\.\d+)*[a-z]?$|^$", description="8 CCR section, e.g. 9792.24.2")
    section: str | None = Field(default=None, description="chapter or subsection as letters cite it, e.g. 'Chapter 12'")
    effective_from: dt.date
    effective_to: dt.date | None = None
    topic: str = Field(min_length=3)
    category: Category
    pages: list[int] = Field(default_factory=list)
    applies_to: list[str] = Field(min_length=1)
    recommendation: Recommendation
    criteria: list[Criterion] = Field(default_factory=list)
    limits: list[Limit] = Field(default_factory=list)
    excludes: list[Exclusion] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_kebab(cls, v: str) -> str:
        if not TOPIC_ID.match(v):
            raise ValueError(f"id {v!r} must be kebab-case (a-z, 0-9, hyphens)")
        return v

    @field_validator("applies_to")
    @classmethod
    def _terms_nonblank(cls, v: list[str]) -> list[str]:
        if any(not t.strip() for t in v):
            raise ValueError("applies_to has a blank term")
        return v

    @field_validator("pages")
    @classmethod
    def _pages_positive(cls, v: list[int]) -> list[int]:
        if any(p <= 0 for p in v):
            raise ValueError("pages are printed page numbers, 1 or more")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TopicMeta:
        if self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.guideline in PAGED_GUIDELINES and not self.pages:
            raise ValueError(f"{self.guideline.value} is cited by page: list the printed pages")
        if self.guideline in UNPAGED_GUIDELINES and self.pages:
            raise ValueError(f"{self.guideline.value} is cited by guideline and topic: pages must be empty")
        ids = [c.id for c in self.criteria]
        if len(ids) != len(set(ids)):
            raise ValueError("criterion ids repeat within the topic")
        return self

    def in_force(self, on: dt.date) -> bool:
        """True when this topic's edition applies to a request made on `on`."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)
