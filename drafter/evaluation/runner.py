"""`imr-drafter eval`: replay letters, draft each item with every system, score, stream results, report.

Resumable: rows already in RUN_DIR/results.jsonl are skipped. Memory stays flat on large archives:
letters are parsed one at a time (or a batch per worker) and each row is written, then forgotten.
RUN_DIR/prompts/ keeps a copy of the templates the run used, so its prompts can be diffed later even after
the prompts folder was edited (`imr-drafter eval compare`, the app's Prompts page).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from drafter.errors import DrafterError
from drafter.evaluation.scoring import Aggregator, TopicMap, draft_page_keys, iter_rows, score_item, set_counts
from drafter.evaluation.systems import (
    EXTRA_SYSTEMS, SYSTEMS, SystemDraft, from_item_draft, letter_case, llm_without_retrieval, precedent_vote,
)
from drafter.letter_parser import LetterParseError, parse_letter
from drafter.metrics.citations import page_keys
from drafter.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)


def letter_files(directory: Path) -> Iterator[Path]:
    """Every .txt / .pdf letter under a folder, in a stable order (expected-answer files excluded)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DrafterError(f"{directory}: not a folder of letters.")
    for p in sorted(directory.rglob("*")):
        if p.is_file() and p.suffix.lower() in (".txt", ".pdf") and not p.name.endswith(".expected.json"):
            yield p


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def corpus_version(settings: Settings) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(settings.corpus_dir).rglob("*.md")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


class Worker:
    """Drafts and scores the items of one letter with every requested system."""

    def __init__(self, settings: Settings, systems: tuple[str, ...]) -> None:
        from drafter.chain import Drafter
        from drafter.corpus.topics import load_corpus

        needs_llm = any(s in ("full", "llm_no_retrieval") for s in systems)
        self.drafter = Drafter(settings, use_llm=needs_llm)
        self.systems = systems
        self.topic_map = TopicMap({t.meta.id: t.meta for t in load_corpus(settings.corpus_dir)})
        self.embed = self.drafter.retriever.index.embeddings
        self.archive = None
        if "precedent_vote" in systems:
            from drafter.precedents.archive import LetterArchive

            self.archive = LetterArchive(settings, embeddings=self.embed)

    def run_letter(self, path: Path, done: set[tuple[str, int, str]]) -> tuple[list[dict], str | None]:
        name = str(path)
        try:
            letter = parse_letter(path)
        except LetterParseError as exc:
            return [], str(exc)
        case = letter_case(letter, path.name)
        rows: list[dict] = []
        drafts: dict[str, list[SystemDraft]] = {}
        pending = [s for s in self.systems if any((name, i, s) not in done for i in range(len(letter.items)))]
        for system in pending:
            if system in ("full", "retrieval_only"):
                cd = self.drafter.draft_case(case, summary=False, use_llm=(system == "full"))
                drafts[system] = [from_item_draft(d) for d in cd.items]
            elif system == "llm_no_retrieval":
                drafts[system] = [llm_without_retrieval(self.drafter, case, it) for it in case.items]
            elif system == "precedent_vote":
                from drafter.precedents.records import content_hash

                drafts[system] = precedent_vote(self.archive, letter, case, content_hash(path.read_bytes()))
            else:
                drafts[system] = [SystemDraft(decision="upheld") for _ in case.items]
        for system, ds in drafts.items():
            for i, (gold, d) in enumerate(zip(letter.items, ds)):
                if (name, i, system) in done:
                    continue
                metrics = score_item(gold, d, self.topic_map, case.request_date, self.embed if system != "always_uphold" else None)
                gt = self.topic_map.of_citations(gold.citations, case.request_date)
                rows.append({
                    "letter": name, "item_index": i, "system": system, "layout": letter.layout,
                    "request_date": str(case.request_date) if case.request_date else None,
                    "gold": {"item": gold.item, "decision": gold.decision, "citations": [c.model_dump() for c in gold.citations],
                             "rationale": gold.rationale},
                    "draft": d.model_dump(),
                    "metrics": {k: v.model_dump() for k, v in metrics.items()},
                    "counts": {"page": set_counts(page_keys(gold.citations), draft_page_keys(d)),
                               "topic": set_counts(gt, {c["chunk_id"].split("#")[0] for c in d.citations})},
                })
        return rows, None


_WORKER: Worker | None = None


def _init_worker(settings_json: str, systems: tuple[str, ...]) -> None:
    global _WORKER
    _WORKER = Worker(Settings.model_validate_json(settings_json), systems)


def _work(args: tuple[str, list]) -> tuple[str, list[dict], str | None]:
    path, done = args
    assert _WORKER is not None
    rows, err = _WORKER.run_letter(Path(path), {tuple(k) for k in done})  # type: ignore[misc]
    return path, rows, err


def _done_keys(results: Path) -> set[tuple[str, int, str]]:
    if not results.exists():
        return set()
    # a row cut off by an interrupted run does not parse, so its item is drafted again
    return {(r["letter"], r["item_index"], r["system"]) for r in iter_rows(results)}


def end_last_line(results: Path) -> None:
    """Close a row cut off by an interrupted run with a newline, so the next row appended is read whole."""
    if results.exists() and results.stat().st_size:
        with open(results, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


class PromptSnapshotMismatch(DrafterError):
    """A resumed run would mix drafts from two different prompt versions."""


def snapshot_prompts(prompts_dir: Path, out: Path) -> Path:
    """Copy the templates of `prompts_dir` into OUT/prompts/ (once); on a resumed run, check they are the same."""
    from drafter.prompts import PromptLibrary

    lib = PromptLibrary(prompts_dir)
    current = {f"{t.name}.j2": t.source for t in lib.templates.values()}
    snap = Path(out) / "prompts"
    how = (f"{out} was started with other prompt templates than {prompts_dir}; "
           "give a new --out for these prompts (or restore the templates the run started with to resume it).")
    if snap.is_dir():
        saved = {p.name: p.read_text(encoding="utf-8") for p in snap.glob("*.j2")}
        if saved != current:
            raise PromptSnapshotMismatch(how)
        return snap
    prov = Path(out) / "provenance.json"
    if prov.exists():  # a run from before runs kept their templates: its provenance still names its prompt version
        try:
            started = json.loads(prov.read_text(encoding="utf-8")).get("prompt_version")
        except ValueError:
            started = None
        if started and started != lib.version:
            raise PromptSnapshotMismatch(how)
    tmp = Path(out) / "prompts.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted copy
    tmp.mkdir(parents=True)
    for name, source in current.items():
        (tmp / name).write_text(source, encoding="utf-8")
    tmp.rename(snap)  # whole or absent: an interrupted copy is never taken for the run's templates
    return snap


def prepare_run(letters_dir: Path, out: Path, settings: Settings, systems: tuple[str, ...], limit: int) -> tuple[list[Path], set]:
    """What every runner does before scoring: check the systems, list the letters, snapshot the prompts, fill the
    letter archive for precedent_vote, and read which rows a resumed run already has. Returns (letters, done keys)."""
    out.mkdir(parents=True, exist_ok=True)
    bad = [s for s in systems if s not in SYSTEMS + EXTRA_SYSTEMS]
    if bad:
        raise DrafterError(f"Unknown system(s) {bad}; choose from {list(SYSTEMS + EXTRA_SYSTEMS)}.")
    done = _done_keys(out / "results.jsonl")
    files = list(letter_files(letters_dir))
    if limit:
        files = files[:limit]
    if not files:
        raise DrafterError(f"{letters_dir}: no .txt or .pdf letters found.")
    snapshot_prompts(settings.prompts_dir, out)
    if "precedent_vote" in systems:  # leave-one-out votes need every letter of the set in the archive (incremental)
        from drafter.precedents.archive import LetterArchive

        LetterArchive(settings).ingest(files)
    return files, done


def run_eval(letters_dir: Path, out: Path, settings: Settings, systems: tuple[str, ...] = SYSTEMS, limit: int = 0,
             workers: int = 1, progress: bool = True) -> dict[str, Any]:
    out = Path(out)
    files, done = prepare_run(letters_dir, out, settings, systems, limit)
    results, errors = out / "results.jsonl", out / "errors.jsonl"
    t0 = time.perf_counter()
    stats = {"letters": 0, "parse_errors": 0, "rows_written": 0, "rows_skipped": len(done)}
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None  # type: ignore[assignment]
    bar = tqdm(total=len(files), unit="letter", disable=not progress, file=sys.stderr) if tqdm else None
    embedded = settings.llm.backend == "llamacpp" and any(s in ("full", "llm_no_retrieval") for s in systems)
    if embedded and workers > 1:
        log.warning("the embedded model runs in one process; --workers applies to other backends and systems")
        workers = 1
    end_last_line(results)
    with open(results, "a", encoding="utf-8") as res, open(errors, "a", encoding="utf-8") as errf:
        def handle(path: str, rows: list[dict], err: str | None) -> None:
            stats["letters"] += 1
            if err:
                stats["parse_errors"] += 1
                errf.write(json.dumps({"letter": path, "error": err}) + "\n")
            for r in rows:
                res.write(json.dumps(r) + "\n")
            stats["rows_written"] += len(rows)
            res.flush()
            if bar:
                bar.update(1)

        if workers <= 1:
            worker = Worker(settings, systems)
            for p in files:
                rows, err = worker.run_letter(p, done)
                handle(str(p), rows, err)
        else:
            # spawn, not fork: a caller that already loaded torch (the app, a test session) deadlocks forked children
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(settings.model_dump_json(), systems),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                jobs = ((str(p), [list(k) for k in done if k[0] == str(p)]) for p in files)
                for path, rows, err in pool.map(_work, jobs, chunksize=8):
                    handle(path, rows, err)
    if bar:
        bar.close()
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    metrics = write_reports(out, settings, systems, letters_dir, stats)
    return metrics


def aggregate(results: Path) -> dict[str, Any]:
    agg = Aggregator()
    for row in iter_rows(results):
        agg.add(row)
    return agg.result()


def write_reports(out: Path, settings: Settings, systems: tuple[str, ...], letters_dir: Path, stats: dict) -> dict[str, Any]:
    from drafter.evaluation.report import write_html, write_markdown
    from drafter.prompts import PromptLibrary

    metrics = aggregate(out / "results.jsonl")
    prompts = PromptLibrary(settings.prompts_dir)
    safe = json.loads(settings.model_dump_json())
    safe.get("llm", {}).pop("api_key", None)
    provenance = {
        "model": f"{settings.llm.backend}:{settings.llm.model}", "backend": settings.llm.backend,
        "prompt_version": prompts.version, "prompts_dir": str(settings.prompts_dir),
        "corpus_version": corpus_version(settings), "git_commit": _git_commit(), "letters_dir": str(letters_dir),
        "systems": list(systems), "settings": safe, "run": stats, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2))
    (out / "metrics.json").write_text(json.dumps({"provenance": provenance, "systems": metrics}, indent=2))
    write_markdown(out / "report.md", metrics, provenance)
    write_html(out / "report.html", metrics, provenance, out / "results.jsonl")
    return metrics


def check_gates(metrics: dict[str, Any], gates: list[str]) -> list[str]:
    """`metric=value` (at least) or `metric<=value` (at most), optionally `system.metric...`: the gates missed."""
    missed = []
    for gate in gates:
        at_most = "<=" in gate
        name, _, want = gate.partition("<=") if at_most else gate.partition("=")
        system, _, metric = name.partition(".") if "." in name else ("full", "", name)
        if not metric:
            metric = system
            system = "full"
        try:
            threshold = float(want)
        except ValueError as exc:
            raise DrafterError(f"--fail-under {gate!r}: write metric=value, e.g. decision_accuracy=0.85") from exc
        got = metrics.get(system, {}).get(metric, {})
        value = got.get("value") if isinstance(got, dict) else None
        if value is None:
            missed.append(f"{system}.{metric}: no value (unknown metric or no items)")
        elif at_most and value > threshold:
            missed.append(f"{system}.{metric} = {value:.4f} > {threshold}")
        elif not at_most and value < threshold:
            missed.append(f"{system}.{metric} = {value:.4f} < {threshold}")
    return missed
