"""Drafting: the decision rationale per item, written by the LLM from the criteria findings and the
retrieved passages, checked for grounding; a deterministic template when the model fails."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from drafter.criteria import Assessment
from drafter.grounding import GroundingReport, ground
from drafter.llm import Generation, generate_structured
from drafter.prompts import PromptLibrary
from drafter.retrieval import Hit

NECESSITY = {
    "upheld": "is not medically necessary",
    "overturned": "is medically necessary",
    "needs_review": "requires the reviewer's determination",
}
DECISION_WORD = {"upheld": "upheld", "overturned": "overturned", "needs_review": "not decided: needs review"}
RECOMMENDS = {
    "recommended": "recommends this treatment.",
    "conditional": "recommends this treatment only when its criteria are met.",
    "not recommended": "does not recommend this treatment.",
}


class RationaleOut(BaseModel):
    """What the model must return for one item."""

    rationale: str = Field(max_length=2400)
    cited_chunk_ids: list[str] = Field(min_length=1, max_length=4)


@dataclass
class PassageView:
    chunk_id: str
    citation: str
    text: str
    pages: list[int]


@dataclass
class DraftedRationale:
    text: str
    cited_ids: list[str]
    fallback_used: bool
    grounding: GroundingReport
    generation: Generation | None = None
    notes: list[str] = field(default_factory=list)


def passage_views(passages: list[Hit], max_chars: int = 500) -> list[PassageView]:
    return [PassageView(h.chunk_id, h.citation, h.text[:max_chars], h.pages) for h in passages]


def rationale_schema(passage_ids: list[str]) -> dict:
    """JSON schema with the citation ids restricted to the passages retrieval returned."""
    schema = RationaleOut.model_json_schema()
    schema["properties"]["cited_chunk_ids"]["items"] = {"type": "string", "enum": passage_ids}
    return schema


def conclusion(item: str, decision: str) -> str:
    return f"Therefore, the request for {item} {NECESSITY[decision]}."


def _strip_conclusions(text: str) -> str:
    """Remove any sentence in which the model states necessity itself; the fixed conclusion is appended."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    keep = [s for s in sentences if not re.search(r"medically necessary|\btherefore\b", s, re.I)]
    return " ".join(keep)


def fallback_rationale(prompts: PromptLibrary, a: Assessment, passages: list[PassageView], recommendation: str) -> str:
    return prompts.render(
        "fallback_rationale", item=a.item, passages=passages[:1], findings=a.reasons,
        recommendation_phrase=RECOMMENDS.get(recommendation, "applies."), necessity_phrase=NECESSITY[a.decision],
    )


def draft_rationale(
    chat: BaseChatModel | None,
    backend: str,
    prompts: PromptLibrary,
    a: Assessment,
    passages: list[Hit],
    case_text: str,
    request_date: dt.date | None,
    recommendation: str,
    max_tokens: int,
    retries: int,
) -> DraftedRationale:
    """LLM rationale for a decided item, grounded and with a fixed conclusion; the template otherwise."""
    views = passage_views(passages)
    ids = [v.chunk_id for v in views]
    retrieved = set(ids)
    sources = "\n".join(f"{v.citation}\n{v.text}" for v in views) + "\n" + case_text + "\n" + a.item + "\n" + " ".join(a.reasons)
    pages = {p for v in views for p in v.pages}
    notes: list[str] = []
    gen: Generation | None = None
    if chat is not None and a.decision != "needs_review" and views:
        user = prompts.render(
            "rationale", item=a.item, request_date=str(request_date or "unknown"), decision_word=DECISION_WORD[a.decision],
            necessity_phrase=NECESSITY[a.decision], passages=views, findings=a.reasons,
        )
        gen = generate_structured(chat, backend, prompts.render("system"), user, RationaleOut, rationale_schema(ids), max_tokens, retries)
        if gen.value is not None:
            out: RationaleOut = gen.value  # type: ignore[assignment]
            cited = [c for c in dict.fromkeys(out.cited_chunk_ids)]
            cited_pages = {p for v in views if v.chunk_id in cited for p in v.pages} or pages
            body = _strip_conclusions(out.rationale)
            report = ground(body, sources, cited_pages, cited, retrieved)
            if report.invalid_citations:
                notes.append("model cited passages retrieval did not return: " + ", ".join(report.invalid_citations))
            elif report.kept:
                text = (report.text + " " + conclusion(a.item, a.decision)).strip()
                return DraftedRationale(text, [c for c in cited if c in retrieved], False, report, gen, notes)
            else:
                notes.append("no sentence of the model's rationale was grounded")
        else:
            notes.append(f"malformed model output after {gen.attempts} attempts")
    text = fallback_rationale(prompts, a, views, recommendation)
    report = ground(text, sources, pages, ids[:1], retrieved)
    if report.dropped:
        notes.append("the template restated something the sources do not hold: " + "; ".join(w for _, w in report.dropped))
    return DraftedRationale(text, ids[:1], True, report, gen, notes)
