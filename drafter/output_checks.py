"""Checks on a model's rationale, each a value and a reason: the failures grounding alone does not see.

- prompt_echo: the prompt's instructions or a skeleton handed back ("Sentence 1", "The guideline ...").
- ellipsis: the model's own "..." (a stub, or a sentence it did not finish).
- fragment: a sentence starting in lower case or ending on a comma, "or", "and" (copied list pieces), and broken
  quotation marks (a stray quote after a sentence's end, or one never closed).
- repetition: a sentence said twice, or a phrase looping.
- too_short: fewer words than a rationale needs.
- missing_findings: the prose names too few of the argument's deciding points (their numbers, pages, facts).
- stance: words that argue for the other decision ("is medically necessary" in an upheld rationale).
- edition: a guideline the cited passages are not from, or a cited passage not in force on the request date.
- attribution: a sentence naming one point's page or section ("MTUS 9792.20(f)") for what another point's page
  states (the 4 A's of page 78 said to be 9792.20(f)'s definition).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel

from drafter.argument import Argument, Point
from drafter.corpus.schema import TopicMeta
from drafter.grounding import pages_named, word_stems
from drafter.retrieval import Hit
from drafter.settings import CheckSettings

_WORD = re.compile(r"[a-z0-9]+(?:['/.-][a-z0-9]+)*", re.I)
_CONTENT_STOP = set("that this with from have been were their there which these those into onto than then what when will would should "
                    "could such only other over under upon about after before because while where each some records record provided "
                    "review document documented documents does guideline guidelines states state treatment requested request applicant".split())


class CheckResult(BaseModel):
    name: str
    passed: bool
    reason: str = ""


@lru_cache(maxsize=1)
def check_data() -> dict:
    return yaml.safe_load(resources.files("drafter.data").joinpath("output_checks.yaml").read_text(encoding="utf-8"))


def _sentences(text: str) -> list[str]:
    # unlike grounding.split_sentences, split before a lower-case start too: that is what the fragment check looks for
    # a sentence may end inside its closing quote marks ('... afternoon.'" The same')
    ends = r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019])\s+|(?<=[.!?][\"'\u201d\u2019][\"'\u201d\u2019])\s+"
    return [s.strip() for s in re.split(ends, " ".join(text.split())) if s.strip()]


def check_echo(text: str) -> CheckResult:
    low = text.lower()
    for marker in check_data()["echo_markers"]:
        m = re.search(marker, low)
        if m:
            return CheckResult(name="prompt_echo", passed=False, reason=f"the prompt or a skeleton came back: {m.group(0)!r}")
    return CheckResult(name="prompt_echo", passed=True)


def check_ellipsis(text: str) -> CheckResult:
    m = re.search(check_data()["ellipsis"], text)
    if m:
        at = text[max(0, m.start() - 30):m.end()]
        return CheckResult(name="ellipsis", passed=False, reason=f"an unfinished or stubbed sentence: '...{at}'")
    return CheckResult(name="ellipsis", passed=True)


def _unquoted(text: str) -> str:
    """The text with quotations of the record taken out (a quote may hold list pieces of its own)."""
    return re.sub(r'"[^"]*"', '"[quote]"', text)


def check_fragments(text: str) -> CheckResult:
    """Pieces of copied lists or cut sentences: a sentence starting in lower case, ending on a comma or 'or', or on a
    reporting verb with nothing reported ('the note records.'), and prose that stops mid-sentence (a reply whose
    quote closed its JSON string early ends '... records ')."""
    if text.strip() and not re.search(r"[.!?][\"'\u201d)\]]*$", text.strip()):
        return CheckResult(name="fragment", passed=False, reason=f"the prose stops mid-sentence: {text.strip()[-80:]!r}")
    # broken quoting: a quote mark left after a sentence closed ('... most of the day"." The same'), or one never closed
    stray = re.search(r'"\s*[.!?]\s*"(?=\s|$)', text)
    if stray or text.count('"') % 2:
        at = text[max(0, stray.start() - 40):stray.end()] if stray else text.strip()[-80:]
        return CheckResult(name="fragment", passed=False, reason=f"broken quotation marks: {at!r}")
    bare = _unquoted(text)
    if bare.count("(") != bare.count(")"):
        return CheckResult(name="fragment", passed=False, reason="unbalanced parentheses")
    for sent in _sentences(bare):
        if re.search(r"\b(?:records|states|documents|shows|showed|notes|noted|reports|reported|reveals|indicates)\s*:?\s*[.!?]$", sent):
            return CheckResult(name="fragment", passed=False, reason=f"a sentence reports nothing: {sent[-80:]!r}")
        if re.match(r"[a-z]", sent) or re.search(r"(?:,|\b(?:or|and|the|of|to))\s*[.!?]$", sent):
            return CheckResult(name="fragment", passed=False, reason=f"a sentence fragment: {sent[:80]!r}")
    return CheckResult(name="fragment", passed=True)


def check_repetition(text: str, s: CheckSettings) -> CheckResult:
    seen: set[str] = set()
    for sent in _sentences(text):
        key = " ".join(_WORD.findall(sent.lower()))
        if key in seen and len(key.split()) >= 3:
            return CheckResult(name="repetition", passed=False, reason=f"a sentence is repeated: {sent[:80]!r}")
        seen.add(key)
    words = _WORD.findall(text.lower())
    n = s.repeat_ngram
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= s.repeat_times:
            return CheckResult(name="repetition", passed=False, reason=f"the phrase {' '.join(gram)!r} loops ({s.repeat_times} times)")
    return CheckResult(name="repetition", passed=True)


def check_cut_requirement(text: str, argument: Argument, s: CheckSettings | None = None) -> CheckResult:
    """A requirement restated without its first words ("state that pain levels with and without the opioid so that
    the benefit can be judged", where the argument has "records show pain levels ..."): the sentence has lost its verb."""
    s = s or CheckSettings()
    low = " ".join(_WORD.findall(text.lower()))
    for p in argument.points:
        words = _WORD.findall(p.requirement.lower())
        if " ".join(words) in low:
            continue
        for k in range(1, s.cut_requirement_words + 1):
            tail = words[k:]
            if len(tail) >= s.cut_requirement_min_tail and f"that {' '.join(tail)}" in low:
                return CheckResult(name="cut_requirement", passed=False,
                                   reason=f"a requirement lost its first words ({' '.join(words[:k])!r}): {p.requirement[:80]!r}")
    return CheckResult(name="cut_requirement", passed=True)


def check_guidance(text: str, guidance: str, case_text: str) -> CheckResult:
    """The reviewer's Regenerate guidance names a date the records hold ("mention the UDS from 01/07/2019"): the
    prose must name it too."""
    from drafter.dates import dates_in

    wanted = [(d, guidance[p:p + 12]) for p, d in dates_in(guidance)]
    held = {d for _, d in dates_in(case_text)}
    said = {d for _, d in dates_in(text)}
    missed = [raw.split()[0] for d, raw in wanted if d in held and d not in said]
    if missed:
        return CheckResult(name="guidance", passed=False, reason=f"the reviewer asked for {missed[0]}, which the prose does not name")
    return CheckResult(name="guidance", passed=True)


def check_length(text: str, s: CheckSettings) -> CheckResult:
    n = len(_WORD.findall(text))
    if n < s.min_words:
        return CheckResult(name="too_short", passed=False, reason=f"{n} words; a rationale needs at least {s.min_words}")
    return CheckResult(name="too_short", passed=True)


def own_words(p: Point, others: list[Point] | tuple = (), with_case: bool = True) -> list[str]:
    """A point's word stems (its requirement's, and its case side's when `with_case`) that no other point of the
    argument uses in the same parts; all its stems when every one is shared."""
    def stems(q: Point) -> list[str]:
        return word_stems(q.requirement + (" " + q.case if with_case else ""), 7, _CONTENT_STOP)
    words = stems(p)
    shared = {w for q in others if q is not p for w in stems(q)}
    return [w for w in words if w not in shared] or words


def point_terms(p: Point, others: list[Point] | tuple = ()) -> list[str]:
    """Alternatives that show the prose took up this point: its numbers, else its key words (an excluded
    ingredient), else the words of its requirement and case side that no other point of the argument uses;
    a definition point needs its own citation ("9792.20", "page 8")."""
    if p.kind == "definition" and p.where:
        return [p.where.lower().replace("mtus ", "").split("(")[0]]
    if p.numbers:
        return list(dict.fromkeys(p.numbers))
    if p.keys:
        return [k.lower() for k in p.keys]
    return own_words(p, others)[:8]


def covers(text: str, p: Point, others: list[Point] | tuple = (), s: CheckSettings | None = None) -> bool:
    """Whether the prose takes up this point: any of its numbers or key words, else `cover_own_words` of its own
    words, one of them from the requirement. One shared word such as "improvement" is not the point (a model that
    said "no functional improvement" had dropped the page-80 requirement of return to work), and neither is the
    record quoted alone (a model quoted a declined gabapentin trial and never stated the first-line requirement
    it answers)."""
    s = s or CheckSettings()
    low = text.lower()
    terms = point_terms(p, others)
    if p.numbers or p.keys or (p.kind == "definition" and p.where):
        return any(re.search(rf"(?<![\d.]){re.escape(t)}(?![\d])", low) if t[0].isdigit() else t in low for t in terms)
    if sum(t in low for t in terms) < min(s.cover_own_words, len(terms)):
        return False
    return not p.requirement or any(w in low for w in own_words(p, others, with_case=False))


def engages(text: str, argument: Argument, s: CheckSettings | None = None) -> bool:
    """Whether the prose works on the argument at all: it names a point's page or section, or one of its quantities."""
    low = text.lower()
    return any((p.where and p.where.lower().replace("mtus ", "").split("(")[0] in low) or covers(text, p, argument.points, s)
               for p in argument.points)


def uncovered(text: str, argument: Argument, s: CheckSettings | None = None) -> list[Point]:
    """The argument's points the prose does not take up (definitions included)."""
    return [p for p in argument.points if not covers(text, p, argument.points, s)]


def check_findings(text: str, argument: Argument, s: CheckSettings) -> CheckResult:
    deciding = [p for p in argument.points if p.kind not in ("definition", "context")]
    if not deciding:
        return CheckResult(name="missing_findings", passed=True, reason="no deciding points")
    covered = [covers(text, p, argument.points, s) for p in deciding]
    share = sum(covered) / len(covered)
    if share < s.min_points_covered or not any(covered):
        missed = [p.requirement[:60] for p, c in zip(deciding, covered) if not c]
        return CheckResult(name="missing_findings", passed=False,
                           reason=f"names {sum(covered)} of {len(covered)} deciding points; missing: " + "; ".join(missed))
    return CheckResult(name="missing_findings", passed=True, reason=f"names {sum(covered)} of {len(covered)} deciding points")


def check_stance(text: str, decision: str) -> CheckResult:
    low = text.lower()
    for pattern in check_data()["stance"].get(decision, []):
        m = re.search(pattern, low)
        if m:
            return CheckResult(name="stance", passed=False, reason=f"argues against the {decision} decision: {m.group(0)!r}")
    return CheckResult(name="stance", passed=True)


def check_edition(text: str, cited: list[Hit], topics: dict[str, TopicMeta], request_date: dt.date | None) -> CheckResult:
    for h in cited:
        meta = topics.get(h.topic_id)
        if meta is not None and request_date is not None and not meta.in_force(request_date):
            return CheckResult(name="edition", passed=False, reason=f"{h.citation} is not in force on {request_date}")
    low = text.lower()
    sources = " ".join(f"{h.guideline} {h.edition}" for h in cited).lower()
    for spec in check_data()["editions"]:
        if re.search(spec["pattern"], low) and spec["guideline"].lower() not in sources:
            return CheckResult(name="edition", passed=False, reason=f"names {spec['guideline']}, which no cited passage is from")
    # an edition is a year in brackets after a guideline's name; a record's "signed agreement (2013)" is not one
    years = set(re.findall(r"(?:guidelines?|formulary|provisions|mtus|acoem|odg)\s*\((\d{4})\)", text, re.I))
    editions = set(re.findall(r"\d{4}", sources))
    if years - editions:
        return CheckResult(name="edition", passed=False, reason=f"names the edition {sorted(years - editions)[0]}, not that of the cited passages")
    return CheckResult(name="edition", passed=True)


_SECTION = re.compile(r"9792\.\d+(?:\.\d+)*\s*\(?[a-z]?\)?", re.I)


def _locations(text: str) -> set[str]:
    """The pages ('p78') and regulation sections ('9792.20(f)') a text names."""
    sections = {re.sub(r"[\s()]", "", m.group(0)).lower() for m in _SECTION.finditer(text)}
    return {f"p{n}" for n in pages_named(text)} | sections


def check_attribution(text: str, argument: Argument, s: CheckSettings | None = None) -> CheckResult:
    """A sentence that names a location of the argument must not give it a requirement another location states:
    it carries `attribution_own_words` or more of that other point's own requirement words and none of the named
    location's points' own words."""
    s = s or CheckSettings()
    points = [p for p in argument.points if p.where and p.requirement]
    located = [(p, _locations(p.where)) for p in points]
    for sent in _sentences(text):
        named = _locations(sent)
        if not named:
            continue
        owners = [p for p, where in located if where & named]
        if not owners:
            continue  # a location outside the argument is grounding's to judge
        low = sent.lower()

        def says(p: Point) -> int:
            # a point whose case side names its location ("... as defined in MTUS 9792.20(f)") owns those words too
            return sum(1 for w in own_words(p, points, with_case=p.named_in_case) if w in low)

        if any(says(p) for p in owners):
            continue
        wrong = [p for p, where in located if not where & named and says(p) >= s.attribution_own_words]
        if wrong:
            label = sorted(named)[0].replace("p", "page ", 1) if sorted(named)[0].startswith("p") else sorted(named)[0]
            return CheckResult(name="attribution", passed=False,
                               reason=f"{label} is named for what {wrong[0].where} states: {sent[:90]!r}")
    return CheckResult(name="attribution", passed=True)


def run_checks(text: str, argument: Argument, cited: list[Hit], topics: dict[str, TopicMeta], request_date: dt.date | None,
               settings: CheckSettings) -> list[CheckResult]:
    return [
        check_echo(text),
        check_ellipsis(text),
        check_fragments(text),
        check_repetition(text, settings),
        check_length(text, settings),
        check_findings(text, argument, settings),
        check_stance(text, argument.decision),
        check_edition(text, cited, topics, request_date),
        check_attribution(text, argument, settings),
        check_cut_requirement(text, argument, settings),
    ]


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.passed]
