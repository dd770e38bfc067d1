"""Case summary benchmark on the sample case folders (template path, no model): voice, coverage and order.

    .venv/bin/python -m evals.summary [--cases DIR ...] [--show] [--json OUT]

Each case is loaded as `Drafter.draft` loads it (intake with the expected items) and summarised as
`Drafter.draft_case(case, use_llm=False)` summarises it (the fact layer, select_facts, then summarize without a
chat model); the disputed items are not drafted, since the summary does not depend on them. evals/cases is the
development set; evals/cases-heldout is reported apart and is not for tuning.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEFAULT_SETS = [HERE / "cases"]


def template_summary(case, prompts) -> tuple[str, list[dict]]:
    """The summary text and sources of the template path, as draft_case(use_llm=False) writes them."""
    from drafter.facts import FactFinder
    from drafter.summary import select_facts, summarize

    s = summarize(None, "none", prompts, select_facts(case, FactFinder(case), case.items, None), 0, 0)
    return s.text, s.sources


def score_case(folder: Path, settings, prompts, summarizer: Callable) -> dict:
    from drafter.intake import load_case
    from drafter.metrics.summary import summary_coverage, summary_order, summary_voice

    exp = json.loads((folder / "expected.json").read_text())
    case = load_case(folder, settings.intake, items=[i["item"] for i in exp["items"]])
    t0 = time.perf_counter()
    text, sources = summarizer(case, prompts)
    seconds = time.perf_counter() - t0
    record = "\n".join(d.text for d in case.documents)
    traceable = sum(1 for s in sources if case.doc(s["file"]).text[s["start"]:s["end"]] == s["quote"])
    metrics = {"voice": summary_voice(text), "coverage": summary_coverage(text, record, case.items), "order": summary_order(text)}
    return {"case": folder.name, "text": text, "seconds": round(seconds, 3), "sources": len(sources),
            "sources_exact": traceable, **{k: m.value for k, m in metrics.items()},
            "reasons": {k: m.reason for k, m in metrics.items()}}


def run(sets: list[Path], summarizer: Callable = template_summary, show: bool = False, prompts_dir: Path | None = None) -> list[dict]:
    """Score every case folder of the sets; prints one line per case and the means per set."""
    from drafter.prompts import PromptLibrary
    from drafter.settings import REPO_ROOT, Settings

    settings = Settings()
    prompts = PromptLibrary(prompts_dir or REPO_ROOT / "prompts")
    rows: list[dict] = []
    for set_dir in sets:
        folders = sorted(p for p in set_dir.glob("case-*") if (p / "expected.json").exists())
        set_rows = []
        for folder in folders:
            row = score_case(folder, settings, prompts, summarizer)
            row["set"] = set_dir.name
            set_rows.append(row)
            print(f"{folder.name[:40]:<40} voice {_f(row['voice'])} coverage {_f(row['coverage'])} order {_f(row['order'])} "
                  f"sources {row['sources_exact']}/{row['sources']} {row['seconds']:.2f}s", flush=True)
            if show:
                for k, why in row["reasons"].items():
                    print(f"    {k}: {why}")
                print("    " + row["text"].replace("\n", "\n    ") + "\n")
        rows += set_rows
        _means(set_dir.name, set_rows)
    return rows


def _f(x: float | None) -> str:
    return " n/a" if x is None else f"{x:.2f}"


def _means(name: str, rows: list[dict]) -> None:
    def mean(k: str) -> str:
        xs = [r[k] for r in rows if r[k] is not None]
        return _f(statistics.mean(xs) if xs else None)

    whole = sum(1 for r in rows if r["voice"] == 1.0)
    src = sum(r["sources_exact"] for r in rows), sum(r["sources"] for r in rows)
    secs = sorted(r["seconds"] for r in rows)
    p50 = secs[len(secs) // 2] if secs else float("nan")
    print(f"== {name}: {len(rows)} cases; summary_voice mean {mean('voice')} (all sentences whole in {whole}); "
          f"summary_coverage mean {mean('coverage')}; summary_order mean {mean('order')}; "
          f"sources exact {src[0]}/{src[1]}; p50 {p50:.2f}s\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=[str(p) for p in DEFAULT_SETS],
                    help="case set folders (default evals/cases; give evals/cases-heldout for the held-out figure)")
    ap.add_argument("--no-llm", action="store_true", help="accepted for symmetry with the drafting benchmark; the template path is always used")
    ap.add_argument("--show", action="store_true", help="print each summary and the metrics' reasons")
    ap.add_argument("--json", help="write per-case results here")
    args = ap.parse_args(argv)
    rows = run([Path(p) for p in args.cases], show=args.show)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
