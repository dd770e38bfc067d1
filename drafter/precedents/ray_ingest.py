"""`imr-drafter letters ingest --ray [ADDRESS]`: the letter archive's ingest on Ray, for archives one machine
cannot read and embed in time.

Ray tasks prepare batches of letters (read, hash, parse, embed: `archive.prepare_batch`) on every node; this
process is the one writer, storing each batch in the Chroma collection and the `precedents` table as it comes
back (`LetterArchive.write_batch`). Files are listed lazily and at most a few batches per CPU are in flight, so
memory stays flat in the number of letters. The store is the resume point: a letter whose content hash is
stored is skipped, so an interrupted run is simply run again.

On a cluster every node needs the project installed and the letters at the same path (shared storage); with
DRAFTER_DATABASE_URL set, nodes skip letters already stored before reading them any further than their hash.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from drafter.precedents.archive import IngestReport, LetterArchive, PreparedBatch, letter_batches, prepare_batch
from drafter.ray_engine import RayEngineError, cluster_cpus, connect, run_bounded
from drafter.settings import Settings

log = logging.getLogger(__name__)

# One (embeddings, engine) per Ray worker process, built on its first batch and kept.
_TOOLS: dict[str, tuple[Any, Any]] = {}


def _tools(settings_json: str) -> tuple[Any, Any]:
    if settings_json not in _TOOLS:
        from drafter.embeddings import make_embeddings
        from drafter.review.store import make_engine, migrate

        _TOOLS.clear()
        settings = Settings.model_validate_json(settings_json)
        engine = make_engine(settings.audit_url)
        migrate(engine)  # a node with its own empty DRAFTER_HOME reads an empty table, not a missing one
        # settings.embedding.threads (1): a task holds one CPU, and Ray runs one task per CPU
        _TOOLS[settings_json] = (make_embeddings(settings), engine)
    return _TOOLS[settings_json]


def prepare_on_node(settings_json: str, paths: list[str]) -> PreparedBatch:
    """A Ray task: prepare one batch of letters on whatever node runs it."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise RayEngineError(f"{missing[0]} is not readable on Ray node {node}: put the letters on storage every node "
                             "mounts at the same path.")
    embeddings, engine = _tools(settings_json)
    batch = prepare_batch([Path(p) for p in paths], embeddings, engine)
    batch.node = node
    return batch


def ingest_ray(paths: list[Path | str], settings: Settings, archive: LetterArchive | None = None, address: str | None = None,
               num_cpus: int | None = None, progress: Any | None = None) -> IngestReport:
    """`LetterArchive.ingest` with the batches prepared as Ray tasks: local mode with `num_cpus` (default:
    settings.eval.ray_num_cpus, else all cores) unless an `address` (default: settings.eval.ray_address) names
    a cluster. Returns the same report, with the letters prepared per node."""
    import ray

    archive = archive or LetterArchive(settings)
    address = address or settings.eval.ray_address
    num_cpus = num_cpus or settings.eval.ray_num_cpus
    if address and not settings.database_url:
        log.warning("letters ingest on a Ray cluster without DRAFTER_DATABASE_URL: nodes cannot see which letters are "
                    "stored and parse them all again (this process still skips them)")
    report = IngestReport()
    nodes: Counter[str] = Counter()
    t0 = time.perf_counter()
    started = connect(address, num_cpus)
    try:
        task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(prepare_on_node)
        settings_ref = ray.put(settings.model_dump_json())

        def store(batch: PreparedBatch) -> None:
            archive.write_batch(batch, report)
            n = len(batch.letters) + batch.unchanged + len(batch.failed)
            nodes[batch.node] += n
            if progress:
                progress(n)

        run_bounded(lambda batch: task.remote(settings_ref, [str(p) for p in batch]),
                    letter_batches(paths, settings.precedents.ingest_batch, report), store,
                    cluster_cpus() * settings.eval.ray_max_pending)
    finally:
        if started:
            ray.shutdown()
    report.seconds = round(time.perf_counter() - t0, 3)
    report.nodes = dict(nodes)
    return report
