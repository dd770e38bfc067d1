"""The systems an eval run compares on the same items: the full chain and three baselines."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from pydantic import BaseModel, Field

from drafter.chain import Drafter, ItemDraft
from drafter.intake import Case, Document
from drafter.letter_parser import ParsedLetter
from drafter.llm import generate_structured

SYSTEMS = ("full", "retrieval_only", "llm_no_retrieval", "always_uphold")
EXTRA_SYSTEMS = ("precedent_vote",)  # opt-in (--systems): the letters set is ingested into the precedent archive first

_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                        "september", "october", "november", "december"], 1)}
_DATE_WORDS = r"(January|February|March|April|May|June|July|August|September|October|November|December)\s+(\d{1,2}),?\s+(\d{4})"


class SystemDraft(BaseModel):
    """One system's answer for one item, reduced to what the metrics need."""

    decision: str
    rationale: str = ""
    citations: list[dict] = Field(default_factory=list)
    retrieved: list[str] = Field(default_factory=list)
    grounded_fraction: float | None = None
    dropped: int = 0
    fallback_used: bool = False
    degenerate: bool = False
    checks_failed: list[str] = Field(default_factory=list, description="output checks the final rationale fails")
    attempts: list[dict] = Field(default_factory=list, description="each model attempt: its raw reply and why it was not "
                                 "used (empty problems: it was), so QA can read what the checks caught")
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _word_date(m: re.Match) -> dt.date | None:
    try:
        return dt.date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    except ValueError:
        return None


def letter_request_date(letter: ParsedLetter) -> dt.date | None:
    """The request's date as the letter gives it: the UR report date, else header dates, else the latest date."""
    from drafter.intake import parse_us_date

    s = letter.case_summary
    m = re.search(r"utilization review[^.]{0,40}?dated\s+" + _DATE_WORDS, s, re.I)
    if m and (d := _word_date(m)):
        return d
    m = re.search(r"utilization review[^.]{0,40}?dated\s+(\d{1,2}/\d{1,2}/\d{2,4})", s, re.I)
    if m and (d := parse_us_date(m.group(1))):
        return d
    for key in ("UR Denial Date", "Date of UR Decision", "Application Received", "Date Assigned"):
        if key in letter.header and (d := parse_us_date(letter.header[key])):
            return d
    dates = [d for m in re.finditer(_DATE_WORDS, s) if (d := _word_date(m))]
    return max(dates) if dates else None


def letter_case(letter: ParsedLetter, name: str) -> Case:
    """The drafting input a letter gives: its case summary as the record, its items, its request date."""
    doc = Document(name=f"{name}#case-summary", text=letter.case_summary or "(no case summary)", kind="report")
    return Case(documents=[doc], items=[i.item for i in letter.items], request_date=letter_request_date(letter), date_source="letter")


def from_item_draft(d: ItemDraft) -> SystemDraft:
    return SystemDraft(
        decision=d.decision, rationale=d.rationale, citations=[c.model_dump() for c in d.citations], retrieved=d.retrieved_chunk_ids,
        grounded_fraction=d.grounded_fraction, dropped=len(d.dropped_sentences), fallback_used=d.fallback_used,
        degenerate=d.degenerate, checks_failed=[c.name for c in d.checks if not c.passed],
        attempts=[{"raw": a.get("raw", ""), "problems": a.get("problems", [])} for a in (d.model_log or {}).get("attempts", [])],
        seconds=sum(d.timings_s.values()), prompt_tokens=d.tokens.get("prompt", 0), completion_tokens=d.tokens.get("completion", 0),
    )


class NoRetrievalOut(BaseModel):
    decision: str
    rationale: str


def llm_without_retrieval(drafter: Drafter, case: Case, item: str) -> SystemDraft:
    """The baseline that asks the model to decide and write with no passages and no criteria."""
    if drafter.chat is None:
        return SystemDraft(decision="needs_review", rationale="", fallback_used=True)
    t0 = time.perf_counter()
    user = drafter.prompts.render("no_retrieval", item=item, case_summary=case.documents[0].text[:3000])
    schema = {"type": "object", "properties": {"decision": {"type": "string", "enum": ["upheld", "overturned"]},
                                               "rationale": {"type": "string"}}, "required": ["decision", "rationale"]}
    g = generate_structured(drafter.chat, drafter.settings.llm.backend, drafter.prompts.render("system"), user, NoRetrievalOut, schema,
                            drafter.settings.llm.max_tokens_rationale, drafter.settings.llm.retries)
    value = g.value
    decision = value.decision if value is not None and value.decision in ("upheld", "overturned") else "needs_review"  # type: ignore[attr-defined]
    return SystemDraft(decision=decision, rationale=value.rationale if value is not None else "", fallback_used=value is None,  # type: ignore[attr-defined]
                       seconds=time.perf_counter() - t0, prompt_tokens=g.prompt_tokens, completion_tokens=g.completion_tokens)


def precedent_vote(archive: Any, letter: ParsedLetter, case: Case, letter_hash: str, k: int | None = None) -> list[SystemDraft]:
    """The precedent baseline: each item gets the majority decision of the k nearest past items by item text and
    the facts the case summary names, leave-one-out (no item of this letter, matched by content hash, is a neighbour)."""
    from drafter.precedents.facts import read_facts
    from drafter.precedents.search import find_precedents, vote

    facts = read_facts(case.documents[0].text) if case.documents else []
    out = []
    for it in letter.items:
        t0 = time.perf_counter()
        res = find_precedents(it.item, facts=facts, k=k, archive=archive, exclude_hash=letter_hash)
        out.append(SystemDraft(decision=vote(res), retrieved=[p.id for p in res.precedents], seconds=time.perf_counter() - t0))
    return out
