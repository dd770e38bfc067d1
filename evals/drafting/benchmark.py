"""Drafting benchmark on the sample cases: decision agreement, citation validity, grounding, latency, RSS.

    .venv/bin/python -m evals.drafting.benchmark [--cases DIR ...] [--backend llamacpp|fake] [--no-llm]
                                                 [--limit N] [--json OUT] [--show]

Each case folder holds the documents and an expected.json (expected decision and cited topics per item).
Decisions come from the deterministic criteria stage, so they do not depend on the backend; the backend
changes the rationale and summary text, their grounding, and the cost. evals/cases is the development
set (the rules were tuned on it); evals/cases-heldout was written separately and is reported apart.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEFAULT_SETS = [HERE / "cases", HERE / "cases-heldout"]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=[str(p) for p in DEFAULT_SETS])
    ap.add_argument("--backend", default=None, help="llamacpp (default setting), openai or fake")
    ap.add_argument("--no-llm", action="store_true", help="decisions and template rationales only")
    ap.add_argument("--limit", type=int, default=0, help="at most N cases per set")
    ap.add_argument("--json", help="write per-item results here")
    ap.add_argument("--show", action="store_true", help="print each item's result")
    args = ap.parse_args(argv)

    from drafter.chain import Drafter
    from drafter.settings import Settings

    settings = Settings()
    if args.backend:
        settings.llm.backend = args.backend
    t0 = time.perf_counter()
    drafter = Drafter(settings, use_llm=not args.no_llm)
    print(f"model: {drafter.model}; prompts {drafter.prompts.version}; load {time.perf_counter() - t0:.1f} s")
    rows: list[dict] = []
    summaries: list[dict] = []
    for set_dir in map(Path, args.cases):
        folders = sorted(p for p in set_dir.glob("case-*") if (p / "expected.json").exists())
        if args.limit:
            folders = folders[: args.limit]
        for folder in folders:
            exp = json.loads((folder / "expected.json").read_text())
            items = [i["item"] for i in exp["items"]]
            draft = drafter.draft(folder, items=items)
            summaries.append({"case": folder.name, "seconds": draft.timings_s["summary"], "fallback": draft.case_summary.fallback_used})
            for e, d in zip(exp["items"], draft.items):
                cited_topics = {c.chunk_id.split("#")[0] for c in d.citations}
                retrieved = set(d.retrieved_chunk_ids)
                row = {
                    "set": set_dir.name, "case": folder.name, "item": e["item"], "expected": e["expected_decision"],
                    "decision": d.decision, "agree": d.decision == e["expected_decision"],
                    "citations": [c.chunk_id for c in d.citations],
                    "citations_valid": all(c.chunk_id in retrieved for c in d.citations),
                    "expected_topic_cited": bool(cited_topics & set(e["expected_topics"])) if d.citations else None,
                    "governing_topic": d.governing_topic,
                    "grounded_fraction": d.grounded_fraction, "fallback_used": d.fallback_used, "degenerate": d.degenerate,
                    "final_checks_failed": [c.name for c in d.checks if not c.passed],
                    "timings": d.timings_s, "tokens": d.tokens, "reasons": d.reasons,
                    "rationale": d.rationale, "notes": d.notes, "argument": d.argument.bullets() if d.argument else [],
                }
                rows.append(row)
                if args.show:
                    mark = "ok " if row["agree"] else "XX "
                    print(f"{mark}{folder.name[:32]:<32} {e['item'][:40]:<40} exp {e['expected_decision']:<12} got {d.decision:<12} "
                          f"grounded {d.grounded_fraction:.2f} fallback {d.fallback_used} {d.timings_s['generation']:.1f}s"
                          + (f" checks failed: {[f'{c.name}: {c.reason}' for c in d.checks if not c.passed]}" if row["final_checks_failed"] else ""),
                          flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\n{len(rows)} items in {len({r['case'] for r in rows})} cases")
    for name in sorted({r["set"] for r in rows}):
        rs = [r for r in rows if r["set"] == name]
        agree = sum(r["agree"] for r in rs)
        by = {k: sum(1 for r in rs if r["expected"] == k) for k in ("upheld", "overturned", "needs_review")}
        print(f"  decision agreement [{name}]: {agree}/{len(rs)} = {agree / len(rs):.1%}  (expected: {by})")
    cited = [r for r in rows if r["citations"]]
    print(f"  citations that are retrieved chunks: {sum(r['citations_valid'] for r in cited)}/{len(cited)} items "
          f"({sum(len(r['citations']) for r in cited)} citations)")
    hit = [r for r in cited if r["expected_topic_cited"] is not None]
    print(f"  items citing an expected topic: {sum(r['expected_topic_cited'] for r in hit)}/{len(hit)}")
    drafted = [r for r in rows if r["decision"] != "needs_review"]
    print(f"  mean grounded fraction: {statistics.mean(r['grounded_fraction'] for r in rows):.3f} (all items), "
          f"{statistics.mean(r['grounded_fraction'] for r in drafted):.3f} (decided items)")
    print(f"  fallback template used: {sum(r['fallback_used'] for r in rows)}/{len(rows)} items; "
          f"summary fallback {sum(s['fallback'] for s in summaries)}/{len(summaries)} cases")
    print(f"  degenerate model outputs (an attempt failed an output check): {sum(r['degenerate'] for r in rows)}/{len(rows)} items; "
          f"final rationales failing a check: {sum(bool(r['final_checks_failed']) for r in rows)}; "
          f"edition errors: {sum('edition' in r['final_checks_failed'] for r in rows)}")
    per_item = [r["timings"]["retrieval"] + r["timings"]["criteria"] + r["timings"]["generation"] for r in rows]
    print(f"  per-item latency: p50 {pct(per_item, 50):.1f} s, p95 {pct(per_item, 95):.1f} s "
          f"(retrieval p50 {pct([r['timings']['retrieval'] for r in rows], 50) * 1000:.0f} ms, "
          f"criteria p50 {pct([r['timings']['criteria'] for r in rows], 50) * 1000:.0f} ms, "
          f"generation p50 {pct([r['timings']['generation'] for r in rows], 50):.1f} s)")
    toks = [r["tokens"] for r in rows if r["tokens"].get("prompt")]
    if toks:
        print(f"  tokens per item: prompt p50 {pct([t['prompt'] for t in toks], 50):.0f}, completion p50 {pct([t['completion'] for t in toks], 50):.0f}")
    print(f"  case summary: p50 {pct([s['seconds'] for s in summaries], 50):.1f} s per case")
    floor = measure_floor(drafter.chat)
    if floor and toks:
        pp, tg = floor
        ratios = [r["timings"]["generation"] / (r["tokens"]["prompt"] / pp + r["tokens"]["completion"] / tg)
                  for r in rows if r["tokens"].get("prompt")]
        print(f"  compute floor on this machine: prompt {pp:.0f} tok/s, generation {tg:.1f} tok/s; per-item generation / floor: "
              f"p50 {pct(ratios, 50):.2f}x, p95 {pct(ratios, 95):.2f}x (below 1 where the shared system prompt was cached)")
    print(f"  peak RSS: {peak_mb:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summaries": summaries, "peak_rss_mb": peak_mb}, indent=2))
    return 0


def measure_floor(chat) -> tuple[float, float] | None:
    """Prompt and generation speed of the embedded model, measured now (the floor a generation cannot beat)."""
    client = getattr(chat, "client", None)
    if client is None or not hasattr(client, "create_completion"):
        return None
    prompt = " ".join(f"word{i}" for i in range(300))
    n_prompt = len(client.tokenize(prompt.encode()))
    t0 = time.perf_counter()
    client.create_completion(prompt, max_tokens=1, temperature=0.0)
    pp = n_prompt / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    out = client.create_completion("List the days of the week, one per line:", max_tokens=64, temperature=0.0)
    tg = max(1, out["usage"]["completion_tokens"]) / (time.perf_counter() - t0)
    return pp, tg


if __name__ == "__main__":
    raise SystemExit(main())
