"""Eval-harness throughput at archive scale: letters parsed per second and items scored per second.

    .venv/bin/python -m evals.harness.benchmark [--letters 10000] [--workers 2] [--embedded 10]

Makes N letters from the samples in evals/letters (each copy gets its own case number, so files differ),
parses them all (streaming), then runs `eval` with the retrieval-only and always-uphold systems and the
fake backend over all of them, and finally the full chain with the embedded model on a small subset.
Prints throughput and peak memory (this process and its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def make_letters(n: int, dest: Path) -> list[Path]:
    samples = sorted((HERE / "letters").glob("letter-*.txt"))
    texts = [p.read_text() for p in samples]
    out = []
    for i in range(n):
        t = texts[i % len(texts)]
        t = re.sub(r"CM1\d-\d{7}", f"CM99-{i:07d}", t) if "CM1" in t else t + f"\nArchive copy {i}\n"
        p = dest / f"letter-{i:05d}.txt"
        p.write_text(t)
        out.append(p)
    return out


def peak_mb() -> tuple[float, float]:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letters", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--embedded", type=int, default=10, help="letters for the embedded-model run (0 to skip)")
    args = ap.parse_args(argv)

    from drafter.evaluation.runner import run_eval
    from drafter.letter_parser import parse_letter
    from drafter.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="imr-harness-"))
    letters = work / "letters"
    letters.mkdir()
    files = make_letters(args.letters, letters)

    t0 = time.perf_counter()
    items = 0
    for p in files:
        items += len(parse_letter(p).items)
    dt = time.perf_counter() - t0
    print(f"parse: {len(files)} letters, {items} items in {dt:.1f} s = {len(files) / dt:.0f} letters/s (one process)")

    settings = Settings()
    settings.llm.backend = "fake"
    t0 = time.perf_counter()
    metrics = run_eval(letters, work / "run-fake", settings, systems=("retrieval_only", "always_uphold"), workers=args.workers, progress=False)
    dt = time.perf_counter() - t0
    n = metrics["retrieval_only"]["items"]
    rows = sum(1 for _ in open(work / "run-fake" / "results.jsonl"))
    own, children = peak_mb()
    print(f"eval (fake backend, retrieval-only + always-uphold, {args.workers} workers): {len(files)} letters, {n} items, "
          f"{rows} rows in {dt:.0f} s = {n / dt:.1f} items/s; peak RSS {own:.0f} MB here, {children:.0f} MB largest worker")
    print(f"  retrieval-only decision accuracy {metrics['retrieval_only']['decision_accuracy']['value']:.3f}; "
          f"always-uphold {metrics['always_uphold']['decision_accuracy']['value']:.3f}")

    if args.embedded:
        sub = work / "subset"
        sub.mkdir()
        for p in sorted((HERE / "letters").glob("letter-*.txt"))[: args.embedded]:
            shutil.copy(p, sub)
        settings.llm.backend = os.environ.get("DRAFTER_LLM__BACKEND", "llamacpp")
        t0 = time.perf_counter()
        m = run_eval(sub, work / "run-embedded", settings, systems=("full",), workers=1, progress=False)
        dt = time.perf_counter() - t0
        print(f"eval (embedded {settings.llm.model}, full chain): {args.embedded} letters, {m['full']['items']} items in {dt:.0f} s "
              f"= {m['full']['items'] / dt:.3f} items/s; latency p50 {m['full']['latency_s']['p50']:.1f} s")
    print(f"runs kept in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
