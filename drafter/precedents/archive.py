"""The letter archive: past items in their own Chroma collection (for nearness) and the audit database's
`precedents` table (for filters and outcome counts).

Ingest streams files in batches (read, hash, parse, embed, write) so memory stays flat in the number of
letters; a letter whose content hash is already stored is skipped; a bad file is reported and skipped. The
SQL rows are written last: a batch cut off midway is simply ingested again on the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from drafter.embeddings import LocalSentenceEmbeddings, chroma_embedding_function, make_embeddings
from drafter.errors import DrafterError, IndexError_
from drafter.index import make_chroma_client
from drafter.letter_parser import LetterParseError, parse_letter_text
from drafter.precedents.records import PrecedentRecord, read_letter, records_from_parsed
from drafter.review import tables as t
from drafter.review.store import make_engine, migrate
from drafter.settings import Settings

log = logging.getLogger(__name__)
LETTER_SUFFIXES = (".txt", ".pdf")


class ArchiveError(DrafterError):
    """The letter archive cannot do what was asked."""


class IngestFailure(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    """What one `ingest` did. Counts only (plus failures), so a million-letter run keeps a small report."""

    added_letters: int = 0
    updated_letters: int = Field(default=0, description="a path whose content changed: its old items were replaced")
    unchanged_letters: int = Field(default=0, description="content hash already stored (same letter, or a copy of it)")
    added_items: int = 0
    failed: list[IngestFailure] = Field(default_factory=list)
    seconds: float = 0.0
    parse_seconds: float = Field(default=0.0, description="reading, hashing, parsing and building records")
    embed_seconds: float = 0.0
    letters_parsed: int = 0
    nodes: dict[str, int] = Field(default_factory=dict, description="on Ray: letters prepared per node")

    @property
    def letters_per_s_parsed(self) -> float | None:
        return self.letters_parsed / self.parse_seconds if self.parse_seconds else None

    @property
    def items_per_s_embedded(self) -> float | None:
        return self.added_items / self.embed_seconds if self.embed_seconds else None

    def summary(self) -> str:
        return (f"{self.added_letters} letters added ({self.added_items} items), {self.updated_letters} updated, "
                f"{self.unchanged_letters} unchanged, {len(self.failed)} failed, in {self.seconds:.1f} s")

    def to_json(self) -> dict[str, Any]:
        return {**self.model_dump(), "letters_per_s_parsed": self.letters_per_s_parsed, "items_per_s_embedded": self.items_per_s_embedded}


def iter_letter_files(paths: Iterable[Path | str]) -> Iterator[tuple[Path, str | None]]:
    """(file, None) for each .txt/.pdf letter under the given files and folders, in a stable order, without
    listing a whole archive first; (path, reason) for a path that does not exist."""
    for p in map(Path, paths):
        if p.is_file():
            yield p, None
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(LETTER_SUFFIXES) and not name.endswith(".expected.json"):
                        yield Path(root) / name, None
        else:
            yield p, "no such file or folder"


@dataclass
class PreparedLetter:
    """A parsed letter not stored yet, with its records' vectors."""

    path: str
    content_hash: str
    records: list[PrecedentRecord]
    vectors: list[list[float]]
    stale: set[str] = field(default_factory=set)  # hashes stored for this path before its content changed


@dataclass
class PreparedBatch:
    """A batch read, parsed and embedded, ready for the one writer (`LetterArchive.write_batch`)."""

    letters: list[PreparedLetter] = field(default_factory=list)
    unchanged: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    parse_seconds: float = 0.0
    embed_seconds: float = 0.0
    node: str = ""


def known_hashes(engine: sa.engine.Engine, hashes: list[str], paths: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    """(the hashes already stored, {path: its stored hashes}) for a batch."""
    c = t.precedents.c
    with engine.connect() as db:
        have = {r[0] for r in db.execute(sa.select(c.content_hash).where(c.content_hash.in_(hashes)).distinct())} if hashes else set()
        by_path: dict[str, set[str]] = {}
        if paths:
            for p, h in db.execute(sa.select(c.letter_path, c.content_hash).where(c.letter_path.in_(paths)).distinct()):
                by_path.setdefault(p, set()).add(h)
    return have, by_path


def prepare_batch(paths: list[Path], embeddings: LocalSentenceEmbeddings, engine: sa.engine.Engine) -> PreparedBatch:
    """Read, hash, parse and embed the letters of a batch whose content is not stored yet. Writes nothing, so
    batches can be prepared anywhere at once (Ray tasks) and stored by one writer."""
    out = PreparedBatch()
    t0 = time.perf_counter()
    texts: list[tuple[Path, str, str]] = []
    for p in paths:
        try:
            text, chash = read_letter(p)
        except LetterParseError as exc:
            out.failed.append(IngestFailure(path=str(p), reason=str(exc)))
            continue
        texts.append((p, text, chash))
    have, by_path = known_hashes(engine, [h for _, _, h in texts], [str(p) for p, _, _ in texts])
    seen: set[str] = set()
    for p, text, chash in texts:
        if chash in have or chash in seen:
            out.unchanged += 1
            continue
        try:
            recs = records_from_parsed(parse_letter_text(text, p.name), str(p), chash)
        except LetterParseError as exc:
            out.failed.append(IngestFailure(path=str(p), reason=str(exc)))
            continue
        except Exception as exc:  # a parser bug on one odd file must not stop an archive run
            log.exception("parsing %s", p)
            out.failed.append(IngestFailure(path=str(p), reason=f"{p.name}: parser error ({type(exc).__name__}: {exc})"))
            continue
        seen.add(chash)
        out.letters.append(PreparedLetter(str(p), chash, recs, [], by_path.get(str(p), set()) - {chash}))
    out.parse_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    flat = [r.embed_text for x in out.letters for r in x.records]
    vectors = embeddings.embed_documents(flat) if flat else []
    i = 0
    for x in out.letters:
        x.vectors = vectors[i: i + len(x.records)]
        i += len(x.records)
    out.embed_seconds = time.perf_counter() - t1
    return out


def letter_batches(paths: Iterable[Path | str], size: int, report: IngestReport) -> Iterator[list[Path]]:
    """The letter files under `paths` in batches of `size`, listed lazily; a path that does not exist goes into
    `report.failed`."""
    batch: list[Path] = []
    for path, err in iter_letter_files(paths):
        if err:
            report.failed.append(IngestFailure(path=str(path), reason=err))
            continue
        batch.append(path)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _date_int(d: dt.date | None) -> int:
    return int(d.strftime("%Y%m%d")) if d else 0


class LetterArchive:
    """Past IMR items: a Chroma collection (settings.precedents.collection) and the `precedents` table."""

    def __init__(self, settings: Settings, embeddings: LocalSentenceEmbeddings | None = None, client: Any | None = None,
                 engine: sa.engine.Engine | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings if embeddings is not None else make_embeddings(settings)
        self.client = client if client is not None else make_chroma_client(settings)
        name = settings.precedents.collection
        if name == settings.collection:
            raise ArchiveError(f"DRAFTER_PRECEDENTS__COLLECTION={name!r} is the guideline collection's name; give the archive its own.")
        try:
            self.collection = self.client.get_or_create_collection(
                name=name, embedding_function=chroma_embedding_function(self.embeddings),
                metadata={"hnsw:space": "cosine", "embedding_model": self.embeddings.model_name},
            )
        except Exception as exc:  # HTTP and storage errors surface as many types
            where = f"the Chroma server at {settings.chroma_url}" if settings.chroma_url else f"the index at {settings.index_dir}"
            raise IndexError_(f"Cannot open the letter archive in {where} ({type(exc).__name__}: {exc}). Check that the server "
                              "is running (`chroma run --path DIR --port PORT`) or that DRAFTER_HOME is writable.") from exc
        stored = (self.collection.metadata or {}).get("embedding_model")
        if stored and stored != self.embeddings.model_name:
            raise IndexError_(f"The letter archive was built with embedding model {stored!r}, not {self.embeddings.model_name!r}; "
                              f"delete the collection {name!r} and ingest the letters again.")
        self.engine = engine if engine is not None else make_engine(settings.audit_url)
        if engine is None:
            migrate(self.engine)

    # -- reading ---------------------------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(t.precedents)).scalar() or 0)

    def dense(self, vector: list[float], n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(record id, cosine similarity) of the n nearest items that pass `where`."""
        res = self.collection.query(query_embeddings=[vector], n_results=max(1, n), where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def nearest(self, vector: list[float], n: int, where: dict | None = None) -> list[tuple[str, float, dict]]:
        """(record id, cosine similarity, metadata) of the n nearest items; an unfiltered query is the fast one
        (a metadata filter, a date range above all, makes Chroma scan its metadata)."""
        res = self.collection.query(query_embeddings=[vector], n_results=max(1, n), where=where, include=["distances", "metadatas"])
        return [(i, 1.0 - float(d), dict(m or {})) for i, d, m in zip(res["ids"][0], res["distances"][0], res["metadatas"][0])]

    def rows(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        with self.engine.connect() as db:
            return {r.id: dict(r._mapping) for r in db.execute(sa.select(t.precedents).where(t.precedents.c.id.in_(ids)))}

    def outcomes(self, family: str | None, facts: list[str] = (), date_range: tuple[dt.date | None, dt.date | None] | None = None,
                 exclude_hash: str | None = None, category: str | None = None) -> dict[str, int]:
        """{decision: n} over the items of a family (or a category) that name every given fact."""
        c = t.precedents.c
        q = sa.select(c.decision, sa.func.count()).group_by(c.decision)
        if family:
            q = q.where(c.family == family)
        if category:
            q = q.where(c.category == category)
        for f in facts:
            q = q.where(c.facts.contains(f"|{f}|", autoescape=True))
        lo, hi = date_range or (None, None)
        if lo:
            q = q.where(c.letter_date >= lo.isoformat())
        if hi:
            q = q.where(c.letter_date <= hi.isoformat())
        if exclude_hash:
            q = q.where(c.content_hash != exclude_hash)
        with self.engine.connect() as db:
            return {d: int(n) for d, n in db.execute(q)}

    # -- writing ---------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path | str], progress: Any | None = None) -> IngestReport:
        """Add the letters under `paths` (files or folders) that are not stored yet; `progress(n_files)` after each batch."""
        report = IngestReport()
        t0 = time.perf_counter()
        for batch in letter_batches(paths, self.settings.precedents.ingest_batch, report):
            self._ingest_batch(batch, report)
            if progress:
                progress(len(batch))
        report.seconds = round(time.perf_counter() - t0, 3)
        return report

    def _ingest_batch(self, paths: list[Path], report: IngestReport) -> None:
        self.write_batch(prepare_batch(paths, self.embeddings, self.engine), report)

    def write_batch(self, batch: PreparedBatch, report: IngestReport) -> None:
        """Store a prepared batch. The one writer: stored hashes are read again here, because another batch
        prepared at the same time (on Ray) may have stored the same letter since."""
        report.failed.extend(batch.failed)
        report.unchanged_letters += batch.unchanged
        report.parse_seconds += batch.parse_seconds
        report.embed_seconds += batch.embed_seconds
        report.letters_parsed += len(batch.letters)
        have, _ = known_hashes(self.engine, [x.content_hash for x in batch.letters], [])
        records: list[PrecedentRecord] = []
        vectors: list[list[float]] = []
        stale: set[str] = set()
        for x in batch.letters:
            if x.content_hash in have:
                report.unchanged_letters += 1
                continue
            have.add(x.content_hash)
            if x.stale:
                stale |= x.stale
                report.updated_letters += 1
            else:
                report.added_letters += 1
            records.extend(x.records)
            vectors.extend(x.vectors)
        if not records and not stale:
            return
        if stale:
            self.collection.delete(where={"content_hash": {"$in": sorted(stale)}})
        step = max(1, min(1000, self.client.get_max_batch_size()))
        for i in range(0, len(records), step):
            part = records[i: i + step]
            self.collection.upsert(ids=[r.id for r in part], documents=[r.embed_text for r in part], embeddings=vectors[i: i + step],
                                   metadatas=[self._meta(r) for r in part])
        now = time.time()
        with self.engine.connect() as db, db.begin():
            if stale:
                db.execute(t.precedents.delete().where(t.precedents.c.content_hash.in_(sorted(stale))))
            if records:
                ids = [r.id for r in records]
                db.execute(t.precedents.delete().where(t.precedents.c.id.in_(ids)))  # rows of a batch cut off earlier
                db.execute(t.precedents.insert(), [self._row(r, now) for r in records])
        report.added_items += len(records)

    @staticmethod
    def _meta(r: PrecedentRecord) -> dict[str, Any]:
        return {"family": r.family, "category": r.category, "content_hash": r.content_hash, "decision": r.decision,
                "letter_date": _date_int(r.letter_date), "letter_name": r.letter_name}

    @staticmethod
    def _row(r: PrecedentRecord, now: float) -> dict[str, Any]:
        return {"id": r.id, "letter_path": r.letter_path, "letter_name": r.letter_name, "content_hash": r.content_hash,
                "item_index": r.item_index, "letter_date": r.letter_date.isoformat() if r.letter_date else None, "item": r.item,
                "category": r.category, "treatment": r.treatment, "generic": r.generic, "family": r.family, "decision": r.decision,
                "citations_json": json.dumps([c.model_dump() for c in r.citations]), "pages": r.pages, "rationale": r.rationale,
                "key_facts_json": json.dumps(r.key_facts), "facts": "|" + "|".join(r.facts) + "|", "layout": r.layout, "ingested": now}
