"""Criteria: the governing topics' structured criteria and limits, checked against the case facts.

Deterministic and auditable: every line says which criterion, met / not_met / unknown, the evidence
span it rests on and the guideline passage it comes from. The proposed decision follows how IMR
reviewers decide: the requesting physician carries the burden of documentation (Labor Code 4604.5
presumes the MTUS correct), so a required criterion the records do not document counts against the
request ("the records do not document ..."), unless the topic marks that criterion's silence as neutral.

1. no topic in force names the item            -> needs_review (the reviewer picks the guideline; ODG territory)
2. the governing topic does not recommend it   -> upheld                  (basis: evidence)
3. any criterion or limit not met on the text   -> upheld                  (basis: evidence)
4. any required criterion not documented        -> upheld                  (basis: absent_documentation)
5. conflicting evidence, an unresolved quantity,
   or a criterion whose silence is neutral      -> needs_review (what is missing is listed)
6. every criterion and limit met                -> overturned              (basis: evidence)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, Field

from drafter.corpus.schema import Criterion, Recommendation, TopicMeta
from drafter.facts import Fact, FactFinder, Span
from drafter.items import ParsedItem, product_ingredients
from drafter.retrieval import Hit

Status = Literal["met", "not_met", "unknown"]
Decision = Literal["upheld", "overturned", "needs_review"]
Basis = Literal["evidence", "absent_documentation", "associated", "none"]
Confidence = Literal["high", "medium", "low"]


class Citation(BaseModel):
    chunk_id: str
    guideline: str
    edition: str
    topic: str
    pages: list[int] = Field(default_factory=list)

    @classmethod
    def of(cls, hit: Hit) -> Citation:
        return cls(chunk_id=hit.chunk_id, guideline=hit.guideline, edition=hit.edition, topic=hit.topic, pages=hit.pages)


class CriterionResult(BaseModel):
    criterion: str
    criterion_id: str
    topic_id: str
    fact: str
    status: Status
    value: float | str | None = None
    evidence: Span | None = None
    citation: Citation | None = None
    page: int | None = Field(default=None, description="printed page where the guideline states this criterion or limit")
    note: str = ""
    decisive: bool = True
    group: str | None = None
    basis: Basis = Field(default="evidence", description="evidence: the status rests on record text; "
                         "absent_documentation: on the records' silence")
    requested: str | None = Field(default=None, description="an excluded ingredient's criterion: the product as requested")
    label_ingredients: list[str] = Field(default_factory=list, description="a branded product's ingredients as its label "
                                         "lists them (drafter/data/compound_products.yaml), when the exclusion rests on them")

    def finding(self) -> str:
        """One plain sentence for the rationale prompt and the fallback template."""
        what = self.note or self.criterion.rstrip(".")
        if self.requested:
            label = f"; the product's label lists {and_list(self.label_ingredients)}" if self.label_ingredients else ""
            what = f"{what} (requested: {self.requested}{label})"
        if self.status == "met":
            return f"Met: {what}."
        if self.status == "not_met":
            return f"Not met: {what}."
        return f"Not documented: {what}."


class Assessment(BaseModel):
    item: str
    parsed: ParsedItem
    phase: Literal["initial", "continuation"]
    decision: Decision
    reasons: list[str]
    governing_topic: str | None = None
    topic_ids: list[str] = Field(default_factory=list)
    criteria: list[CriterionResult] = Field(default_factory=list)
    facts: dict[str, Fact] = Field(default_factory=dict)
    basis: Basis = "none"
    confidence: Confidence = "low"


POSTSURGICAL = "MTUS Postsurgical Treatment Guidelines"


def governing_hits(hits: list[Hit], item: ParsedItem | None = None) -> list[Hit]:
    """Hits whose topic the item names (via the topic's applies_to vocabulary), in rank order.

    Post-operative therapy is governed by the Postsurgical guidelines when one of their topics was retrieved.
    """
    named = [h for h in hits if "lexicon" in h.ranks]
    if item is not None and item.category != "unknown":
        named.sort(key=lambda h: 0 if h.category == item.category else 1)
    if item is not None and item.post_op and item.category == "rehabilitation":
        post = [h for h in hits if h.guideline == POSTSURGICAL]
        if post:
            return post + [h for h in named if h not in post]
    return named


_VISIT_CATEGORIES = {"rehabilitation", "psychological", "programs", "injections", "evaluation_management"}


def _phase(item: ParsedItem, ff: FactFinder) -> tuple[str, Fact | None]:
    """initial (a first course or trial) or continuation (more of a treatment already given), from the
    fact layer's treatment_phase; with the prior visits (or duration of use) the limits need."""
    phase = ff.find("treatment_phase", item)
    value = str(phase.value) if phase.value in ("initial", "continuation") else "initial"
    if item.treatment == "medication":
        return value, ff.find("duration_of_use_weeks", item)
    if item.category not in _VISIT_CATEGORIES:
        return value, None
    return value, ff.find("postsurgical_visits_completed" if item.post_op else "prior_visits_completed", item)


def _citation_for(topic_id: str, page: int | None, passages: list[Hit]) -> Citation | None:
    mine = [h for h in passages if h.topic_id == topic_id]
    if page is not None:
        for h in mine:
            if page in h.pages:
                return Citation.of(h)
    return Citation.of(mine[0]) if mine else None


# Words in case records that place a diagnosis under the conditions the Chronic Pain guidelines list.
_CONDITION_SYNONYMS = {
    "myalgia": r"myalgia|myositis|myofascial|sprain|strain|muscle spasm|trigger point",
    "neuralgia": r"neuralgia|neuritis|radiculitis|radiculopathy|radicular|sciatica|nerve root",
    "reflex sympathetic dystrophy": r"reflex sympathetic|\brsd\b|crps|complex regional",
}


_TRIAL_COURSE = re.compile(r"\b(?:initial|trial)\b", re.I)


def _diagnosis_matches(condition: str, ff: FactFinder) -> bool:
    cond = condition.lower()
    for key, pattern in _CONDITION_SYNONYMS.items():
        if key in cond:
            return re.search(pattern, ff.all_text) is not None
    words = [w for w in re.findall(r"[a-z]{5,}", cond) if w not in {"unspecified", "other", "after", "visits", "phase"}]
    return bool(words) and all(w[:6] in ff.all_text for w in words[:2])


def _check_limits(meta: TopicMeta, item: ParsedItem, ff: FactFinder, phase: str, prior: Fact | None, passages: list[Hit]) -> list[CriterionResult]:
    out: list[CriterionResult] = []
    visit_limits = [lim for lim in meta.limits if lim.unit in ("visits", "sessions", "treatments") and lim.max and not (lim.condition and "per week" in lim.condition)]
    course_note = ""
    if visit_limits and item.visits:
        matching = [lim for lim in visit_limits if lim.condition and _diagnosis_matches(lim.condition, ff)]
        conditional = [lim for lim in visit_limits if lim.condition]
        diagnostic = [lim for lim in conditional if any(k in str(lim.condition).lower() for k in _CONDITION_SYNONYMS)]
        default = [lim for lim in visit_limits if lim.default_course]
        if diagnostic and not matching and len(conditional) > 1 and default:
            lim = default[0]
            course_note = f"; the diagnosis is nonspecific, so the course for {lim.condition} applies"
        elif diagnostic and not matching and len(conditional) > 1:
            out.append(CriterionResult(criterion="The requested visits fit the course for the diagnosis.", criterion_id="limit-visits", topic_id=meta.id,
                                       fact="prior_visits_completed", status="unknown", citation=_citation_for(meta.id, visit_limits[0].page, passages), page=visit_limits[0].page,
                                       note="the diagnosis matches none of the conditions the guideline gives visit courses for: "
                                            + "; ".join(str(x.condition) for x in conditional)))
            visit_limits = []
        else:
            pool = matching or visit_limits
            if phase == "initial":
                # a first request is measured against the trial the guideline gives (its condition says so:
                # "initial therapeutic trial"), not against the total course that trial may lead to
                trials = [x for x in visit_limits if x.condition and _TRIAL_COURSE.search(x.condition)]
                pool = [x for x in pool if x in trials] or pool
            lim = max(pool, key=lambda x: x.max or 0)
    if visit_limits and item.visits:
        cite = _citation_for(meta.id, lim.page, passages)
        label = f"at most {lim.max:g} {lim.unit}" + (f" over {lim.over_weeks:g} weeks" if lim.over_weeks else "") + (f" for {lim.condition}" if lim.condition else "")
        known_prior = prior is not None and prior.value is not None and prior.status in ("present", "absent")
        if phase == "continuation" and not known_prior:
            if item.visits > (lim.max or 0):
                out.append(CriterionResult(criterion=f"Requested visits within the course: {label}.", criterion_id="limit-visits", topic_id=meta.id,
                                           fact="prior_visits_completed", status="not_met", value=item.visits, citation=cite, page=lim.page,
                                           evidence=prior.span if prior else None,
                                           note=f"the {item.visits} visits requested, in and of themselves, exceed the course: {label}{course_note}"))
            else:
                out.append(CriterionResult(criterion=f"Total visits within the course: {label}.", criterion_id="limit-visits", topic_id=meta.id,
                                           fact="prior_visits_completed", status="unknown", evidence=prior.span if prior else None, citation=cite, page=lim.page,
                                           note=(f"{prior.note}, so the total against {label} cannot be checked" if prior and prior.note
                                                 else f"the number of prior visits is not documented, so the total against {label} cannot be checked")
                                                + course_note))
        elif phase == "continuation":
            done = float(prior.value or 0)  # type: ignore[union-attr]
            total = done + item.visits
            ok = total <= (lim.max or 0)
            out.append(CriterionResult(criterion=f"Total visits within the course: {label}.", criterion_id="limit-visits", topic_id=meta.id,
                                       fact="prior_visits_completed", status="met" if ok else "not_met", value=total, evidence=prior.span, citation=cite, page=lim.page,  # type: ignore[union-attr]
                                       note=f"{done:g} visits completed plus {item.visits} requested make {total:g}, {'within' if ok else 'beyond'} {label}{course_note}"))
        else:
            ok = item.visits <= (lim.max or 0)
            out.append(CriterionResult(criterion=f"Requested visits within the course: {label}.", criterion_id="limit-visits", topic_id=meta.id,
                                       fact="prior_visits_completed", status="met" if ok else "not_met", value=item.visits, citation=cite, page=lim.page,
                                       note=f"{item.visits} visits are requested, {'within' if ok else 'beyond'} {label}{course_note}"))
    for lim in meta.limits:
        cite = _citation_for(meta.id, lim.page, passages)
        if lim.unit == "mme_per_day" and lim.max:
            f = ff.find("daily_mme", item)
            if f.status == "present" and f.value is not None:
                ok = float(f.value) <= lim.max
                out.append(CriterionResult(criterion=f"Daily dose at most {lim.max:g} mg oral morphine equivalents.", criterion_id="limit-mme", topic_id=meta.id,
                                           fact="daily_mme", status="met" if ok else "not_met", value=f.value, evidence=f.span, citation=cite, page=lim.page,
                                           note=f"the records document {f.value:g} mg MED a day, {'within' if ok else 'above'} the {lim.max:g} mg ceiling"))
        elif lim.unit == "weeks" and lim.max and item.treatment == "medication":
            f = ff.find("duration_of_use_weeks", item)
            if f.status == "present" and f.value is not None:
                ok = float(f.value) <= lim.max
                out.append(CriterionResult(criterion=f"Use limited to {lim.max:g} weeks" + (f" ({lim.condition})" if lim.condition else "") + ".",
                                           criterion_id="limit-weeks", topic_id=meta.id, fact="duration_of_use_weeks", status="met" if ok else "not_met",
                                           value=f.value, evidence=f.span, citation=cite, page=lim.page,
                                           note=f"the medication has been in use for about {f.value:g} weeks, {'within' if ok else 'beyond'} the {lim.max:g}-week limit"))
        elif lim.unit == "weeks" and lim.max and lim.hours_per_week and item.total_hours and phase == "initial":
            weeks = item.total_hours / lim.hours_per_week
            ok = weeks <= lim.max
            out.append(CriterionResult(criterion=f"At most {lim.max:g} weeks" + (f" {lim.condition}" if lim.condition else "") + ".",
                                       criterion_id="limit-weeks", topic_id=meta.id, fact="hours_per_week", status="met" if ok else "not_met",
                                       value=weeks, citation=cite, page=lim.page,
                                       note=f"the {item.total_hours:g} hours requested are about {weeks:g} weeks of full-day sessions, "
                                            f"{'within' if ok else 'beyond'} the {lim.max:g} weeks the guideline allows before efficacy is shown"))
        elif lim.unit == "hours_per_week" and lim.max and item.hours_per_day:
            hours = item.hours_per_day * (item.days_per_week or 7)
            ok = hours <= lim.max
            out.append(CriterionResult(criterion=f"At most {lim.max:g} hours a week.", criterion_id="limit-hours", topic_id=meta.id, fact="hours_per_week",
                                       status="met" if ok else "not_met", value=hours, citation=cite, page=lim.page, note=f"{hours:g} hours a week are requested"))
        elif lim.unit == "days" and lim.max and item.rental_days:
            ok = item.rental_days <= lim.max
            out.append(CriterionResult(criterion=f"At most {lim.max:g} days" + (f" ({lim.condition})" if lim.condition else "") + ".", criterion_id="limit-days",
                                       topic_id=meta.id, fact="trial_completed", status="met" if ok else "not_met", value=item.rental_days, citation=cite, page=lim.page,
                                       note=f"{item.rental_days} days are requested"))
    return out


_NUMERIC_FACTS = {"prior_visits_completed", "postsurgical_visits_completed", "daily_mme", "duration_of_use_weeks",
                  "symptom_duration_weeks", "hours_per_week", "age"}


def _criterion_result(c: Criterion, meta: TopicMeta, fact: Fact, passages: list[Hit]) -> CriterionResult | None:
    if c.fact in _NUMERIC_FACTS:
        return None  # numbers are judged against the topic's limits, not as yes/no criteria
    group = f"{meta.id}:{c.any_of}" if c.any_of else None
    cite = _citation_for(meta.id, c.page, passages)
    common = dict(criterion=c.text, criterion_id=c.id, topic_id=meta.id, fact=c.fact, citation=cite, page=c.page, group=group, decisive=c.expect != "any")
    if fact.conflict:
        return CriterionResult(**common, status="unknown", value=fact.value, evidence=fact.span, note=fact.note)
    if fact.status == "unknown":
        silence = c.on_silence or ("met" if c.expect == "absent" else "not_met")
        if c.expect == "absent":
            return CriterionResult(**common, status=silence, note=fact.note if silence != "met" else "none documented", basis="absent_documentation")
        if silence == "not_met":
            return CriterionResult(**common, status="not_met", basis="absent_documentation",
                                   note=f"the records do not document it: {c.text.rstrip('.').lower()}")
        return CriterionResult(**common, status=silence, basis="absent_documentation",
                               note=(c.silence_why or "").rstrip(". ") + (f" ({fact.note})" if fact.note else ""))
    if c.expect == "absent":
        status: Status = "not_met" if fact.status == "present" else "met"
    else:
        status = "met" if fact.status == "present" else "not_met"
    return CriterionResult(**common, status=status, value=fact.value, evidence=fact.span, note=fact.note)


def decisive_statuses(results: list[CriterionResult]) -> list[tuple[Status, list[CriterionResult]]]:
    """One status per decisive criterion, alternatives (any_of groups) folded into one."""
    out: list[tuple[Status, list[CriterionResult]]] = []
    groups: dict[str, list[CriterionResult]] = {}
    for r in results:
        if not r.decisive:
            continue
        if r.group:
            groups.setdefault(r.group, []).append(r)
        else:
            out.append((r.status, [r]))
    for members in groups.values():
        st = [m.status for m in members]
        status: Status = "met" if "met" in st else ("not_met" if all(x == "not_met" for x in st) else "unknown")
        out.append((status, members))
    return out


def and_list(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def assess(item_text: str, item: ParsedItem, hits: list[Hit], topics: dict[str, TopicMeta], ff: FactFinder,
           request_date: dt.date | None, passages: list[Hit] | None = None) -> Assessment:
    """Check the governing topics' criteria and limits for one item and propose a decision.

    `passages` are all chunks retrieval returned for this item (criteria cite the one holding their page);
    by default the hits themselves.
    """
    cite_from = passages or hits
    phase, prior = _phase(item, ff)
    gov = governing_hits(hits, item)
    if not gov:
        return Assessment(item=item_text, parsed=item, phase=phase, decision="needs_review",
                          reasons=["No MTUS topic in force on the request date names this item; under 9792.21.1 the reviewer "
                                   "must look to other evidence-based guidelines (e.g. ODG) or peer-reviewed studies."],
                          topic_ids=[h.topic_id for h in hits])
    main = topics[gov[0].topic_id]
    results: list[CriterionResult] = []
    reasons: list[str] = []
    facts: dict[str, Fact] = {}
    if prior is not None:
        facts[prior.name] = prior
    raw_low = item.raw.lower()
    # a brand is judged by the ingredients its label lists ("Terocin patches" hold lidocaine and menthol)
    product = product_ingredients(item.raw)
    contents = raw_low + (" " + "; ".join(product[1]) if product else "")
    for ex in main.excludes:
        if re.search(rf"(?<![a-z]){re.escape(ex.term.lower())}(?![a-z])", contents) and not any(u.lower() in raw_low for u in ex.unless):
            label = list(product[1]) if product and ex.term.lower() in product[1] else []
            results.append(CriterionResult(criterion=f"The product contains {ex.term}, which the guideline does not recommend.", criterion_id="excluded-" + re.sub(r"\W+", "-", ex.term.lower()),
                                           topic_id=main.id, fact="compounded_ingredients", status="not_met", value=ex.term,
                                           citation=_citation_for(main.id, ex.page, cite_from), page=ex.page, note=ex.note,
                                           requested=item.raw, label_ingredients=label))
    excluded = [str(r.value) for r in results if r.criterion_id.startswith("excluded-")]  # the main topic's
    if main.recommendation is Recommendation.NOT_RECOMMENDED:
        results.append(CriterionResult(criterion=f"{main.topic}: the guideline does not recommend this treatment.", criterion_id="recommendation",
                                       topic_id=main.id, fact="", status="not_met", citation=_citation_for(main.id, None, cite_from),
                                       note=f"the guideline does not recommend {main.topic.split('(')[0].strip().lower()}"))
    for rank, h in enumerate(gov[:3]):
        meta = topics[h.topic_id]
        if meta.category.value == "definitions":
            continue
        if rank == 2 or meta.category != main.category and rank > 0:
            results.extend(_check_limits(meta, item, ff, phase, prior, cite_from))
            continue
        for c in meta.criteria:
            # a drug's indication still has to hold when it is continued; visit-based trials do not repeat
            wanted = ("all", phase) if item.treatment != "medication" else ("all", "initial", phase)
            wanted += ("first_request",) if phase == "initial" else ()
            if c.applies not in wanted or not c.governs(item.raw):
                continue
            fact = facts.get(c.fact) or ff.find(c.fact, item)
            facts[c.fact] = fact
            r = _criterion_result(c, meta, fact, cite_from)
            if r and c.follows_excludes and excluded and meta.id == main.id:
                # the compound rule follows the ingredients: one excluded ingredient and the product is not recommended
                r = r.model_copy(update={"status": "not_met", "basis": "evidence",
                                         "note": f"the product contains {and_list(excluded)}, which the guideline does not recommend"})
            if r:
                results.append(r)
        results.extend(_check_limits(meta, item, ff, phase, prior, cite_from))
    # one visit course per item: when two governing topics each give one (knee arthroplasty and meniscectomy for a
    # post-operative knee request), the better-ranked topic's course is the one the request is measured against
    # (a topic about another surgery takes its criteria with its course: they are about that surgery; two topics
    # stating one course, as CBT's pages 23 and 101-102 do, keep both)
    first_course = next((n for n, r in enumerate(results) if r.criterion_id == "limit-visits"), None)
    about_a_surgery = {r.topic_id for r in results if r.fact == "surgery_type"}
    rivals = {r.topic_id for n, r in enumerate(results) if r.criterion_id == "limit-visits" and n != first_course
              and r.topic_id != results[first_course].topic_id and r.topic_id in about_a_surgery}
    results = [r for n, r in enumerate(results) if (r.criterion_id != "limit-visits" or n == first_course) and r.topic_id not in rivals]
    folded = decisive_statuses(results)
    not_met = [ms for st, ms in folded if st == "not_met"]
    unknown = [ms for st, ms in folded if st == "unknown"]

    def say(members: list[CriterionResult]) -> str:
        if len(members) == 1:
            return members[0].finding()
        return "None of the alternatives is documented: " + "; or ".join(m.criterion.rstrip(".") for m in members) + "."

    def on_text(members: list[CriterionResult]) -> bool:
        return any(m.basis == "evidence" for m in members)

    basis: Basis = "none"
    confidence: Confidence = "low"
    if not_met:
        decision: Decision = "upheld"
        not_met.sort(key=lambda ms: 0 if on_text(ms) else 1)
        reasons = [say(ms) for ms in not_met]
        basis = "evidence" if any(on_text(ms) for ms in not_met) else "absent_documentation"
        confidence = "high" if basis == "evidence" else "medium"
    elif not folded and main.recommendation is Recommendation.RECOMMENDED:
        decision = "overturned"
        basis, confidence = "evidence", "medium"
        reasons = [f"The guideline recommends {main.topic.split('(')[0].strip().lower()} without conditions that the records would have to meet."]
    elif unknown or not folded:
        decision = "needs_review"
        reasons = [say(ms) for ms in unknown] or ["The governing topic has no checkable criteria; the reviewer must decide."]
    else:
        decision = "overturned"
        basis = "evidence"
        confidence = "high" if all(r.basis == "evidence" for r in results if r.decisive) else "medium"
        reasons = [r.finding() for r in results if r.decisive and r.status == "met"]
    return Assessment(item=item_text, parsed=item, phase=phase, decision=decision, reasons=reasons, governing_topic=main.id,
                      topic_ids=[h.topic_id for h in gov], criteria=results, facts=facts, basis=basis, confidence=confidence)
