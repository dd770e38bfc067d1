"""The argument of a rationale, built from the criteria results before any prose is written.

Each point pairs what the guideline requires (with its page or section) with what the case shows (a
quantity against a limit, a dated quote, or the records' silence). The LLM turns the argument into letter
prose; the fallback template states the same points as plain sentences, so a draft is never weaker than
its argument. The checks in `drafter.output_checks` hold the prose to the argument's key terms.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from drafter.corpus.chunks import pages_label as corpus_pages_label
from drafter.corpus.schema import TopicMeta
from drafter.criteria import Assessment, CriterionResult, Decision, Status, and_list
from drafter.dates import us_date
from drafter.facts import Evidence, Fact
from drafter.grounding import pages_named, word_stems
from drafter.retrieval import Hit

PointKind = Literal["context", "limit", "criterion", "recommendation", "definition", "associated"]
NOT_DOCUMENTED = "The records provided for review do not document"  # how letters state the burden of documentation
NECESSITY = {
    "upheld": "is not medically necessary",
    "overturned": "is medically necessary",
    "needs_review": "requires the reviewer's determination",
}


@lru_cache(maxsize=1)
def argument_data() -> dict:
    return yaml.safe_load(resources.files("drafter.data").joinpath("argument.yaml").read_text(encoding="utf-8"))


def plural_name(source: str) -> bool:
    """A guideline's name is plural when it ends in "Guidelines" before its edition and year ("ACOEM Practice
    Guidelines, 2nd Edition (2004)"); "The MTUS ... Guideline (2017)" is singular."""
    return re.sub(r"(?:,\s*\w+ Edition)?\s*(?:\([^)]*\))?\s*$", "", source).endswith("Guidelines")


def agreeing_verb(source: str, verb: str) -> str:
    """The verb as a guideline's name takes it: "The MTUS Chronic Pain Medical Treatment Guidelines (2009) state",
    "The MTUS ... Guideline (2017) states"."""
    return verb[:-1] if plural_name(source) and verb.endswith("s") else verb


class Point(BaseModel):
    """One step of the argument: the guideline's requirement and the case's side of it."""

    kind: PointKind
    status: Status
    requirement: str = Field(description="what the guideline requires, as a clause ('the course is at most 10 visits')")
    source: str = Field(description="guideline and edition, e.g. 'MTUS Chronic Pain Medical Treatment Guidelines (2009)'")
    where: str = Field(default="", description="'page 99', 'MTUS 9792.20(f)' or ''")
    chunk_id: str | None = None
    case: str = Field(default="", description="what the case shows, as a sentence")
    evidence: Evidence | None = None
    fact: str = ""
    numbers: list[str] = Field(default_factory=list, description="quantities the prose must keep")
    keys: list[str] = Field(default_factory=list, description="words the prose must keep (an excluded ingredient)")

    named_in_case: bool = Field(default=False, description="the case side names the source itself ('a lack of functional "
                                "improvement as defined in MTUS 9792.20(f)'), so no sentence states the requirement")
    repeat_source: bool = Field(default=False, description="an earlier point named the same guideline")
    full_case: str = Field(default="", description="the case side as first written, before a letter's shortening "
                           "('in the same record'), for prose that did not carry the earlier point")

    @property
    def guideline_sentence(self) -> str:
        return self._guideline_sentence(short=self.repeat_source)

    @property
    def full_guideline_sentence(self) -> str:
        return self._guideline_sentence(short=False)

    def _guideline_sentence(self, short: bool) -> str:
        if self.kind == "associated" or self.named_in_case:  # the link to another request, or a reading that cites
            return ""                                              # the definition as letters do
        if self.where.startswith("MTUS"):
            return f"{self.where} defines {self.fact.replace('_', ' ')} as follows: {self.requirement}."
        if self.where.startswith("page"):
            # letters name the page first: "Page 99 of the MTUS Chronic Pain Medical Treatment Guidelines states",
            # "Pages 98-99 of the same guidelines state"
            verb = "state" if self.where.startswith("pages") else "states"
            name = f"the same {'guidelines' if plural_name(self.source) else 'guideline'}" if short else f"the {self.source}"
            where = re.sub(r", (\d+(?:-\d+)?)$", r" and \1", self.where)  # "Pages 29 and 65", as a letter lists two
            return f"{where[0].upper()}{where[1:]} of {name} {verb} that {self.requirement}."
        if short:
            also = "same guidelines also state" if plural_name(self.source) else "guideline also states"
            return f"The {also} that {self.requirement}."
        where = f", {self.where}," if self.where else ""
        return f"The {self.source}{where} {agreeing_verb(self.source, 'states')} that {self.requirement}."


class Argument(BaseModel):
    item: str
    decision: Decision
    points: list[Point] = Field(default_factory=list)
    conclusion: str
    also_cites: list[str] = Field(default_factory=list, description="passages of pages a point names in passing "
                                  "('first line of treatment (p. 22)'), cited with the points' own")

    @property
    def chunk_ids(self) -> list[str]:
        return list(dict.fromkeys([p.chunk_id for p in self.points if p.chunk_id] + self.also_cites))

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(p.source for p in self.points if p.source))

    def key_terms(self) -> list[str]:
        """What a rationale must mention to carry the argument: its quantities and page/section labels."""
        terms = [n for p in self.points for n in p.numbers]
        terms += [p.where for p in self.points if p.where]
        return list(dict.fromkeys(terms))

    def bullets(self) -> list[str]:
        """The argument as plain sentences, in order (the prompt's findings and the fallback's body)."""
        out: list[str] = []
        for p in self.points:
            if p.guideline_sentence:
                out.append(p.guideline_sentence)
            if p.case:
                out.append(p.case)
        return out


def conclusion(item: str, decision: str) -> str:
    return f"Therefore, the request for {item} {NECESSITY[decision]}."


def _upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def _lower_first(s: str) -> str:
    s = s.strip().rstrip(".")
    pronoun = s[0] == "I" and not s[1:2].isalpha()  # "I" alone stays; "Imaging" is lowered like any word
    return s[0].lower() + s[1:] if len(s) > 1 and (s[1].islower() or s[1] == " ") and not pronoun else s


def _numbers(text: str) -> list[str]:
    return [n for n in re.findall(r"\d+(?:\.\d+)?", text)]


_DOC_KINDS = [
    (r"rfa|request.for.auth", "request for authorization"),
    (r"\bur\b|utilization|ur[-_ ]", "utilization review letter"),
    (r"\bpt\b|pt[-_ ]|therap|physio", "therapy note"),
    (r"pr-?2|progress|pr[-_ ]", "progress report"),
    (r"qme|ame|ime", "medical-legal report"),
    (r"op[-_ ]|operative", "operative report"),
    (r"mri|x-?ray|emg|ncs|imaging|radiolog", "diagnostic report"),
]


def describe_document(ev: Evidence) -> str:
    """'the progress report dated 03/05/2014' from an evidence span's document name and date."""
    name = ev.document.lower()
    kind = next((label for pat, label in _DOC_KINDS if re.search(pat, name)), "medical record")
    if ev.date:
        return f"the {kind} dated {us_date(ev.date)}"
    return f"the {kind} ({ev.document})"


def _quote(ev: Evidence, limit: int = 180) -> str:
    q = " ".join(ev.quote.split()).strip()
    if len(q) > limit:
        q = q[:limit].rsplit(" ", 1)[0] + " [...]"
    return q.rstrip(" .;:").replace('"', "'")


def _requirement(r: CriterionResult) -> str:
    label = r.criterion.split(":", 1)[1] if ":" in r.criterion and r.criterion_id.startswith("limit") else r.criterion
    label = _lower_first(label)
    if r.criterion_id == "limit-visits":
        return f"the course of treatment is {label}"
    if r.criterion_id == "limit-mme":
        return "the total daily opioid dose should not exceed " + label.split("at most", 1)[-1].strip()
    if r.criterion_id == "limit-weeks":
        return "use is " + re.sub(r"^use\s+", "", label)  # "use is limited to 12 weeks (...)"
    if r.criterion_id in ("limit-hours", "limit-days"):
        return "no more than " + re.sub(r"^at most\s+", "", label) + " are supported"
    if r.criterion_id == "recommendation":
        return "this treatment is not recommended"
    if r.criterion_id.startswith("excluded-"):  # the guideline's own words on the ingredient, without the request
        said = r.note.strip().rstrip(".")
        return _lower_first(said) if said else f"a product containing {r.value} is not recommended"
    # a criterion written without a subject ("Not recommended for non-neuropathic pain") reads after "states that"
    # only with one
    if re.match(r"(?:not\s+)?(?:recommended|indicated|supported|suggested|advised)\b", label):
        return f"the treatment is {label}"
    return label


def _case_side(r: CriterionResult, data: dict, facts: dict[str, Fact] | None = None) -> str:
    if r.criterion_id.startswith("limit") and r.note and ":" in r.criterion:
        label = r.criterion.split(":", 1)[1].strip().rstrip(".")
        note = r.note.replace(label, "that course").replace("at most that course", "that course").replace("the course: that course", "that course")
        note, _, why = note.partition("; ")  # "...; the diagnosis is nonspecific, so the course for ... applies"
        return " ".join(x[0].upper() + x[1:] + "." for x in (note, why) if x)
    if r.criterion_id.startswith("excluded-") and r.requested:
        if r.label_ingredients:
            return f"The product requested, {r.requested}, lists {and_list(r.label_ingredients)} among its ingredients."
        return f"The product requested, {r.requested}, contains {r.value}."
    if r.criterion_id.startswith("limit") or r.criterion_id == "recommendation" or r.criterion_id.startswith("excluded-"):
        return (r.note[0].upper() + r.note[1:] + ".") if r.note else ""
    ev = r.evidence
    if r.status == "not_met" and r.basis == "absent_documentation":
        what = data["missing"].get(r.fact)
        return f"{NOT_DOCUMENTED} {what}." if what else f"{NOT_DOCUMENTED} this."
    if r.status == "not_met" and ev is not None:
        # "the records document that surgery is being considered" only where the fact was found present, not where
        # a criterion that wants it found it absent ("No surgical referral was pending")
        found = (facts or {}).get(r.fact)
        against = data["found_against"].get(r.fact) if found is not None and found.status == "present" else None
        if against:
            return f"The records document {against}: {describe_document(ev)} records \"{_quote(ev)}\"."
        return f"This is not documented: {describe_document(ev)} records \"{_quote(ev)}\"."
    if r.status == "met" and ev is not None:
        return f"This is documented: {describe_document(ev)} records \"{_quote(ev)}\"."
    if r.status == "met":
        return "The records raise no issue on this point." if r.basis == "absent_documentation" else ""
    return (r.note[0].upper() + r.note[1:] + ".") if r.note else "The records do not settle this point."


def source_label(guideline: str, edition: str) -> str:
    """'MTUS Chronic Pain Medical Treatment Guidelines (2009)'; a name that already holds its edition is kept as is."""
    return guideline if edition and edition in guideline else f"{guideline} ({edition})"


def _source(r: CriterionResult, topics: dict[str, TopicMeta]) -> str:
    if r.citation:
        return source_label(r.citation.guideline, r.citation.edition)
    meta = topics.get(r.topic_id)
    return source_label(meta.guideline.value, meta.edition) if meta else "guideline"


def pages_label(pages: list[int]) -> str:
    """'page 99', 'pages 98-99', 'pages 29, 65', 'pages 41-42, 63-66', or '' for a guideline cited without pages.
    Only consecutive pages make a range: a span over pages the passage does not state would cite text it lacks."""
    nums = set(pages)
    if not nums:
        return ""
    return f"{'page' if len(nums) == 1 else 'pages'} {corpus_pages_label(sorted(nums))}"


def _run(page: int, pages: set[int]) -> list[int]:
    """The unbroken run of `pages` that holds `page`."""
    run = [page]
    while run[0] - 1 in pages:
        run.insert(0, run[0] - 1)
    while run[-1] + 1 in pages:
        run.append(run[-1] + 1)
    return run


def _where(r: CriterionResult, span_max: int, topic_pages: list[int] | None = None) -> str:
    """The criterion's page, or the short page run of the section it sits in (letters cite "pages 68-69" for a
    passage that spans them, and "pages 30-34" for a criterion of a topic printed on those pages); a passage
    without pages is cited by its own label."""
    passage = set(r.citation.pages) if r.citation else set()
    if r.page:
        for pages in (passage, set(topic_pages or ())):
            run = _run(r.page, pages)
            if r.page in pages and len(run) <= span_max and len(run) > 1:
                return pages_label(run)
        return f"page {r.page}"
    return pages_label(sorted(passage))


def _deciding(a: Assessment) -> list[CriterionResult]:
    """The criteria the decision rests on, in the order a letter argues them: quantities, then text, then silence."""
    want: str = {"upheld": "not_met", "overturned": "met"}.get(a.decision, "unknown")
    picked = [r for r in a.criteria if r.decisive and r.status == want]
    if a.decision == "upheld":
        # an alternative (any_of group) decides only when every member is not met
        groups: dict[str, list[CriterionResult]] = {}
        for r in a.criteria:
            if r.group:
                groups.setdefault(r.group, []).append(r)
        picked = [r for r in picked if not r.group or all(m.status == "not_met" for m in groups[r.group])]
    order = {"limit": 0, "recommendation": 0, "excluded": 0}
    picked.sort(key=lambda r: (order.get(r.criterion_id.split("-")[0], 1), 0 if r.basis == "evidence" else 1))
    return picked


def page_numbers(where: str) -> set[int]:
    """The pages a 'page 99' / 'pages 98-99' / 'pages 29, 65' label names."""
    out: set[int] = set()
    for a, b in re.findall(r"(\d+)(?:-(\d+))?", where if where.startswith("page") else ""):
        out.update(range(int(a), int(b or a) + 1))
    return out


def _functional_reading(facts: dict[str, Fact], find, medications: list[str] | None = None, where: str = "MTUS 9792.20(f)") -> str:
    """The case read against 9792.20(f) (`where`) as letters read it: work status and the medications the applicant
    still depends on, after the treatment already given, imply a lack of functional improvement."""
    preds, after = [], []
    work = find("work_status")
    if work is not None and work.value == "off_work":
        preds.append("is not working")
    elif work is not None and work.value == "modified_duty":
        preds.append("remains on work restrictions")
    if medications:  # "remains on work restrictions and on naproxen"
        preds.append(("on " if preds and preds[-1].startswith("remains on") else "remains on ") + and_list(medications))
    prior = facts.get("prior_visits_completed") or facts.get("postsurgical_visits_completed")
    if prior is not None and prior.value:
        after.append(f"{float(prior.value):g} visits")
    use = facts.get("duration_of_use_weeks")
    if use is not None and use.value:
        after.append(f"about {float(use.value):g} weeks of use")
    if not preds and not after:
        return f"The records do not document functional improvement as defined in {where} from the treatment already given."
    if preds:
        said = "The applicant " + and_list(preds) + (f" after {and_list(after)}" if after else "") + "."
    else:
        said = f"The records show {and_list(after)}, with no gain in function or work status recorded."
    these = "Together these imply" if len(preds) + len(after) > 1 else "This implies"
    return f"{said} {these} a lack of functional improvement as defined in {where}" + ("." if after else " despite the treatment already given.")


def definition_topics(fact: str) -> list[dict]:
    return argument_data()["definitions"].get(fact, [])


def build_argument(a: Assessment, topics: dict[str, TopicMeta], definition_hits: list[Hit] | None = None,
                   find_fact=None, max_points: int = 3, governing: Hit | None = None, medications: list[str] | None = None) -> Argument:
    """The argument for one assessed item. `definition_hits` are retrieved passages of the definition topics
    (only these may be cited for a definition); `find_fact(name)` reads a case fact and `medications` are the drugs
    the applicant still takes, for the 9792.20(f) reading."""
    data = argument_data()
    points: list[Point] = []
    deciding = _deciding(a)[:max_points]
    for r in deciding:
        kind: PointKind = "limit" if r.criterion_id.startswith("limit") else (
            "recommendation" if r.criterion_id == "recommendation" or r.criterion_id.startswith("excluded-") else "criterion")
        # a limit point is taken up when the prose states the case's quantity (the total or the amount requested)
        numbers = [f"{float(r.value):g}"] if kind == "limit" and isinstance(r.value, (int, float)) else (_numbers(r.note) if kind == "limit" else [])
        points.append(Point(kind=kind, status=r.status, requirement=_requirement(r), source=_source(r, topics), where=_where(r, data["cite_page_runs_up_to"], topics[r.topic_id].pages if r.topic_id in topics else None),
                            chunk_id=r.citation.chunk_id if r.citation else None, case=_case_side(r, data, a.facts), evidence=r.evidence,
                            fact=r.fact, numbers=numbers, keys=[str(r.value)] if r.criterion_id.startswith("excluded-") and r.value else []))
    meta = topics.get(a.governing_topic or "")
    if not points and a.decision == "overturned" and meta is not None and governing is not None:
        # a topic that recommends the treatment without conditions: the recommendation is the argument
        points.append(Point(kind="recommendation", status="met", source=source_label(governing.guideline, governing.edition),
                            requirement=f"{meta.topic.split('(')[0].strip().lower()} is recommended, with no condition the records must meet",
                            where=pages_label(governing.pages),
                            chunk_id=governing.chunk_id, fact="", case=f"The request for {a.item} falls within that recommendation."))
    if points and meta is not None and governing is not None and governing.topic_id == meta.id:
        # a letter opens with what the governing entry says of the treatment, on its own pages, before the
        # requirement that decides; the deciding criterion often sits on another page of the same topic
        cited = {n for p in points for n in page_numbers(p.where)}
        opener = next((c for c in meta.criteria if c.page in governing.pages and c.expect != "absent" and c.governs(a.item)), None)
        said = {p.requirement[:40].lower() for p in points}
        if opener is not None and not cited & set(governing.pages) and _lower_first(opener.text)[:40].lower() not in said:
            points.insert(0, Point(kind="context", status="met", requirement=_lower_first(opener.text.rstrip(".")),
                                   source=source_label(governing.guideline, governing.edition), where=pages_label(governing.pages),
                                   chunk_id=governing.chunk_id, fact=""))
    if a.decision == "upheld" and any(r.fact == "functional_improvement" for r in deciding):
        by_topic = {h.topic_id: h for h in (definition_hits or [])}
        for spec in definition_topics("functional_improvement"):
            hit = by_topic.get(spec["topic_id"])
            meta = topics.get(spec["topic_id"])
            if hit is None or meta is None:
                continue
            wanted = spec.get("criteria")
            texts = [c.text for c in meta.criteria if not wanted or c.id in wanted]
            requirement = "; ".join(_lower_first(t) for t in dict.fromkeys(texts))
            reading = bool(spec.get("reading"))
            case = _functional_reading(a.facts, find_fact or (lambda name: a.facts.get(name)), medications, spec["cite_as"]) if reading else ""
            points.append(Point(kind="definition", status="not_met", requirement=requirement, source=source_label(hit.guideline, hit.edition),
                                where=spec["cite_as"], chunk_id=hit.chunk_id, case=case, fact="functional_improvement",
                                numbers=[], named_in_case=reading))
    said = _as_a_letter_says_it(points)
    # a requirement two topics state (behavioral interventions, page 23, and psychological treatment, page 101) is
    # said once; the other topic's passage is still cited, as letters cite both
    kept = {id(p) for p in said}
    also = [p.chunk_id for p in points if id(p) not in kept and p.chunk_id and p.chunk_id not in {q.chunk_id for q in said}]
    return Argument(item=a.item, decision=a.decision, points=said, conclusion=conclusion(a.item, a.decision), also_cites=list(dict.fromkeys(also)))


def cite_named_pages(argument: Argument, passages: list[Hit], topic_ids: list[str]) -> list[Hit]:
    """A page the argument names must be a page of a passage it cites. For each page its sentences name that no
    cited passage states, the passage of the item's topics (as retrieval returned them) that states it is added to
    `argument.also_cites`; the passages added are returned. A page no such passage states stays uncited, and
    grounding reports it."""
    by_id = {h.chunk_id: h for h in passages}
    stated = {n for cid in argument.chunk_ids if cid in by_id for n in by_id[cid].pages}
    added: list[Hit] = []
    for page in sorted(pages_named(" ".join(argument.bullets())) - stated):
        hit = next((h for t in topic_ids for h in passages if h.topic_id == t and page in h.pages), None)
        if hit is not None and hit.chunk_id not in argument.chunk_ids:
            argument.also_cites.append(hit.chunk_id)
            added.append(hit)
    return added


def associated_argument(item: str, what: str, served: list[tuple[str, Argument]]) -> Argument:
    """An item that serves requests this review finds not medically necessary: the first guideline point of each
    request it serves, then the link a letter states ("as the surgery is not necessary, neither is the clearance")."""
    points: list[Point] = []
    for _, arg in served:
        first = next((p for p in arg.points if p.kind not in ("associated", "context")), None)
        if first is not None:
            points.append(first.model_copy(update={"repeat_source": False}))
    names = " and ".join(i for i, _ in served)
    those = "those requests are" if len(served) > 1 else "that request is"
    points.append(Point(kind="associated", status="not_met", requirement=f"{what} follows the request it serves", source="",
                        case=f"The request for {item} accompanies the request for {names}. Since {those} not medically necessary, "
                             f"as set out above, the associated {what} is not medically necessary either."))
    return Argument(item=item, decision="upheld", points=points, conclusion=conclusion(item, "upheld"))


def _word_overlap(a: str, b: str) -> float:
    """Shared words of two requirements over all their words (6-letter stems, so "returned" meets "return")."""
    x, y = set(word_stems(a, 6)), set(word_stems(b, 6))
    return len(x & y) / len(x | y) if x | y else 0.0


_QUOTED = re.compile(r"This is not documented: (?P<doc>the .+? records) (?P<quote>\".+\")\.")


def _joined_case(first: str, second: str) -> str:
    """Two case sides of one requirement as one: 'the note of 08/21/2014 records "A", and "B"'."""
    if not second or second == first:
        return first
    a, b = _QUOTED.fullmatch(first), _QUOTED.fullmatch(second)
    if a and b:
        other = f'and {b["quote"]}' if a["doc"] == b["doc"] else f'and {b["doc"]} {b["quote"]}'
        return f"This is not documented: {a['doc']} {a['quote']}, {other}."
    return f"{first} {second}".strip()


def _as_a_letter_says_it(points: list[Point]) -> list[Point]:
    """Say each requirement once, name a guideline in full once, quote a record once, and vary the wording
    of repeated silence: a letter does not say "The records provided for review do not document" three times."""
    # two topics may state the same requirement (general and surgery-specific postsurgical periods)
    # and two topics may hold the same criterion in other words (the opioid criteria and a drug's own topic)
    kept: list[Point] = []
    overlap = argument_data()["same_requirement_overlap"]
    for p in points:
        same_words = any(q.requirement[:40].lower() == p.requirement[:40].lower() for q in kept)
        same_fact = p.kind == "criterion" and any(q.kind == "criterion" and q.fact == p.fact and q.status == p.status for q in kept)
        # the hydrocodone topic's "continued prescribing requires return to work or improved function and pain" is
        # the opioid criteria's page-80 rule in other words: said once, with the case side of both
        twin = next((q for q in kept if p.kind == q.kind == "criterion" and page_numbers(q.where) & page_numbers(p.where) and q.status == p.status
                     and _word_overlap(q.requirement, p.requirement) >= overlap), None)
        if twin is not None and not (same_words or same_fact):
            twin.case = _joined_case(twin.case, p.case)
        elif not (same_words or same_fact):
            kept.append(p)
    points = kept
    seen: set[str] = set()
    quoted: set[tuple[str, int]] = set()
    said: set[str] = set()
    again = iter(["As noted, the records do not document it.", "The records are silent on this as well.",
                  "Nothing in the records documents it either."])
    silent = 0
    products: set[str] = set()
    for p in points:
        p.full_case = p.case
        product = re.fullmatch(r"The product requested, (.+), contains (.+)\.", p.case)
        if product:  # a compound with several excluded ingredients is named once
            p.case = f"It also contains {product.group(2)}." if product.group(1) in products else p.case
            products.add(product.group(1))
        if p.case.startswith(NOT_DOCUMENTED):
            silent += 1
            what = p.case[len(NOT_DOCUMENTED):].strip()
            if p.case in said:
                p.case = next(again, "")
            elif silent > 1:
                p.case = "Nor do the records document it." if what == "this." else f"Nor do the records document {what}"
        said.add(p.case)
        p.repeat_source = p.source in seen
        seen.add(p.source)
        if p.evidence is not None and p.case.startswith("This is "):
            key = (p.evidence.document, p.evidence.start)
            if key in quoted:
                p.case = p.case.split(":", 1)[0] + " in the same record."
            quoted.add(key)
    return points
