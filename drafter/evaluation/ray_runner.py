"""`imr-drafter eval --ray [ADDRESS]`: the eval harness on Ray, for archives one machine cannot score in time.

The same work as `runner.run_eval`, spread as Ray tasks over batches of letters: a local Ray instance on this
machine by default, a Ray cluster when an address is given (`--ray ADDRESS`, DRAFTER_EVAL__RAY_ADDRESS).
Each Ray worker process builds one `runner.Worker` and keeps it for every batch it is given. Rows stream into
the same RUN_DIR/results.jsonl as batches complete, resume skips the same (letter, item, system) keys, and
metrics and reports come from the same `write_reports`; only the transport differs. Each row names the Ray
node that drafted it (`"node"`), and provenance counts the letters per node.

On a cluster every node needs the project installed, the letters folder at the same path (shared storage),
and the shared guideline index: set DRAFTER_CHROMA_URL to a Chroma server, which the workers then use
instead of an index under DRAFTER_HOME on their own machine.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from drafter.evaluation.runner import Worker, end_last_line, prepare_run, write_reports
from drafter.evaluation.systems import SYSTEMS
from drafter.ray_engine import RayEngineError, cluster_cpus, connect, run_bounded
from drafter.settings import Settings

log = logging.getLogger(__name__)

class RayEvalError(RayEngineError):
    """A batch of letters cannot be read on a node."""


# One Worker per Ray worker process, built on its first batch and kept (Ray reuses its worker processes).
_WORKERS: dict[tuple[str, tuple[str, ...]], Worker] = {}


def _worker(settings_json: str, systems: tuple[str, ...]) -> Worker:
    key = (settings_json, systems)
    if key not in _WORKERS:
        _WORKERS.clear()  # a new run's settings: drop the last run's models
        _WORKERS[key] = Worker(Settings.model_validate_json(settings_json), systems)
    return _WORKERS[key]


def run_batch(settings_json: str, systems: tuple[str, ...], batch: list[tuple[str, list]]) -> tuple[str, list[tuple[str, list[dict], str | None]]]:
    """Draft and score a batch of letters on this node: (node id, [(letter, rows, parse error)])."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    worker = _worker(settings_json, systems)
    out = []
    for path, done in batch:
        p = Path(path)
        if not p.is_file():
            raise RayEvalError(f"{path} is not readable on Ray node {node}: put the letters folder on storage every node "
                               "mounts at the same path.")
        rows, err = worker.run_letter(p, {tuple(k) for k in done})  # type: ignore[misc]
        for r in rows:
            r["node"] = node
        out.append((path, rows, err))
    return node, out


def run_eval_ray(letters_dir: Path, out: Path, settings: Settings, systems: tuple[str, ...] = SYSTEMS, limit: int = 0,
                 address: str | None = None, num_cpus: int | None = None, progress: bool = True) -> dict[str, Any]:
    """`run_eval` on Ray: local mode with `num_cpus` (default: settings.eval.ray_num_cpus, else all cores) unless an
    `address` (default: settings.eval.ray_address) names a cluster. Returns the same metrics."""
    import ray

    out = Path(out)
    files, done = prepare_run(letters_dir, out, settings, systems, limit)
    address = address or settings.eval.ray_address
    num_cpus = num_cpus or settings.eval.ray_num_cpus
    results, errors = out / "results.jsonl", out / "errors.jsonl"
    if address and not settings.chroma_url:
        log.warning("eval on a Ray cluster without DRAFTER_CHROMA_URL: each node opens the index under its own "
                    "DRAFTER_HOME; set DRAFTER_CHROMA_URL to share one Chroma server")
    if address and "precedent_vote" in systems and not settings.database_url:
        log.warning("precedent_vote on a Ray cluster without DRAFTER_DATABASE_URL: each node reads the letter archive "
                    "table from its own DRAFTER_HOME; point every node at one database")
    if settings.llm.backend == "llamacpp" and any(s in ("full", "llm_no_retrieval") for s in systems):
        log.warning("every Ray worker loads its own copy of the embedded model")

    t0 = time.perf_counter()
    started = connect(address, num_cpus)
    stats: dict[str, Any] = {"letters": 0, "parse_errors": 0, "rows_written": 0, "rows_skipped": len(done),
                             "engine": "ray", "ray_address": address or "local"}
    nodes: Counter[str] = Counter()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None  # type: ignore[assignment]
    bar = tqdm(total=len(files), unit="letter", disable=not progress, file=sys.stderr) if tqdm else None
    try:
        cpus = cluster_cpus()
        stats["ray_cpus"] = cpus
        task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(run_batch)
        settings_ref = ray.put(settings.model_dump_json())
        size = settings.eval.ray_batch_letters
        done_by_letter: dict[str, list[list]] = {}
        for k in done:
            done_by_letter.setdefault(k[0], []).append(list(k))
        batches = ([(str(p), done_by_letter.get(str(p), [])) for p in files[i : i + size]]
                   for i in range(0, len(files), size))
        end_last_line(results)
        with open(results, "a", encoding="utf-8") as res, open(errors, "a", encoding="utf-8") as errf:
            def handle(node: str, letters: list[tuple[str, list[dict], str | None]]) -> None:
                for path, rows, err in letters:
                    stats["letters"] += 1
                    nodes[node] += 1
                    if err:
                        stats["parse_errors"] += 1
                        errf.write(json.dumps({"letter": path, "error": err, "node": node}) + "\n")
                    res.writelines(json.dumps(r) + "\n" for r in rows)
                    stats["rows_written"] += len(rows)
                res.flush()
                errf.flush()
                if bar:
                    bar.update(len(letters))

            run_bounded(lambda batch: task.remote(settings_ref, tuple(systems), batch), batches, lambda result: handle(*result),
                        cpus * settings.eval.ray_max_pending)
    finally:
        if bar:
            bar.close()
        if started:
            ray.shutdown()
    stats["nodes"] = dict(nodes)
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    return write_reports(out, settings, systems, letters_dir, stats)
