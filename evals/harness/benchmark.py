"""Eval-harness throughput at archive scale: letters parsed per second and items scored per second.

    .venv/bin/python -m evals.harness.benchmark [--letters 10000] [--workers 2] [--embedded 10] [--ray [ADDRESS]]

Makes N letters from the samples in evals/letters (each copy gets its own case number, so files differ),
parses them all (streaming), then runs `eval` with the retrieval-only and always-uphold systems and the
fake backend over all of them, and finally the full chain with the embedded model on a small subset.
Prints throughput and peak memory (this process and its workers). With --ray, the same eval runs again on Ray
(a local instance with --workers CPUs, or the cluster at ADDRESS) and the overhead against the single-machine
runner is printed, with a check that every metric but wall-clock latency is the same to the last digit.
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


def _scored(metrics: dict) -> dict:
    """Every metric but wall-clock latency, as the JSON report holds them."""
    return json.loads(json.dumps({s: {k: v for k, v in m.items() if k != "latency_s"} for s, m in metrics.items()}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letters", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--embedded", type=int, default=10, help="letters for the embedded-model run (0 to skip)")
    ap.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="also run the eval on Ray (local with --workers CPUs, or a cluster address) and print the overhead")
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

    if args.ray:
        from drafter.evaluation.ray_runner import run_eval_ray

        address = None if args.ray == "local" else args.ray
        t0 = time.perf_counter()
        rmetrics = run_eval_ray(letters, work / "run-ray", settings, systems=("retrieval_only", "always_uphold"),
                                address=address, num_cpus=args.workers, progress=False)
        rdt = time.perf_counter() - t0
        rn = rmetrics["retrieval_only"]["items"]
        nodes = json.loads((work / "run-ray" / "provenance.json").read_text())["run"]["nodes"]
        where = f"cluster {address}" if address else f"local, {args.workers} CPUs"
        print(f"eval on Ray ({where}, Ray start-up included): {len(files)} letters, {rn} items in {rdt:.0f} s = "
              f"{rn / rdt:.1f} items/s over {len(nodes)} node(s); overhead {100 * (rdt - dt) / dt:+.1f}% against the "
              f"single-machine runner (target <= 10% at 10,000 letters)")
        same = _scored(rmetrics) == _scored(metrics)
        print(f"  metrics {'identical' if same else 'DIFFERENT'} to the last digit (wall-clock latency aside)")
        if not same:
            return 1

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
