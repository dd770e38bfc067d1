"""Per-item scores of a system's draft against the letter, and aggregation that streams over rows."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from collections import defaultdict
from typing import Any

from drafter.citations import NormCitation, family_of
from drafter.corpus.schema import TopicMeta
from drafter.items import drug_table, parse_item
from drafter.letter_parser import LetterItem
from drafter.metrics import MetricResult
from drafter.metrics import cost, decision, grounding, rationale
from drafter.metrics.citations import page_keys, precision_recall
from drafter.evaluation.systems import SystemDraft


class TopicMap:
    """Maps letter citations (guideline family + page or section) to corpus topic ids."""

    def __init__(self, topics: dict[str, TopicMeta]) -> None:
        self.topics = topics

    def of_citations(self, cites: list[NormCitation], date: dt.date | None) -> set[str]:
        out: set[str] = set()
        for c in cites:
            for t in self.topics.values():
                if family_of(t.guideline.value) != c.guideline:
                    continue
                if date and not t.in_force(date) and t.pages:
                    continue
                sec = (c.section or "").lower()
                if c.pages and set(c.pages) & set(t.pages):
                    if not sec.startswith("chapter") or sec == (t.section or "").lower():
                        out.add(t.id)
                elif sec.startswith("9792") and t.regulation and (sec.startswith(t.regulation.lower()) or t.regulation.lower().startswith(sec[:8])) and not c.pages:
                    if t.category.value == "definitions" or sec.rstrip("abcdefghij") == t.regulation:
                        out.add(t.id)
                elif sec and not c.pages and not sec.startswith(("9792", "chapter")) and sec in (t.section or "").lower():
                    out.add(t.id)
        return out


def draft_page_keys(d: SystemDraft) -> set[tuple[str, int]]:
    return {(family_of(c["guideline"]), p) for c in d.citations for p in c.get("pages", [])}


_VECTOR_CACHE: dict[str, list[float]] = {}


def _vectors(embed: Any, texts: list[str]) -> list[list[float]]:
    """Embeddings with a small cache: the letter's rationale is the same for every system scored."""
    missing = [t for t in dict.fromkeys(texts) if t not in _VECTOR_CACHE]
    if missing:
        if len(_VECTOR_CACHE) > 2000:
            _VECTOR_CACHE.clear()
        # one text at a time: a text batched with a longer one embeds ~1e-7 differently, and which texts share a
        # batch depends on what this process scored before (the Ray and pool runners must agree to the digit)
        _VECTOR_CACHE.update((t, embed.embed_documents([t])[0]) for t in missing)
    return [_VECTOR_CACHE[t] for t in texts]


def score_item(gold: LetterItem, d: SystemDraft, topic_map: TopicMap, date: dt.date | None, embed: Any | None) -> dict[str, MetricResult]:
    """Every metric for one item, each with its reason."""
    drugs = {n for n in drug_table() if len(n) >= 5}
    m: dict[str, MetricResult] = {"decision": decision.item_decision(gold.decision, d.decision)}
    gp, dp = page_keys(gold.citations), draft_page_keys(d)
    m["citation_page_precision"], m["citation_page_recall"] = precision_recall(gp, dp, "guideline pages")
    gt = topic_map.of_citations(gold.citations, date)
    dt_ = {c["chunk_id"].split("#")[0] for c in d.citations}
    m["citation_topic_precision"], m["citation_topic_recall"] = precision_recall(gt, dt_, "topics")
    m["rouge_l"] = rationale.rouge_l(gold.rationale, d.rationale)
    m["key_fact_recall"] = rationale.key_fact_recall(gold.rationale, d.rationale, drugs)
    if embed is not None and gold.rationale and d.rationale:
        a, b = _vectors(embed, [gold.rationale[:2000], d.rationale[:2000]])
        m["embedding_cosine"] = rationale.cosine(a, b)
    else:
        m["embedding_cosine"] = MetricResult(value=None, reason="no rationale to compare")
    if d.grounded_fraction is not None:
        m["grounded_fraction"] = grounding.supported_share(d.grounded_fraction, d.dropped)
        m["unretrieved_citations"] = grounding.unretrieved_citations([c["chunk_id"] for c in d.citations], d.retrieved)
        m["degenerate_output"] = MetricResult(value=float(d.degenerate), reason="a model attempt failed an output check" if d.degenerate
                                              else "no model attempt failed an output check")
        m["fallback_used"] = MetricResult(value=float(d.fallback_used), reason="the template wrote the rationale" if d.fallback_used else "model prose")
        m["final_check_failures"] = MetricResult(value=float(len(d.checks_failed)), reason=", ".join(d.checks_failed) or "none")
        m["edition_errors"] = MetricResult(value=float("edition" in d.checks_failed), reason="an edition not in force or not cited"
                                           if "edition" in d.checks_failed else "none")
    m["latency_s"] = cost.latency(d.seconds)
    m["tokens"] = cost.tokens(d.prompt_tokens, d.completion_tokens)
    return m


class Aggregator:
    """Collects what the aggregate metrics need, row by row, without keeping the drafts."""

    def __init__(self) -> None:
        self.pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.sets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
        self.category: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))

    def add(self, row: dict) -> None:
        s = row["system"]
        gold, got = row["gold"]["decision"], row["draft"]["decision"]
        self.pairs[s].append((gold, got))
        cat = parse_item(row["gold"]["item"]).category
        self.category[s][cat][0] += gold == got
        self.category[s][cat][1] += 1
        for name, mr in row["metrics"].items():
            if mr["value"] is not None and name != "decision":
                self.values[s][name].append(float(mr["value"]))
        self.values[s]["_citations"].append(float(len(row["draft"].get("citations", []))))
        for kind in ("page", "topic"):
            c = row.get("counts", {}).get(kind)
            if c:
                acc = self.sets[s][kind]
                for i in range(4):
                    acc[i] += c[i]

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s, pairs in self.pairs.items():
            r: dict[str, Any] = {"items": len(pairs)}
            for name, fn in (("decision_accuracy", decision.accuracy), ("decision_macro_f1", decision.macro_f1),
                             ("decision_kappa", decision.cohen_kappa), ("overturn_recall", decision.overturn_recall)):
                mr = fn(pairs)
                r[name] = {"value": mr.value, "reason": mr.reason}
            r["confusion"] = decision.confusion(pairs)
            for kind in ("page", "topic"):
                hit_p, n_draft, hit_r, n_gold = self.sets[s][kind]
                r[f"citation_{kind}_precision_micro"] = {"value": hit_p / n_draft if n_draft else None, "reason": f"{hit_p} of {n_draft} drafted {kind}s in the letters"}
                r[f"citation_{kind}_recall_micro"] = {"value": hit_r / n_gold if n_gold else None, "reason": f"{hit_r} of {n_gold} letter {kind}s in the drafts"}
            for name, vals in self.values[s].items():
                if not vals or name.startswith("_"):
                    continue
                entry = {"value": statistics.fmean(vals), "reason": f"mean over {len(vals)} items"}
                if name in ("latency_s", "tokens"):
                    srt = sorted(vals)
                    entry["p50"] = srt[len(srt) // 2]
                    entry["p95"] = srt[min(len(srt) - 1, round(0.95 * (len(srt) - 1)))]
                if name == "unretrieved_citations":
                    entry = {"value": sum(vals), "reason": "citations to passages retrieval did not return (must be 0)"}
                    cited = self.values[s].get("_citations", [])
                    total = sum(cited)
                    r["citations_retrieved_share"] = {"value": 1 - sum(vals) / total if total else None,
                                                      "reason": f"{total - sum(vals):.0f} of {total:.0f} citations are chunks retrieval returned"}
                r[name] = entry
            r["per_category_accuracy"] = {c: {"value": ok / n, "items": n} for c, (ok, n) in sorted(self.category[s].items())}
            out[s] = r
        return out


def iter_rows(results: Path) -> Iterator[dict]:
    """The rows of a results.jsonl, one at a time; a line cut off by an interrupted run is skipped."""
    with open(results, encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def set_counts(gold: set, draft: set) -> list[int]:
    """[hits among draft, draft size, hits among gold, gold size] for micro-averaging."""
    hit = len(gold & draft)
    return [hit, len(draft), hit, len(gold)]
