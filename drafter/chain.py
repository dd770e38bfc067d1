"""The drafting chain: case file -> disputed items -> retrieval -> criteria -> draft -> validation -> letter."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from drafter.corpus.schema import TopicMeta
from drafter.corpus.topics import load_corpus
from drafter.argument import Argument, associated_argument, build_argument, cite_named_pages, definition_topics
from drafter.associated import Association, associations, drafting_order, follow_served
from drafter.criteria import Assessment, CriterionResult, assess, governing_hits
from drafter.drafting import draft_rationale
from drafter.output_checks import CheckResult
from drafter.facts import Fact, FactFinder
from drafter.ingest import ensure_index, open_index
from drafter.intake import Case, load_case
from drafter.items import ParsedItem, parse_item
from drafter.letters import render_letter
from drafter.llm import make_chat_model, model_label
from drafter.prompts import PromptLibrary
from drafter.retrieval import Hit, HybridRetriever
from drafter.settings import Settings
from drafter.summary import CaseSummary, select_facts, summarize

log = logging.getLogger(__name__)


class CitationOut(BaseModel):
    chunk_id: str
    guideline: str
    edition: str
    topic: str
    heading: str = ""  # the section of the topic the passage comes from, so two passages of one topic read apart
    pages: list[int] = Field(default_factory=list)


class ItemDraft(BaseModel):
    item: str
    parsed: ParsedItem
    decision: str
    basis: str = "none"
    confidence: str = "low"
    reasons: list[str]
    phase: str
    governing_topic: str | None
    criteria: list[CriterionResult]
    facts: dict[str, Fact] = Field(default_factory=dict)
    rationale: str
    citations: list[CitationOut]
    retrieved_chunk_ids: list[str]
    retrieved_scores: dict[str, float] = Field(default_factory=dict)
    grounded_fraction: float
    dropped_sentences: list[dict] = Field(default_factory=list)
    fallback_used: bool
    argument: Argument | None = None
    checks: list[CheckResult] = Field(default_factory=list, description="output checks on the rationale as drafted")
    degenerate: bool = Field(default=False, description="a model attempt failed an output check (then re-asked or replaced)")
    model_log: dict = Field(default_factory=dict, description="the rendered prompt and every raw model reply with its problems")
    notes: list[str] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict)


class SummaryOutput(BaseModel):
    text: str
    sources: list[dict]
    fallback_used: bool
    dropped_sentences: list[dict] = Field(default_factory=list)


class CaseDraft(BaseModel):
    case_summary: SummaryOutput
    items: list[ItemDraft]
    letter_text: str
    model: str
    prompt_version: str
    request_date: str | None
    request_date_source: str
    timings_s: dict[str, float]
    warnings: list[str] = Field(default_factory=list)


class Drafter:
    """Holds what is costly to load (index, embeddings, topics, prompts, chat model) across cases."""

    def __init__(self, settings: Settings, chat: BaseChatModel | None = None, use_llm: bool = True) -> None:
        t0 = time.perf_counter()
        self.settings = settings
        self.prompts = PromptLibrary(settings.prompts_dir)
        index = open_index(settings)
        ensure_index(index)
        self.retriever = HybridRetriever(index, settings.retrieval)
        self.topics: dict[str, TopicMeta] = {t.meta.id: t.meta for t in load_corpus(settings.corpus_dir)}
        self.chat = chat if chat is not None else (make_chat_model(settings) if use_llm else None)
        self.model = model_label(settings) if self.chat is not None else "none (templates only)"
        self.load_s = time.perf_counter() - t0

    # -- per item ------------------------------------------------------------------------------------
    def topic_chunks(self, parsed: ParsedItem, hits: list[Hit], date: dt.date | None) -> list[Hit]:
        """More retrieved chunks of the governing topics, so each criterion can cite the passage with its page."""
        out: list[Hit] = []
        n = self.settings.retrieval.topic_passages
        for h in governing_hits(hits, parsed)[:2]:
            out += self.retriever.search(parsed.search_text, k=n, date=date, filters={"topic_id": h.topic_id}, per_topic=n)
        return out

    @staticmethod
    def passages_for(a: Assessment, retrieved: list[Hit], limit: int = 4) -> list[Hit]:
        """Passages for the rationale: the ones the deciding criteria cite first, then the governing topics' best."""
        by_id = {h.chunk_id: h for h in retrieved}
        order = [c.citation.chunk_id for c in a.criteria if c.citation and c.status != "met"]
        order += [c.citation.chunk_id for c in a.criteria if c.citation]
        order += [h.chunk_id for h in retrieved if h.topic_id in a.topic_ids[:2]]
        return [by_id[c] for c in dict.fromkeys(order) if c in by_id][:limit]

    def definition_chunks(self, a: Assessment, date: dt.date | None) -> list[Hit]:
        """Passages of the definitions a deciding fact needs (9792.20(f), page 8), retrieved in force on the date."""
        deciding = {r.fact for r in a.criteria if r.decisive and r.status == "not_met"}
        out: list[Hit] = []
        for fact in deciding:
            for spec in definition_topics(fact):
                out += self.retriever.search(spec["query"], k=1, date=date, filters={"topic_id": spec["topic_id"]}, per_topic=1)
        return out

    def draft_item(self, item: str, case: Case, ff: FactFinder, case_text: str, use_llm: bool = True,
                   guidance: str = "", regenerate: int = 0, link: Association | None = None,
                   served: list[ItemDraft] | None = None) -> ItemDraft:
        """One item. `guidance` is the reviewer's instruction for the prose (never record text); `regenerate`
        counts Regenerate presses, each sampling with another seed. `link` says which requests of the case the item
        serves (pre-operative clearance for a surgery) and `served` holds their drafts."""
        s = self.settings
        t0 = time.perf_counter()
        parsed = parse_item(item)
        hits = self.retriever.search(parsed.search_text, k=s.retrieval.k, date=case.request_date)
        retrieved = hits + self.topic_chunks(parsed, hits, case.request_date)
        t1 = time.perf_counter()
        a = assess(item, parsed, hits, self.topics, ff, case.request_date, passages=retrieved)
        if link is not None and served:
            a = follow_served(a, link, served)
        if a.basis == "associated":
            argument = associated_argument(item, link.what if link else "", [(d.item, d.argument) for d in served or [] if d.argument])
            # a page the served point names is cited by the passage its own draft cited for it
            served_cited = [self.retriever.hit(c.chunk_id) for d in served or [] for c in d.citations if c.chunk_id in self.retriever.by_id]
            cite_named_pages(argument, served_cited, list(dict.fromkeys(h.topic_id for h in served_cited)))
            # the served requests' own passages, as retrieval returned them for those requests
            passages = [self.retriever.hit(cid) for cid in argument.chunk_ids if cid in self.retriever.by_id]
            retrieved += passages
        else:
            definitions = self.definition_chunks(a, case.request_date) if a.decision == "upheld" else []
            retrieved += definitions
            governing = next((h for h in retrieved if h.topic_id == a.governing_topic), None)
            argument = build_argument(a, self.topics, definitions, lambda name: ff.find(name, parsed), s.checks.max_points, governing,
                                      medications=[name for name, _ in ff.medications(parsed, s.checks.max_medications_named)])
            passages = self.passages_for(a, retrieved) if a.governing_topic else []
            known = {h.chunk_id for h in passages}
            passages += [h for h in definitions if h.chunk_id not in known and h.chunk_id in argument.chunk_ids]
            cite_named_pages(argument, retrieved, a.topic_ids)
            # every passage the argument cites goes to the writer, whichever ranked among the best four
            known = {h.chunk_id for h in passages}
            passages += [h for h in {x.chunk_id: x for x in retrieved}.values() if h.chunk_id in argument.chunk_ids and h.chunk_id not in known]
        t2 = time.perf_counter()
        d = draft_rationale(self.chat if use_llm else None, s, self.prompts, argument, a.reasons, passages, case_text, case.request_date,
                            self.topics, guidance=guidance, regenerate=regenerate)
        t3 = time.perf_counter()
        by_id = {h.chunk_id: h for h in passages}
        citations = [CitationOut(chunk_id=h.chunk_id, guideline=h.guideline, edition=h.edition, topic=h.topic, heading=h.heading, pages=h.pages)
                     for cid in d.cited_ids if (h := by_id.get(cid))]
        gen = d.generation
        return ItemDraft(
            item=item, parsed=parsed, decision=a.decision, basis=a.basis, confidence=a.confidence, reasons=a.reasons, facts=a.facts, phase=a.phase, governing_topic=a.governing_topic,
            criteria=a.criteria, rationale=d.text, citations=citations, retrieved_chunk_ids=list(dict.fromkeys(h.chunk_id for h in retrieved)),
            retrieved_scores={h.chunk_id: h.score for h in reversed(retrieved)},
            grounded_fraction=round(d.grounding.grounded_fraction, 3),
            dropped_sentences=[{"sentence": x, "why": w} for x, w in d.grounding.dropped],
            fallback_used=d.fallback_used, argument=argument, checks=d.checks, degenerate=d.degenerate,
            model_log={"prompt": d.prompt, "attempts": [vars(x) for x in d.attempts]}, notes=d.notes,
            timings_s={"retrieval": round(t1 - t0, 4), "criteria": round(t2 - t1, 4), "generation": round(t3 - t2, 3)},
            tokens={"prompt": gen.prompt_tokens if gen else 0, "completion": gen.completion_tokens if gen else 0},
        )

    def iter_items(self, case: Case, ff: FactFinder, case_text: str, use_llm: bool = True) -> Iterator[tuple[int, ItemDraft]]:
        """(index, draft) for every item of the case, each request before the requests that serve it (a surgery
        before its pre-operative clearance), so those follow its decision."""
        links = associations(case.items)
        done: dict[int, ItemDraft] = {}
        for n in drafting_order(case.items):
            link = links.get(n)
            served = [done[p] for p in link.primaries if p in done] if link else None
            done[n] = self.draft_item(case.items[n], case, ff, case_text, use_llm, link=link, served=served)
            yield n, done[n]

    # -- per case ------------------------------------------------------------------------------------
    def summarize(self, case: Case, ff: FactFinder, use_llm: bool = True) -> CaseSummary:
        """The case summary, as the CLI, the eval and the reviewer app all make it."""
        s = self.settings
        return summarize(self.chat if use_llm else None, s.llm.backend, self.prompts, select_facts(case, ff, case.items, None),
                         s.llm.max_tokens_summary, s.llm.retries, retry_temperature=s.checks.retry_temperature)

    def draft(self, path: Path, items: list[str] | None = None, request_date: dt.date | None = None) -> CaseDraft:
        t0 = time.perf_counter()
        case = load_case(path, self.settings.intake, items=items, request_date=request_date)
        return self.draft_case(case, started=t0)

    def draft_case(self, case: Case, started: float | None = None, summary: bool = True, use_llm: bool = True) -> CaseDraft:
        """Draft an already-loaded case (the eval harness builds cases from letters in memory)."""
        t0 = started if started is not None else time.perf_counter()
        warnings = list(case.warnings) + [i.warning() for i in case.instructions]
        if not case.items:
            warnings.append("No disputed items were found in the case file; give them with --item.")
        if case.request_date is None:
            warnings.append("No request or UR date was found; every guideline edition was searched. Give --request-date.")
        ff = FactFinder(case)
        case_text = "\n".join(d.text for d in case.evidence)
        t_intake = time.perf_counter() - t0
        drafts = [d for _, d in sorted(self.iter_items(case, ff, case_text, use_llm), key=lambda x: x[0])]
        t1 = time.perf_counter()
        summ = self.summarize(case, ff, use_llm=summary and use_llm)
        t2 = time.perf_counter()
        letter = render_letter(case, summ.text, [d.model_dump() for d in drafts], self.model, self.prompts.version)
        return CaseDraft(
            case_summary=SummaryOutput(text=summ.text, sources=summ.sources, fallback_used=summ.fallback_used,
                                       dropped_sentences=[{"sentence": x, "why": w} for x, w in summ.dropped]),
            items=drafts, letter_text=letter, model=self.model, prompt_version=self.prompts.version,
            request_date=str(case.request_date) if case.request_date else None, request_date_source=case.date_source,
            timings_s={"load": round(self.load_s, 3), "intake": round(t_intake, 3), "items": round(t1 - t0 - t_intake, 3),
                       "summary": round(t2 - t1, 3), "total": round(time.perf_counter() - t0, 3)},
            warnings=warnings,
        )
