"""Clinical case summary: key record sentences selected by rule, rewritten by the LLM with each sentence
tied to the facts it states; dates, numbers and drug names checked against those facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from drafter.dates import us_date
from drafter.facts import Evidence, FactFinder
from drafter.grounding import check_sentence
from drafter.intake import Case
from drafter.llm import Generation, generate_structured
from drafter.prompts import PromptLibrary

# (label, pattern) in the order a letter's summary tells the story; first matching sentences win.
_SELECTORS: list[tuple[str, str, int]] = [
    ("applicant", r"\b\d{2}[- ]year[- ]old\b", 1),
    ("injury", r"\b(?:doi|date of injury)\b|injured (?:his|her|the)", 1),
    ("body parts", r"\b(?:body parts?|accepted)\b\s*:", 1),
    ("treatment to date", r"treatment to date|conservative care|has (?:had|completed|attended)|completed \d+|\d+ (?:sessions|visits)", 2),
    ("findings", r"^(?:objective|exam\w*|physical exam\w*)\b|straight leg|range of motion|flexion \d+|tenderness|strength \d/5|\d/5", 2),
    ("diagnoses", r"^diagnos\w*\s*:|\bdiagnos(?:is|es)\b", 1),
    ("medications", r"^(?:current )?medications?\s*:|\b(?:takes|taking)\b[^.]{0,40}\d+\s*mg", 1),
    ("work status", r"work status|temporar\w* total\w* disab|modified duty|full duty|off work|returned to work", 1),
]
MAX_FACT_CHARS = 320
# "Frequency: 2 times per week Duration: 6 weeks": a form's fields copied into prose
_FIELD_LABEL = re.compile(r"(?:^|[.;]\s|\s)(?:[A-Z][A-Za-z]+(?: [A-Za-z()]+){0,2}):\s+\S+[^.:]*\b[A-Z][A-Za-z]+(?: [A-Za-z()]+){0,2}:\s")


class SummarySentence(BaseModel):
    text: str = Field(max_length=800)
    fact_ids: list[str] = Field(min_length=1, max_length=6)


class SummaryOut(BaseModel):
    sentences: list[SummarySentence] = Field(min_length=1, max_length=9)


@dataclass
class SourcedFact:
    label: str
    text: str
    span: Evidence


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


_WORK_WORDS = {"off_work": "not working", "modified_duty": "working with restrictions", "full_duty": "working full duty",
               "retired": "retired"}


def profile_facts(case: Case, ff: FactFinder, items: list[str]) -> list[SourcedFact]:
    """The letter's opening facts as sentences of our own, each resting on the evidence the fact layer found:
    who the applicant is and when the injury happened, the work status, and what is requested."""
    out: list[SourcedFact] = []
    age, doi, work = ff.find("age"), ff.find("date_of_injury"), ff.find("work_status")
    who = f"The applicant is a {float(age.value):g}-year-old injured worker" if age.status == "present" and age.value else "The applicant is an injured worker"
    span = age.span if age.status == "present" else None
    if doi.status == "present" and doi.value:
        who += f" who sustained an industrial injury on {us_date(str(doi.value))}"
        span = span or doi.span
    if span is not None:
        out.append(SourcedFact("applicant", who + ".", span))
    if work.status == "present" and work.value in _WORK_WORDS and work.span is not None:
        out.append(SourcedFact("work status", f"As of {us_date(work.span.date) if work.span.date else 'the latest note'}, the applicant was "
                                              f"{_WORK_WORDS[str(work.value)]}.", work.span))
    for d in case.evidence:
        low = d.text.lower()
        at = low.find(items[0].lower()[:25]) if items else -1
        if at >= 0:
            out.append(SourcedFact("request", "The request under review is for " + "; ".join(items) + ".",
                                   Evidence(document=d.name, start=at, end=at + len(items[0]), quote=d.text[at:at + len(items[0])])))
            break
    return out


def select_facts(case: Case, ff: FactFinder, items: list[str], ur_line: str | None) -> list[SourcedFact]:
    facts: list[SourcedFact] = profile_facts(case, ff, items)
    have = {f.label for f in facts}
    used: set[tuple[str, int]] = set()
    if any(f.label == "applicant" and "injury on" in f.text for f in facts):
        have.add("injury")
    for label, pattern, n in _SELECTORS:
        if label in have:
            continue
        taken = 0
        for s in ff.sentences:
            if taken >= n or (s.document, s.start) in used:
                continue
            if label == "treatment to date" and ff._request_line.search(s.text) and not ff._given.search(s.text):
                continue  # the request's own line ("Quantity: 12 visits") is not treatment already given
            heading_only = re.fullmatch(r"[A-Z0-9 /&()'-]+:?\s*\.?", s.text.strip()) is not None
            if re.search(pattern, s.text, re.I | re.M) and len(s.text) >= 15 and not heading_only:
                text = s.text if len(s.text) <= MAX_FACT_CHARS else s.text[:MAX_FACT_CHARS].rsplit(" ", 1)[0] + " ..."
                facts.append(SourcedFact(label, text, s.evidence()))
                used.add((s.document, s.start))
                taken += 1
    ur = next((d for d in case.documents if d.is_ur), None)
    if ur is not None:
        date_m = re.search(r"(?:date of (?:determination|decision|review)|determination date)\s*:?\s*([0-9/\-]+)", ur.text, re.I)
        if date_m:
            line = f"Utilization review dated {date_m.group(1)} did not certify: " + "; ".join(items) + "."
            facts.append(SourcedFact("utilization review", line, Evidence(document=ur.name, start=date_m.start(), end=date_m.end(), quote=date_m.group(0))))
    return facts


_OWN = {"applicant", "work status", "request", "utilization review"}


def fallback_summary(prompts: PromptLibrary, facts: list[SourcedFact]) -> str:
    """Our own opening sentences, then the record's sentences attributed to their document, grouped by document."""
    from drafter.argument import describe_document

    blocks: list[dict] = []
    for f in facts:
        if f.label in _OWN:
            blocks.append({"where": "", "texts": [f.text]})
            continue
        where = describe_document(f.span)
        text = re.sub(r"(?:^|\s)#+\s*[A-Za-z /&-]{1,40}(?:\.|$)", " ", f.text)  # markdown headings glued to a sentence
        text = re.sub(r"^\s*(?:\d{1,2}[.)]|-)\s+", "", text).strip().rstrip(":;,")
        if not text:
            continue
        text += "" if text.endswith(".") else "."
        if blocks and blocks[-1]["where"] == where:
            blocks[-1]["texts"].append(text)
        else:
            blocks.append({"where": where, "texts": [text]})
    order = sorted(range(len(blocks)), key=lambda i: (blocks[i]["where"] != "" and "utilization" in " ".join(blocks[i]["texts"]).lower(), i))
    return prompts.render("fallback_summary", blocks=[blocks[i] for i in order])


def summarize(chat: BaseChatModel | None, backend: str, prompts: PromptLibrary, facts: list[SourcedFact], max_tokens: int, retries: int) -> CaseSummary:
    """Summary whose every sentence lists the facts it rests on; unsupported sentences are dropped."""
    sources = [{"label": f.label, "file": f.span.document, "start": f.span.start, "end": f.span.end, "quote": f.span.quote} for f in facts]
    if not facts:
        return CaseSummary("The case file contains no sentences the summary rules recognise; the reviewer must write the summary.", [], True)
    gen: Generation | None = None
    dropped: list[tuple[str, str]] = []
    if chat is not None:
        user = prompts.render("case_summary", facts=[f"({f.label}) {clean_for_prompt(f.text)}" for f in facts])
        gen = generate_structured(chat, backend, prompts.render("system"), user, SummaryOut, None, max_tokens, retries)
        if gen.value is not None:
            kept: list[str] = []
            used_ids: set[int] = set()
            for sent in gen.value.sentences:  # type: ignore[attr-defined]
                idx = [int(x[1:]) - 1 for x in sent.fact_ids if re.fullmatch(r"F\d+", x) and 0 < int(x[1:]) <= len(facts)]
                if not idx:
                    dropped.append((sent.text, "it cites no listed fact"))
                    continue
                support = " ".join(facts[i].text for i in idx)
                why = check_sentence(sent.text, support, set())
                if not why and _FIELD_LABEL.search(sent.text):
                    why = "it copies a record's field labels instead of writing a sentence"
                if why and "page" not in why:
                    dropped.append((sent.text, why))
                    continue
                kept.append(sent.text.strip())
                used_ids.update(idx)
            if kept:
                used = [sources[i] for i in sorted(used_ids)]
                return CaseSummary(" ".join(kept), used, False, dropped, gen)
    return CaseSummary(fallback_summary(prompts, facts), sources, True, dropped, gen)
