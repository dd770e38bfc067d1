"""Clinical case summary in the voice of a signed IMR letter.

The rules are data (drafter/data/summary.yaml): which record sentences state each element (the applicant, the
injury, treatment to date, the latest complaints and findings, diagnoses, medications, work status, the request and
the UR decision with its date), how a record sentence is made into a letter sentence (labels, bullets and leading
connectives removed, "She" and "the patient" named the applicant, a final period), and the frames that turn noun
phrases ("Lumbar flexion 50 degrees") into sentences. A record sentence that cannot be made whole is left out, never
copied or cut. Every sentence keeps the spans it rests on (document and offsets; quote == the document's text there).
The template writes these sentences in order; a chat model may rewrite them, each sentence tied to the facts it states.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml
from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drafter.dates import DATE, parse_date, us_date
from drafter.errors import ConfigError
from drafter.facts import Evidence, FactFinder
from drafter.grounding import check_sentence
from drafter.intake import Case, Document
from drafter.items import drug_table
from drafter.llm import Generation, generate_structured
from drafter.prompts import PromptLibrary, curly_quotes, straight_quotes

# "Frequency: 2 times per week Duration: 6 weeks": a form's fields copied into prose
_FIELD_LABEL = re.compile(r"(?:^|[.;]\s|\s)(?:[A-Z][A-Za-z]+(?: [A-Za-z()]+){0,2}):\s+\S+[^.:]*\b[A-Z][A-Za-z]+(?: [A-Za-z()]+){0,2}:\s")
# where a record's line holds more than one sentence
_SUBSENTENCE = re.compile(r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bNo\.)(?<!\bvs\.)(?<!\bapprox\.)(?<=[.!?])(?P<q>[\"')]?)\s+(?=[A-Z\"(\[])")


class SummarySentence(BaseModel):
    text: str = Field(max_length=800)
    fact_ids: list[str] = Field(min_length=1, max_length=6)


class SummaryOut(BaseModel):
    sentences: list[SummarySentence] = Field(min_length=1, max_length=16)


# -- the rules file ------------------------------------------------------------------------------------
class ElementRule(BaseModel):
    """Which record sentences state one element of the summary, and the frame its noun phrases go into."""

    model_config = ConfigDict(extra="forbid")

    headings: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)
    max: int = 2
    latest_only: bool = False
    whole_only: bool = False
    keep_case: bool = False
    whole_max: int | None = Field(default=None, description="at most this many whole sentences (default: max)")
    yields_to: list[str] = Field(default_factory=list, description="elements whose patterns win over this heading")
    frame: str | None = None
    frame_undated: str | None = None
    frame_only: str | None = Field(default=None, description="a noun phrase goes into the frame only when it matches this")


class URRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_patterns: list[str]
    head_chars: int = 600
    not_ur_date: str
    decisions: list[dict[str, str]]
    near_chars: int = 200


class SummaryRules(BaseModel):
    """drafter/data/summary.yaml, checked on load."""

    model_config = ConfigDict(extra="ignore")

    order: list[str]
    model_shortens: list[str] = []
    shorten_over_words: int = 35
    paragraphs: list[list[str]]
    frames: dict[str, str]
    work_status_words: dict[str, str]
    applicant_intro: str
    request_sentence: str
    occupation: list[str]
    fields: dict[str, list[str]]
    elements: dict[str, ElementRule]
    heading_line: str
    leading_label: str
    verbs: str
    strip_leading: list[str]
    connectives: list[str]
    subjects: list[dict[str, str]]
    subjectless: str
    never: list[str]
    keep_case: str
    min_chars: int = 15
    max_chars: int = 320
    ur: URRules

    @model_validator(mode="after")
    def _known_elements(self) -> SummaryRules:
        unknown = [e for e in self.model_shortens + [e for g in self.paragraphs for e in g] if e not in self.order]
        if unknown:
            raise ValueError(f"elements {unknown} are not in order {self.order}")
        return self


@dataclass(frozen=True)
class _Compiled:
    rules: SummaryRules
    intro: re.Pattern
    occupation: list[re.Pattern]
    fields: dict[str, re.Pattern]
    headings: dict[str, re.Pattern]
    patterns: dict[str, re.Pattern | None]
    skip: dict[str, re.Pattern | None]
    heading_line: re.Pattern
    leading_label: re.Pattern
    verbs: re.Pattern
    strip: list[re.Pattern]
    connective: re.Pattern
    subjects: list[tuple[re.Pattern, str]]
    subjectless: re.Pattern
    never: re.Pattern
    keep_case: re.Pattern
    ur_dates: list[re.Pattern]
    not_ur_date: re.Pattern
    decisions: list[tuple[re.Pattern, str]]


def _any(patterns: list[str], anchored: bool = False) -> re.Pattern | None:
    if not patterns:
        return None
    body = "|".join(f"(?:{p.replace('{DATE}', DATE)})" for p in patterns)
    return re.compile(rf"^(?:{body})$" if anchored else body, re.I)


@lru_cache(maxsize=1)
def rules() -> _Compiled:
    """The summary rules, compiled; a bad file is an error that says what to fix."""
    where = "drafter/data/summary.yaml"
    try:
        r = SummaryRules.model_validate(yaml.safe_load(resources.files("drafter.data").joinpath("summary.yaml").read_text(encoding="utf-8")))
        unknown = {e for p in r.paragraphs for e in p} - set(r.order)
        if unknown:
            raise ConfigError(f"{where}: paragraphs name elements not in `order`: {sorted(unknown)}; add them to `order`.")
        d = lambda p: p.replace("{DATE}", DATE)  # noqa: E731
        return _Compiled(
            rules=r, intro=re.compile(r.applicant_intro, re.I), occupation=[re.compile(p, re.I | re.M) for p in r.occupation],
            fields={k: re.compile(rf"(?:^|\s|\*\*)(?:{'|'.join(v)})\s*:(?:\*\*)?[ \t]*(?P<value>[^\n]*?)(?=\s{{2,}}[A-Z][A-Za-z .#/()]{{1,30}}:|[ \t]*$)", re.I | re.M)
                    for k, v in r.fields.items()},
            headings={k: p for k, e in r.elements.items() if (p := _any(e.headings, anchored=True))},
            patterns={k: _any(e.patterns) for k, e in r.elements.items()},
            skip={k: _any(e.skip) for k, e in r.elements.items()},
            heading_line=re.compile(r.heading_line), leading_label=re.compile(r.leading_label, re.S), verbs=re.compile(r.verbs, re.I),
            strip=[re.compile(p) for p in r.strip_leading],
            connective=re.compile(r"^(?:" + "|".join(re.escape(c) for c in r.connectives) + r")\b\s*,?\s*", re.I),
            subjects=[(re.compile(s["pattern"], re.I), s["replace"]) for s in r.subjects],
            subjectless=re.compile(r.subjectless),
            never=re.compile("|".join(f"(?:{p})" for p in r.never)), keep_case=re.compile(r.keep_case),
            ur_dates=[re.compile(d(p), re.I) for p in r.ur.date_patterns], not_ur_date=re.compile(r.ur.not_ur_date, re.I),
            decisions=[(re.compile(x["pattern"], re.I), x["word"]) for x in r.ur.decisions],
        )
    except ConfigError:
        raise
    except (OSError, yaml.YAMLError, ValidationError, re.error, KeyError) as exc:
        raise ConfigError(f"{where} is not valid ({exc}); fix the file (see drafter/summary.py SummaryRules).") from exc


# -- what a summary is made of -------------------------------------------------------------------------
@dataclass
class SourcedFact:
    """One sentence of the summary in the letter's voice and the record spans it rests on."""

    label: str
    text: str
    span: Evidence
    more: list[Evidence] = field(default_factory=list)

    @property
    def spans(self) -> list[Evidence]:
        return [self.span, *self.more]


@dataclass
class CaseSummary:
    text: str
    sources: list[dict]
    fallback_used: bool
    dropped: list[tuple[str, str]] = field(default_factory=list)
    generation: Generation | None = None


def clean_for_prompt(text: str) -> str:
    """Record text inside the prompt's <records> block cannot close or reopen the block."""
    return re.sub(r"</?\s*records\s*>", "[records]", text, flags=re.I)


def _ev(doc: Document, start: int, end: int, date: dt.date | None = None) -> Evidence:
    """A span whose quote is exactly the document's text at its offsets."""
    while start < end and doc.text[start].isspace():
        start += 1
    while end > start and doc.text[end - 1].isspace():
        end -= 1
    return Evidence(document=doc.name, start=start, end=end, quote=doc.text[start:end], date=date.isoformat() if date else None)


def _requote(case: Case, ev: Evidence) -> Evidence:
    return _ev(case.doc(ev.document), ev.start, ev.end, dt.date.fromisoformat(ev.date) if ev.date else None)


def _lower_first(text: str, c: _Compiled) -> str:
    """The first letter in lower case inside a sentence, unless the word keeps its case (an abbreviation, an
    eponym, a brand-name drug)."""
    word = text.split(" ", 1)[0]
    if c.keep_case.match(word) or not word[:1].isupper():
        return text
    drug = drug_table().get(re.sub(r"[^a-z-]", "", word.lower()))
    if drug is not None and drug[0] != re.sub(r"[^a-z-]", "", word.lower()):
        return text  # a brand name (Norco, Soma)
    return text[0].lower() + text[1:]


# -- record pieces -------------------------------------------------------------------------------------
@dataclass
class _Piece:
    """A sentence (or a sentence's part) of a record: where it is, its heading, and what it reads as."""

    doc: Document
    start: int
    end: int
    date: dt.date | None
    heading: str | None  # the element whose heading it sits under
    text: str  # whitespace collapsed, leading bullets removed
    label: str | None = None  # a leading field label ("Physical therapy" of "Physical therapy: 18 sessions ...")

    @property
    def evidence(self) -> Evidence:
        return _ev(self.doc, self.start, self.end, self.date)


def _heading_element(label: str, c: _Compiled) -> str | None:
    label = " ".join(label.replace("*", "").strip(" :#").split()).lower()
    return next((e for e, rx in c.headings.items() if rx.match(label)), None)


def _is_heading(raw: str, c: _Compiled) -> bool:
    """A line that is nothing but a heading: "DIAGNOSES:", "Work status:", "## Objective"."""
    t = " ".join(raw.replace("*", "").split())
    if raw.lstrip().startswith("#"):
        return len(t.lstrip("# ").split()) <= 6
    return bool(c.heading_line.match(t))


def _pieces(case: Case, ff: FactFinder) -> list[_Piece]:
    """Every record sentence of the treating records, split where a line holds several, with the element it sits
    under: a heading line sets it until the next heading; a leading label that names an element ("Objective: ...")
    sets it until the paragraph ends; another label ("Physical therapy: 18 sessions") marks a form field."""
    c = rules()
    out: list[_Piece] = []
    by_doc: dict[str, list] = {}
    for s in ff.sentences:
        by_doc.setdefault(s.document, []).append(s)
    for doc in case.evidence:
        date = ff.document_date(doc)
        block: str | None = None  # from a heading line
        inline: str | None = None  # from a leading label, until a blank line
        last_end = 0
        for s in by_doc.get(doc.name, []):
            if ff._excluded(s):  # instruction-like text and the UR reviewer's opinion are never summary
                continue
            start, end = s.span
            for a0, b0 in _split_raw(doc.text[start:end], c):
                a, b = start + a0, start + b0
                if re.search(r"\n[ \t]*\n", doc.text[last_end:a]):
                    inline = None
                last_end = b
                raw = doc.text[a:b]
                if _is_heading(raw, c):
                    block, inline = _heading_element(raw, c), None
                    continue
                text = " ".join(raw.replace("**", "").split())
                for rx in c.strip:
                    text = rx.sub("", text, count=1)
                if not text:
                    continue
                label = None
                lm = c.leading_label.match(text)
                if lm:
                    el = _heading_element(lm.group("label"), c)
                    if el is not None:
                        inline, text = el, lm.group("rest")
                    else:
                        inline, label, text = None, lm.group("label"), lm.group("rest")
                    for rx in c.strip:  # "DIAGNOSES: 1. Lumbar sprain/strain."
                        text = rx.sub("", text, count=1)
                out.append(_Piece(doc, a, b, ff._date_of(text) or date, inline or block, text, label))
    return out


# a line break before a list bullet or number, or around a heading line, also ends a sentence
_LINE_BREAK = re.compile(r"\n(?=[ \t]*(?:[-*\u2022]|\d{1,2}[.)])[ \t])")


def _split_raw(raw: str, c: _Compiled) -> list[tuple[int, int]]:
    """Offsets of the sentences a record's sentence holds (the terminal punctuation stays with its sentence)."""
    cuts: set[int] = {m.start() for m in _LINE_BREAK.finditer(raw)}
    at = 0
    for line in raw.split("\n"):
        if line.strip() and _is_heading(line, c):
            cuts.update({at, at + len(line)})
        at += len(line) + 1
    for m in _SUBSENTENCE.finditer(raw):
        cuts.update({m.start() + len(m.group("q")), m.end()})
    bounds = sorted({0, len(raw), *cuts})
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if raw[a:b].strip()]


# -- record sentence -> letter sentence -----------------------------------------------------------------
def letter_sentence(text: str) -> str | None:
    """A record sentence as a whole sentence of the letter, or None when no rule can make it one safely:
    leading connective removed, the subject named the applicant, a final period; no label, heading or ellipsis."""
    c = rules()
    t = " ".join(text.replace("**", "").split())
    for rx in c.strip:
        t = rx.sub("", t, count=1)
    t = c.connective.sub("", t, count=1)
    for rx, rep in c.subjects:
        if rx.match(t):
            t = rx.sub(rep, t, count=1)
            break
    else:
        if c.subjectless.match(t):  # "Returned to regular duty on 08/01/2016" -> "The applicant returned ..."
            t = f"{c.rules.frames['subject']} {t[0].lower()}{t[1:]}"
    t = t.strip()
    if not t or c.leading_label.match(t):
        return None
    t = t[0].upper() + t[1:]
    if re.search(r"[,;:(\-]$", t):
        return None  # cut off mid-way
    if not re.search(r"[.!]['\")]?$", t):
        t += "."
    if not (c.rules.min_chars <= len(t) <= c.rules.max_chars) or not t[0].isalpha() or c.never.search(t):
        return None
    if not _has_verb(t, c):
        return None  # a noun phrase, not a sentence
    if not _balanced(t):
        return None  # cut off inside a parenthesis or a quotation
    return t


def _has_verb(t: str, c: _Compiled) -> bool:
    """A finite verb outside parentheses ("Ibuprofen 600 mg (uses about twice a week)" has none)."""
    return bool(c.verbs.search(re.sub(r"\([^()]*\)", " ", t)))


def _balanced(t: str) -> bool:
    return t.count("(") == t.count(")") and t.count("[") == t.count("]") and t.count('"') % 2 == 0


def noun_phrase(text: str, keep_case: bool = False) -> str | None:
    """A verbless record sentence as an item of a frame's list ("lumbar flexion 50 degrees"), or None."""
    c = rules()
    t = " ".join(text.replace("**", "").split())
    for rx in c.strip:
        t = rx.sub("", t, count=1)
    t = c.connective.sub("", t, count=1).strip().rstrip(".;, ")
    if not t or len(t) < 4 or len(t) > c.rules.max_chars or c.never.search(t) or re.search(r"\.\s+[A-Z]", t):
        return None
    if not _balanced(t):
        return None
    return t if keep_case else _lower_first(t, c)


# -- the elements ---------------------------------------------------------------------------------------
def _element_of(p: _Piece, c: _Compiled) -> str | None:
    if p.heading and p.heading in c.rules.elements and c.rules.elements[p.heading].yields_to:
        for name in c.rules.elements[p.heading].yields_to:
            rx, sk = c.patterns.get(name), c.skip.get(name)
            if rx is not None and rx.search(p.text) and not (sk and sk.search(p.text)):
                return name
    if p.heading and p.heading in c.rules.elements:
        sk = c.skip.get(p.heading)
        return None if sk and sk.search(p.text) else p.heading
    for name in c.rules.order:
        rx, sk = c.patterns.get(name), c.skip.get(name)
        if rx is not None and rx.search(p.text) and not (sk and sk.search(p.text)):
            return name
    return None


def _record_elements(pieces: list[_Piece], c: _Compiled) -> list[SourcedFact]:
    """Each element's record sentences, made whole or put into the element's frame."""
    by_el: dict[str, list[_Piece]] = {}
    for p in pieces:
        el = _element_of(p, c)
        if el:
            by_el.setdefault(el, []).append(p)
    out: list[SourcedFact] = []
    for name in c.rules.order:
        rule = c.rules.elements.get(name)
        ps = by_el.get(name, [])
        if rule is None or not ps:
            continue
        if rule.latest_only:
            # the latest progress note that has the element under its heading governs (an RFA's form lines or a
            # therapy note's passing mention only when no note has the section)
            def rank(doc: str) -> tuple:
                mine = [p for p in ps if p.doc.name == doc]
                return (any(p.heading == name for p in mine), mine[0].doc.kind != "rfa", max(p.date or dt.date.min for p in mine), len(mine))
            best = max(dict.fromkeys(p.doc.name for p in ps), key=rank)
            ps = [p for p in ps if p.doc.name == best]
        else:
            ps = sorted(ps, key=lambda p: p.date or dt.date.min, reverse=True)
        whole: list[tuple[str, _Piece]] = []
        phrases: list[tuple[str, _Piece]] = []
        for p in ps:
            if p.label is not None:  # "Physical therapy: 18 sessions ..." -> "physical therapy, 18 sessions ..."
                verbless = not _has_verb(p.text, c)  # "Discussion: The findings are mixed." is no list item
                np_ = noun_phrase(f"{p.label}, {p.text}", rule.keep_case) if rule.frame and not rule.whole_only and verbless else None
                if np_:
                    phrases.append((np_, p))
                continue
            s = letter_sentence(p.text)
            if s:
                whole.append((s, p))
            elif rule.frame and not rule.whole_only and not _has_verb(p.text, c):
                np_ = noun_phrase(p.text, rule.keep_case)
                if np_:
                    phrases.append((np_, p))
        if rule.frame_only:
            phrases = [(t, p) for t, p in phrases if re.search(rule.frame_only, t, re.I)]
        seen: set[str] = set()
        phrases = [(t, p) for t, p in phrases if not (t.lower() in seen or seen.add(t.lower()))][: rule.max]
        if phrases and rule.frame:
            date = phrases[0][1].date
            frame = rule.frame if date or not rule.frame_undated else rule.frame_undated
            if "{date}" in frame and not date:
                frame = ""
            if frame:
                text = frame.format(items="; ".join(t for t, _ in phrases), date=us_date(date.isoformat()) if date else "")
                spans = [p.evidence for _, p in phrases]
                out.append(SourcedFact(name, text, spans[0], spans[1:]))
        n_whole = rule.max if rule.whole_max is None else rule.whole_max
        for t, p in whole[: max(0, min(n_whole, rule.max - (1 if phrases else 0)))]:
            out.append(SourcedFact(name, t, p.evidence))
    return out


def _applicant(case: Case, ff: FactFinder, pieces: list[_Piece], c: _Compiled) -> list[SourcedFact]:
    """Who the applicant is and the injury: a record sentence introducing the applicant, else a frame from the
    age, occupation and date of injury the records state; then the body parts claimed."""
    f = c.rules.frames
    out: list[SourcedFact] = []
    age, doi = ff.find("age"), ff.find("date_of_injury")
    doi_text = us_date(str(doi.value)) if doi.status == "present" and doi.value else None
    doi_span = _requote(case, doi.span) if doi_text and doi.span else None
    intro = next((p for p in pieces if c.intro.search(p.text) and letter_sentence(p.text)), None)
    if intro is not None:
        text = letter_sentence(intro.text) or ""
        out.append(SourcedFact("applicant", text, intro.evidence))
        if doi_text and doi_span and str(doi.value) not in {d.isoformat() for d in _dates(text)}:
            out.append(SourcedFact("injury", f["injury_date"].format(doi=doi_text), doi_span))
    else:
        spans: list[Evidence] = []
        occ = None
        for d in case.evidence:
            for rx in c.occupation:
                m = rx.search(d.text)
                if m and "redact" not in m.group("occupation").lower():
                    occ = " ".join(m.group("occupation").split()).lower()
                    spans.append(_ev(d, m.start("occupation"), m.end("occupation")))
                    break
            if occ:
                break
        has_age = age.status == "present" and age.value is not None and age.span is not None
        if has_age:
            spans.insert(0, _requote(case, age.span))  # type: ignore[arg-type]
        key = "applicant_age_occupation" if has_age and occ else "applicant_age" if has_age else "applicant_occupation" if occ else "applicant_plain"
        text = f[key].format(age=f"{float(age.value):g}" if has_age else "", occupation=occ or "",  # type: ignore[arg-type]
                             article="an" if (occ or "x")[0] in "aeiou" else "a")
        if doi_text and doi_span:
            text += f["with_injury"].format(doi=doi_text)
            spans.append(doi_span)
        else:
            text += "."
        if spans:
            out.append(SourcedFact("applicant", text, spans[0], spans[1:]))
    for d in case.evidence:
        m = c.fields["body_parts"].search(d.text)
        if m:
            # "Low back. Right ankle (sprain, closed 10/2015)." is a list of parts, not two sentences
            parts = [x for x in re.split(r"\.\s+(?=[A-Z])", m.group("value").replace("**", "").strip()) if x.strip()]
            value = noun_phrase("; ".join(p.strip().rstrip(".") for p in parts)) if not any(_has_verb(p, c) for p in parts) else None
            if value and "redact" not in value.lower():
                value = re.sub(r"^the\s+", "", value, flags=re.I)
                out.append(SourcedFact("injury", f["body_parts"].format(parts=value), _ev(d, m.start("value"), m.end("value"))))
                break
    return out


def _dates(text: str) -> list[dt.date]:
    return [d for m in re.finditer(DATE, text, re.I) if (d := parse_date(m.group(0)))]


def _work_status(case: Case, ff: FactFinder, facts: list[SourcedFact], c: _Compiled) -> list[SourcedFact]:
    """The work status from the fact layer when the record sentences gave none."""
    if any(x.label == "work_status" for x in facts):
        return []
    work = ff.find("work_status")
    words = c.rules.work_status_words.get(str(work.value)) if work.status == "present" else None
    if not words or work.span is None:
        return []
    doc = case.doc(work.span.document)
    date = ff._date_of(work.span.quote) or ff.document_date(doc)
    f = c.rules.frames
    text = f["work_status_fact"].format(date=us_date(date.isoformat()), status=words) if date else f["work_status_fact_undated"].format(status=words)
    return [SourcedFact("work_status", text, _ev(doc, work.span.start, work.span.end, date))]


def _items_text(items: list[str], c: _Compiled) -> str:
    parts = [_lower_first(re.sub(r":\s+", ", ", " ".join(i.split())).rstrip("."), c) for i in items]
    if len(parts) == 1:
        return parts[0]
    # items that hold commas of their own ("compounded cream, flurbiprofen 20%, ...") are set apart by semicolons
    sep = "; " if any("," in p for p in parts) else ", "
    if len(parts) == 2:
        return parts[0] + (";" if sep == "; " else "") + " and " + parts[1]
    return sep.join(parts[:-1]) + sep.rstrip() + " and " + parts[-1]


def _request(case: Case, ff: FactFinder, items: list[str], c: _Compiled) -> list[SourcedFact]:
    """What is requested, resting on the item's words in a record (else the record's request line)."""
    if not items:
        return []
    docs = case.evidence + [d for d in case.documents if d not in case.evidence]
    for d in docs:
        key = " ".join(items[0].split())[:25].lower()
        at = " ".join(d.text.split()).lower().find(key) if key else -1
        if at >= 0:
            m = re.search(r"\s+".join(re.escape(w) for w in key.split()), d.text, re.I)
            if m:
                return [SourcedFact("request", c.rules.frames["request"].format(items=_items_text(items, c)), _ev(d, m.start(), m.end()))]
    asked = re.compile(c.rules.request_sentence, re.I)
    for s in ff.sentences:
        if (ff._request_line.search(s.text) or asked.search(s.text)) and not ff._given.search(s.text) and not ff._excluded(s):
            d = case.doc(s.document)
            return [SourcedFact("request", c.rules.frames["request"].format(items=_items_text(items, c)), _ev(d, *s.span))]
    return []


def find_ur_decision(case: Case) -> tuple[dt.date, Evidence, list[tuple[str, list[str], Evidence | None]]] | None:
    """The UR decision's date (with its span) and, per decision word, the items it applies to (with the span of the
    word): from the UR letters first, then any record ("In a Utilization Review Report dated March 20, 2014, ...")."""
    c = rules()
    urs = [d for d in case.documents if d.is_ur]
    docs = urs + [d for d in case.documents if not d.is_ur]
    found: tuple[Document, re.Match] | None = None
    for rx in c.ur_dates:
        for d in docs:
            m = rx.search(d.text)
            if m and parse_date(m.group("date")):
                found = (d, m)
                break
        if found:
            break
    if found is None:
        for d in urs:  # a UR letter without a labelled date: the first date of its head that is not another event's
            head = d.text[: c.rules.ur.head_chars]
            for m in re.finditer(DATE, head, re.I):
                if not c.not_ur_date.search(head[max(0, m.start() - 40):m.start()]) and parse_date(m.group(0)):
                    found = (d, re.compile(rf"(?P<date>{re.escape(m.group(0))})").search(d.text, m.start()))  # type: ignore[assignment]
                    break
            if found:
                break
    if found is None:
        return None
    doc, m = found
    date = parse_date(m.group("date"))
    assert date is not None
    date_span = _ev(doc, m.start("date"), m.end("date"))
    # the decision word near the date (narrative records) or anywhere in the UR letter
    where = doc.text if doc.is_ur else doc.text[max(0, m.start() - c.rules.ur.near_chars): m.end() + c.rules.ur.near_chars]
    offset = 0 if doc.is_ur else max(0, m.start() - c.rules.ur.near_chars)
    groups: dict[str, tuple[list[str], Evidence | None]] = {}
    for item in case.items:
        word, span = _decision_near_item(doc, where, offset, item, c)
        groups.setdefault(word, ([], span))[0].append(item)
    return date, date_span, [(w, its, sp) for w, (its, sp) in groups.items()]


def _decision_near_item(doc: Document, where: str, offset: int, item: str, c: _Compiled) -> tuple[str, Evidence | None]:
    words = [w for w in re.findall(r"[a-z]{4,}", item.lower())][:2]
    spots = [m.start() for w in words for m in re.finditer(re.escape(w), where, re.I)]
    for at in spots:
        window = where[at: at + c.rules.ur.near_chars]
        hits = [(m.start(), word, m) for rx, word in c.decisions if (m := rx.search(window))]
        if hits:
            _, word, m = min(hits, key=lambda h: h[0])
            return word, _ev(doc, offset + at + m.start(), offset + at + m.end())
    hits = [(m.start(), word, m) for rx, word in c.decisions if (m := rx.search(where))]
    if hits:
        _, word, m = min(hits, key=lambda h: h[0])
        return word, _ev(doc, offset + m.start(), offset + m.end())
    return "", None


def _ur(case: Case, items: list[str], c: _Compiled) -> list[SourcedFact]:
    found = find_ur_decision(case)
    if found is None or not items:
        return []
    date, date_span, groups = found
    f = c.rules.frames
    parts = [f["ur_decision_part"].format(word=w, items=_items_text(its, c)) for w, its, _ in groups if w]
    spans = [date_span] + [sp for _, _, sp in groups if sp is not None]
    if parts:
        text = f["ur_decision"].format(date=us_date(date.isoformat()), decisions=" and ".join(parts))
    else:
        text = f["ur_no_word"].format(date=us_date(date.isoformat()), items=_items_text(items, c))
    return [SourcedFact("utilization_review", text, spans[0], spans[1:])]


def select_facts(case: Case, ff: FactFinder, items: list[str], ur_line: str | None = None) -> list[SourcedFact]:
    """The summary's sentences in the letter's order, each with the record spans it rests on.
    (`ur_line` is kept for callers; the UR decision is read from the records.)"""
    c = rules()
    pieces = _pieces(case, ff)
    facts = _applicant(case, ff, pieces, c)
    used = {(s.document, s.start) for f in facts for s in f.spans}
    pieces = [p for p in pieces if not any(d == p.doc.name and p.start <= a < p.end for d, a in used)]
    record = _record_elements(pieces, c)
    facts += record
    facts += _work_status(case, ff, facts, c)
    facts += _request(case, ff, items, c)
    facts += _ur(case, items, c)
    rank = {e: i for i, e in enumerate(c.rules.order)}
    return sorted(facts, key=lambda x: rank.get(x.label, len(rank)))  # stable: within an element, as selected


def _paragraphs(labelled: list[tuple[str, str]]) -> list[list[str]]:
    """(element, sentence) pairs in the letter's order, grouped into the rules' paragraphs."""
    c = rules()
    rank = {e: i for i, e in enumerate(c.rules.order)}
    ordered = sorted(labelled, key=lambda x: rank.get(x[0], len(rank)))  # stable: within an element, as given
    grouped = {e for g in c.rules.paragraphs for e in g}
    paragraphs = [[t for lab, t in ordered if lab in group] for group in c.rules.paragraphs]
    paragraphs.append([t for lab, t in ordered if lab not in grouped])
    return [p for p in paragraphs if p]


def fallback_summary(prompts: PromptLibrary, facts: list[SourcedFact]) -> str:
    """The summary's sentences in paragraphs, as the template writes them."""
    return prompts.render("fallback_summary", paragraphs=_paragraphs([(f.label, f.text) for f in facts]))


def _sources(facts: list[SourcedFact], which: list[int] | None = None) -> list[dict]:
    idx = range(len(facts)) if which is None else which
    return [{"label": facts[i].label, "file": s.document, "start": s.start, "end": s.end, "quote": s.quote}
            for i in idx for s in facts[i].spans]


def summarize(chat: BaseChatModel | None, backend: str, prompts: PromptLibrary, facts: list[SourcedFact], max_tokens: int, retries: int,
              retry_temperature: float | None = None) -> CaseSummary:
    """The rules' sentences, with the long ones the model shortened (each shortened sentence lists the facts it
    rests on and is checked against them; one that fails is replaced by the rules' own sentence)."""
    if not facts:
        return CaseSummary("The case file contains no sentences the summary rules recognise; the reviewer must write the summary.", [], True)
    r = rules().rules
    asked = [i for i, f in enumerate(facts) if f.label in r.model_shortens and len(f.text.split()) > r.shorten_over_words]
    if chat is None or not asked:  # no model, or nothing long enough to shorten: the rules' sentences are the summary
        return CaseSummary(fallback_summary(prompts, facts), _sources(facts), chat is None, [], None)
    user = prompts.render("case_summary", facts=[f"({facts[i].label.replace('_', ' ')}) {curly_quotes(clean_for_prompt(facts[i].text))}" for i in asked])
    gen = generate_structured(chat, backend, prompts.render("system"), user, SummaryOut, None, max_tokens, retries,
                              retry_temperature=retry_temperature)
    if gen.value is None:
        return CaseSummary(fallback_summary(prompts, facts), _sources(facts), True, [], gen)
    dropped: list[tuple[str, str]] = []
    shortened: dict[int, str] = {}  # the first fact a sentence states -> the sentence
    replaced: set[int] = set()
    for sent in gen.value.sentences:  # type: ignore[attr-defined]
        sent.text = straight_quotes(sent.text)
        idx = sorted({asked[int(x[1:]) - 1] for x in sent.fact_ids if re.fullmatch(r"F\d+", x) and 0 < int(x[1:]) <= len(asked)})
        if not idx:
            dropped.append((sent.text, "it cites no listed fact"))
            continue
        if replaced & set(idx):
            dropped.append((sent.text, "it restates a fact another sentence already states"))
            continue
        support = " ".join(facts[i].text + " " + " ".join(s.quote for s in facts[i].spans) for i in idx)
        why = "it cuts a sentence with an ellipsis" if re.search(r"\.\.\.|\u2026", sent.text) else check_sentence(sent.text, support, set())
        if not why and _FIELD_LABEL.search(sent.text):
            why = "it copies a record's field labels instead of writing a sentence"
        if not why and len(sent.text.split()) >= 0.8 * sum(len(facts[i].text.split()) for i in idx):
            why = "it does not shorten the sentence"
        if why and "page" not in why:
            dropped.append((sent.text, why))
            continue
        shortened[idx[0]] = sent.text.strip()
        replaced.update(idx)
    labelled = [(f.label, shortened[i]) if i in shortened else (f.label, f.text) for i, f in enumerate(facts)
                if i in shortened or i not in replaced]
    text = prompts.render("fallback_summary", paragraphs=_paragraphs(labelled))
    return CaseSummary(text, _sources(facts), not shortened, dropped, gen)
