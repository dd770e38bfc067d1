"""The shapes of the fact layer: rule files (data a reviewer can read) and the facts found with them.

A rule file (`drafter/facts/rules/<fact>.yaml`) says, for one fact of the closed vocabulary
(`drafter.corpus.schema.FACTS`): the phrases that document it (`present`), the phrases that document that it
does not hold (`absent`), the sections where a mention counts, how a value is read, and examples that the
unit tests run. Code only runs these rules.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Status = Literal["present", "absent", "unknown"]
Kind = Literal["polar", "number", "date", "category", "derived"]


class Pattern(BaseModel):
    """One phrase rule: a case-insensitive regular expression over a sentence of the records."""

    model_config = ConfigDict(extra="forbid")

    regex: str
    value: str | None = Field(default=None, description="for category facts: the value this pattern reads")
    note: str = ""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v, re.I)
        except re.error as exc:
            raise ValueError(f"bad regular expression {v!r}: {exc}") from exc
        return v


def _patterns(v: Any) -> Any:
    """Rule files may list plain strings; each becomes a Pattern."""
    if isinstance(v, list):
        return [{"regex": x} if isinstance(x, str) else x for x in v]
    return v


class Examples(BaseModel):
    """Sentences with the reading the rules must give (unit tests run every one)."""

    model_config = ConfigDict(extra="forbid")

    present: list[str | dict[str, str]] = Field(default_factory=list, description="a sentence, or {text, item}")
    absent: list[str | dict[str, str]] = Field(default_factory=list)
    unknown: list[str | dict[str, str]] = Field(default_factory=list)
    values: list[dict[str, Any]] = Field(default_factory=list, description="[{text, value, item?}] for value readers")


class FactRule(BaseModel):
    """Everything the fact layer knows about one fact."""

    model_config = ConfigDict(extra="forbid")

    fact: str
    description: str = Field(min_length=10)
    kind: Kind = "polar"
    scope: Literal["case", "item"] = Field(
        default="case",
        description="item: only statements about the requested treatment count (sentences naming another treatment are skipped)",
    )
    below_norm: bool = Field(
        default=False, description="also present: a measured range of motion short of normal for its region "
        "(drafter/facts/lexicon/rom_norms.yaml)",
    )
    region_scoped: bool = Field(
        default=False, description="a finding about a body region unrelated to the item's regions does not count "
        "(\"Ankle: full ROM\" says nothing of a lumbar request; see drafter/data/regions.yaml)",
    )
    sections: list[str] = Field(default_factory=list, description="if set, mentions count only in these sections (or outside any section)")
    skip_sections: list[str] = Field(default_factory=list, description="mentions in these sections never count")
    prefer: Literal["present", "absent"] = Field(
        default="present", description="which reading wins when the same (latest) document says both",
    )
    present: list[Pattern] = Field(default_factory=list)
    absent: list[Pattern] = Field(default_factory=list)
    not_in_clause: list[Pattern] = Field(
        default_factory=list, description="a present phrase whose clause also matches one of these does not count "
        "(\"12 visits of pre-operative therapy\" are not postsurgical visits)")
    value: str | None = Field(default=None, description="name of the value reader in drafter.facts.values")
    value_patterns: list[Pattern] = Field(default_factory=list, description="patterns with named groups the value reader uses")
    meaningful_min: float | None = Field(
        default=None, description="a value below this is not a clinically meaningful amount and is not documented as the "
        "fact (e.g. injection relief under 30%)")
    disagree_by: float = Field(default=2.0, ge=0, description="numbers from two documents that differ by less than this agree")
    continuation_after_weeks: float | None = Field(
        default=None, description="treatment_phase: a drug in use at least this long makes the request a continuation")
    value_order: Literal["latest", "pattern"] = Field(
        default="latest", description="latest: the latest sentence stating a value wins; pattern: the first value pattern that "
        "reads a value in any sentence wins (patterns listed strongest first, e.g. 'completed 6 of 12' before 'PT x 12')")
    skip_request_lines: bool = Field(
        default=False, description="ignore the request's own line (\"1. Acupuncture 2x3 (6 sessions) ...\"): it names the "
        "treatment and a count, but says nothing about what was already given")
    negated_reads: Literal["absent", "unknown"] = Field(
        default="absent", description="what a negated present phrase means: absent, or unknown when denying one form "
        "does not deny the fact (\"negative for CRPS\" does not rule out other neuropathic pain)")
    within_a_date: Literal["last", "prefer"] = Field(
        default="last", description="which reading governs among sentences of one date: the last one (a note read top to "
        "bottom), or the rule's `prefer` (an exam that lists positive findings beside a pertinent negative: \"Tinel's and "
        "Phalen's positive ... no thenar atrophy\")")
    present_if_age_over: float | None = Field(
        default=None, description="the fact is present when the patient's age (the age fact) is over this (GI risk: over 65), "
        "whatever other sentences deny (\"no ulcer hx\" does not make a 67-year-old younger)")
    timeless: bool = Field(
        default=False, description="the fact does not change with time (age): a history cue or a history heading "
        "(\"HISTORY OF INJURY: a 47-year-old ...\") does not discount it")
    silence: str = Field(default="", description="what the records' silence means for this fact (shown to reviewers)")
    examples: Examples = Field(default_factory=Examples)

    _pre_present = field_validator("present", mode="before")(classmethod(lambda cls, v: _patterns(v)))
    _pre_absent = field_validator("absent", mode="before")(classmethod(lambda cls, v: _patterns(v)))
    _pre_not_in_clause = field_validator("not_in_clause", mode="before")(classmethod(lambda cls, v: _patterns(v)))
    _pre_values = field_validator("value_patterns", mode="before")(classmethod(lambda cls, v: _patterns(v)))

    @model_validator(mode="after")
    def _has_rules(self) -> FactRule:
        if self.kind == "polar" and not self.present:
            raise ValueError(f"{self.fact}: a polar fact needs present patterns")
        if self.kind in ("number", "date", "category") and not self.value:
            raise ValueError(f"{self.fact}: a {self.kind} fact needs a value reader")
        return self


class Evidence(BaseModel):
    """Where a fact was read: the document, character offsets in its text, the quote, its section and date."""

    document: str
    start: int
    end: int
    quote: str
    section: str | None = None
    date: str | None = None


class Fact(BaseModel):
    """One fact of the vocabulary for one case (and item): its status, value and the evidence it rests on."""

    name: str
    status: Status = "unknown"
    value: float | str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    conflict: bool = False
    note: str = ""

    @property
    def known(self) -> bool:
        return self.status != "unknown"

    @property
    def span(self) -> Evidence | None:
        """The evidence the status rests on (the first one)."""
        return self.evidence[0] if self.evidence else None
