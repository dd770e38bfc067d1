"""`imr-drafter eval compare RUN_A RUN_B`: per-metric deltas with paired bootstrap confidence intervals,
and the items whose decision or citations changed (what a template change did)."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

from drafter.errors import DrafterError
from drafter.evaluation.scoring import iter_rows

METRICS = ["decision", "citation_page_recall", "citation_topic_recall", "rouge_l", "embedding_cosine", "key_fact_recall",
           "grounded_fraction", "latency_s"]


def _load(run: Path, system: str) -> dict[tuple[str, int], dict]:
    path = Path(run) / "results.jsonl"
    if not path.exists():
        raise DrafterError(f"{run}: no results.jsonl; give a RUN_DIR written by `imr-drafter eval`.")
    rows = {(r["letter"], r["item_index"]): r for r in iter_rows(path) if r.get("system") == system}
    return rows


def bootstrap_ci(deltas: list[float], n: int = 2000, seed: int = 13) -> tuple[float, float]:
    """95% percentile interval of the mean of paired deltas."""
    if not deltas:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(deltas, k=len(deltas))) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def compare_runs(run_a: Path, run_b: Path, system: str = "full") -> dict[str, Any]:
    a, b = _load(run_a, system), _load(run_b, system)
    common = sorted(set(a) & set(b))
    if not common:
        raise DrafterError(f"The runs share no {system!r} items; compare runs over the same letters.")
    out: dict[str, Any] = {"items": len(common), "system": system, "metrics": {}, "changed": []}
    for m in METRICS:
        pairs = [(a[k]["metrics"].get(m, {}).get("value"), b[k]["metrics"].get(m, {}).get("value")) for k in common]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if not pairs:
            continue
        deltas = [y - x for x, y in pairs]
        lo, hi = bootstrap_ci(deltas)
        out["metrics"][m] = {"a": statistics.fmean(x for x, _ in pairs), "b": statistics.fmean(y for _, y in pairs),
                             "delta": statistics.fmean(deltas), "ci95": [lo, hi], "n": len(pairs)}
    for k in common:
        da, db = a[k]["draft"], b[k]["draft"]
        ca = sorted(c["chunk_id"] for c in da.get("citations", []))
        cb = sorted(c["chunk_id"] for c in db.get("citations", []))
        if da["decision"] != db["decision"] or ca != cb:
            out["changed"].append({"letter": k[0], "item_index": k[1], "item": a[k]["gold"]["item"], "letter_decision": a[k]["gold"]["decision"],
                                   "decision": [da["decision"], db["decision"]], "citations": [ca, cb]})
    return out


def format_comparison(c: dict[str, Any]) -> str:
    lines = [f"{c['items']} items of system {c['system']!r} in both runs", f"{'metric':<24}{'A':>9}{'B':>9}{'B-A':>9}   95% CI"]
    for m, v in c["metrics"].items():
        lines.append(f"{m:<24}{v['a']:>9.3f}{v['b']:>9.3f}{v['delta']:>+9.3f}   [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]")
    lines.append(f"\n{len(c['changed'])} item(s) changed decision or citations:")
    for ch in c["changed"][:50]:
        lines.append(f"- {Path(ch['letter']).name} #{ch['item_index']} {ch['item']!r} (letter: {ch['letter_decision']}): "
                     f"decision {ch['decision'][0]} -> {ch['decision'][1]}; citations {ch['citations'][0]} -> {ch['citations'][1]}")
    return "\n".join(lines)
