"""Retrieval benchmark: recall@1, recall@5, MRR and latency for dense, BM25 and hybrid, side by side.

    .venv/bin/python -m evals.retrieval.benchmark [--queries DIR] [--json OUT]

Builds the bundled index from scratch in a temporary DRAFTER_HOME (timed), then answers every labeled
query in evals/retrieval/queries/*.jsonl with each mode. A query counts as found at k when any of its
expected topic ids is among the first k hits (hits are one per topic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("dense", "bm25", "hybrid")


def load_queries(directory: Path) -> list[dict]:
    rows = []
    for f in sorted(directory.glob("*.jsonl")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                row["source"] = f"{f.name}:{n}"
                rows.append(row)
    return rows


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[i]


def evaluate(retriever, queries: list[dict], mode: str, k: int = 5) -> dict:
    from drafter.retrieval import parse_date

    r1 = r5 = rr = 0.0
    lat: list[float] = []
    misses = []
    for q in queries:
        date = parse_date(q.get("date"))
        retriever.clear_cache()  # measure the query embedding every time
        t0 = time.perf_counter()
        hits = retriever.search(q["query"], k=k, date=date, mode=mode)
        lat.append((time.perf_counter() - t0) * 1000)
        ids = [h.topic_id for h in hits]
        expected = set(q["expected"])
        rank = next((i for i, t in enumerate(ids, 1) if t in expected), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        rr += 1 / rank if rank else 0
        if rank is None:
            misses.append({"query": q["query"], "date": q.get("date"), "expected": q["expected"], "got": ids[:3]})
    n = len(queries)
    return {
        "recall@1": r1 / n, "recall@5": r5 / n, "mrr": rr / n,
        "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", default=str(HERE / "queries"))
    ap.add_argument("--json", help="write full results (with misses) to this file")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args(argv)

    home = tempfile.mkdtemp(prefix="imr-bench-")
    os.environ["DRAFTER_HOME"] = home
    from drafter.corpus.topics import load_corpus
    from drafter.ingest import ingest_corpus, open_index
    from drafter.retrieval import HybridRetriever
    from drafter.settings import Settings

    settings = Settings()
    queries = load_queries(Path(args.queries))
    known = {t.meta.id for t in load_corpus(settings.corpus_dir)}
    unknown = sorted({e for q in queries for e in q["expected"] if e not in known})
    if unknown:
        print(f"queries name topic ids that do not exist: {unknown}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    index = open_index(settings, for_indexing=True)
    t_load = time.perf_counter() - t0
    report = ingest_corpus(index)
    t_build = time.perf_counter() - t0
    index.embeddings.set_threads(settings.embedding.threads)
    retriever = HybridRetriever(index, settings.retrieval)
    for q in queries[:10]:  # warm-up: first-call costs are not query latency
        retriever.search(q["query"], mode="hybrid")

    results = {m: evaluate(retriever, queries, m) for m in MODES}
    print(f"Index build: {t_build:.1f} s (model load {t_load:.1f} s), {report.chunks_embedded} chunks from "
          f"{len(known)} topics; {len(queries)} labeled queries; threads={settings.embedding.threads}")
    print(f"{'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for m in MODES:
        r = results[m]
        print(f"{m:<8} {r['recall@1']:>9.3f} {r['recall@5']:>9.3f} {r['mrr']:>7.3f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}")
    by_set: dict[str, list[dict]] = {}
    for q in queries:
        by_set.setdefault(q["source"].split(":")[0], []).append(q)
    print("recall@5 by query set (dense / bm25 / hybrid):")
    for name, qs in sorted(by_set.items()):
        missed = {m: {(x["query"], x["date"]) for x in results[m]["misses"]} for m in MODES}
        cells = [sum((q["query"], q.get("date")) not in missed[m] for q in qs) / len(qs) for m in MODES]
        print(f"  {name:<28} n={len(qs):<4} " + " / ".join(f"{c:.3f}" for c in cells))
    gain = results["hybrid"]["recall@5"] - results["dense"]["recall@5"]
    print(f"hybrid - dense recall@5: {gain * 100:+.1f} points")
    if args.show_misses:
        for q in results["hybrid"]["misses"]:
            print(f"  miss: {q['query']!r} ({q['date']}) expected {q['expected']} got {q['got']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"build_s": t_build, "queries": len(queries), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
