"""Build and update the index: the bundled corpus, and official guideline PDFs a user supplies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from drafter.corpus.chunks import topic_chunks
from drafter.corpus.pdf import pdf_chunks
from drafter.corpus.topics import load_corpus
from drafter.embeddings import make_embeddings
from drafter.index import GuidelineIndex, SyncReport
from drafter.settings import Settings


def open_index(settings: Settings, *, for_indexing: bool = False) -> GuidelineIndex:
    return GuidelineIndex(settings, make_embeddings(settings, for_indexing=for_indexing))


def ingest_corpus(index: GuidelineIndex, corpus_dir: Path | None = None, rebuild: bool = False) -> SyncReport:
    """Validate every topic file first (all or nothing), then embed only what changed."""
    settings = index.settings
    topics = load_corpus(corpus_dir or settings.corpus_dir)
    chunks = [c for t in topics for c in topic_chunks(t, settings.retrieval.chunk_chars)]
    if rebuild:
        index.reset()
    return index.sync(chunks, source_kind="corpus")


def ingest_pdf(
    index: GuidelineIndex,
    path: Path,
    guideline: str,
    edition: str,
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
) -> SyncReport:
    """Add or replace one guideline PDF; chunks cite the printed page labels. Other sources are untouched."""
    chunks = pdf_chunks(path, guideline, edition, effective_from, effective_to, index.settings.retrieval.chunk_chars)
    return index.sync(chunks, source_kind="pdf", prune=False)


def ensure_index(index: GuidelineIndex) -> SyncReport:
    """Keep the index in step with the corpus: build it on the first run, and re-embed any topic whose text changed
    since (a stale index would cite passage text and pages the corpus no longer holds). Unchanged: a hash check."""
    return ingest_corpus(index)
