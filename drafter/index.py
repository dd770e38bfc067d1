"""The persistent vector index: a Chroma collection (embedded on disk, or a shared Chroma server)."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from drafter.corpus.chunks import Chunk
from drafter.embeddings import LocalSentenceEmbeddings, chroma_embedding_function
from drafter.errors import ConfigError, IndexError_
from drafter.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    added_topics: list[str] = field(default_factory=list)
    updated_topics: list[str] = field(default_factory=list)
    removed_topics: list[str] = field(default_factory=list)
    unchanged_topics: int = 0
    chunks_embedded: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.added_topics)} added, {len(self.updated_topics)} updated, "
            f"{len(self.removed_topics)} removed, {self.unchanged_topics} unchanged; "
            f"{self.chunks_embedded} chunks embedded"
        )


def make_chroma_client(settings: Settings) -> Any:
    """Chroma client with telemetry off: on-disk under DRAFTER_HOME, or HTTP when DRAFTER_CHROMA_URL is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"DRAFTER_CHROMA_URL={settings.chroma_url!r} is not an http(s)://host:port URL.")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectError here
            raise IndexError_(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({exc}). Start it "
                "(`chroma run --path DIR --port PORT`) or unset DRAFTER_CHROMA_URL to use the local index."
            ) from exc
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class GuidelineIndex:
    """Guideline chunks in Chroma, embedded with our local model only."""

    def __init__(self, settings: Settings, embeddings: LocalSentenceEmbeddings, client: Any | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.client = client if client is not None else make_chroma_client(settings)
        self._ef = chroma_embedding_function(embeddings)
        try:
            self.collection = self.client.get_or_create_collection(
                name=settings.collection,
                embedding_function=self._ef,
                metadata={"hnsw:space": "cosine", "embedding_model": embeddings.model_name},
            )
        except Exception as exc:  # HTTP and storage errors surface as many types
            where = f"the Chroma server at {settings.chroma_url}" if settings.chroma_url else f"the index at {settings.index_dir}"
            raise IndexError_(
                f"Cannot open {where} ({type(exc).__name__}: {exc}). Check that the server is running "
                "(`chroma run --path DIR --port PORT`) or that DRAFTER_HOME is writable."
            ) from exc
        stored = (self.collection.metadata or {}).get("embedding_model")
        if stored and stored != embeddings.model_name:
            raise IndexError_(
                f"The index was built with embedding model {stored!r}, not {embeddings.model_name!r}. "
                "Run `imr-drafter ingest --rebuild`."
            )

    # -- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        return self.collection.count()

    def all_chunks(self) -> list[Chunk]:
        got = self.collection.get(include=["documents", "metadatas"])
        return [Chunk(i, d or "", dict(m or {})) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]

    def dense_search(self, vector: list[float], n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) for the n nearest chunks that pass `where`."""
        n = min(n, max(self.count(), 1))
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0])]

    def _hashes(self, source_kind: str) -> dict[str, tuple[str, set[str]]]:
        got = self.collection.get(where={"source_kind": source_kind}, include=["metadatas"])
        by_topic: dict[str, tuple[str, set[str]]] = {}
        for cid, meta in zip(got["ids"], got["metadatas"]):
            h, ids = by_topic.get(meta["topic_id"], (str(meta.get("content_hash", "")), set()))
            ids.add(cid)
            by_topic[meta["topic_id"]] = (h, ids)
        return by_topic

    # -- writing ---------------------------------------------------------------------------
    def sync(self, chunks: list[Chunk], source_kind: str = "corpus", prune: bool = True) -> SyncReport:
        """Make the index hold exactly `chunks` for this source kind; re-embed only topics whose hash changed.

        Embeddings are computed before anything is deleted, so a failure leaves the index as it was.
        """
        report = SyncReport()
        existing = self._hashes(source_kind)
        by_topic: dict[str, list[Chunk]] = defaultdict(list)
        for c in chunks:
            by_topic[str(c.metadata["topic_id"])].append(c)
        to_add: list[Chunk] = []
        to_delete: list[str] = []
        for topic_id, tchunks in by_topic.items():
            new_hash = str(tchunks[0].metadata.get("content_hash", ""))
            new_ids = {c.chunk_id for c in tchunks}
            if topic_id in existing:
                old_hash, old_ids = existing[topic_id]
                if old_hash == new_hash and old_ids == new_ids:
                    report.unchanged_topics += 1
                    continue
                report.updated_topics.append(topic_id)
                to_delete.extend(old_ids - new_ids)
            else:
                report.added_topics.append(topic_id)
            to_add.extend(tchunks)
        if prune:
            for topic_id, (_, old_ids) in existing.items():
                if topic_id not in by_topic:
                    report.removed_topics.append(topic_id)
                    to_delete.extend(old_ids)
        vectors = self.embeddings.embed_documents([c.text for c in to_add]) if to_add else []
        if to_delete:
            self.collection.delete(ids=sorted(to_delete))
        if to_add:
            step = max(1, min(1000, self.client.get_max_batch_size()))
            for i in range(0, len(to_add), step):
                part = to_add[i : i + step]
                self.collection.upsert(
                    ids=[c.chunk_id for c in part],
                    documents=[c.text for c in part],
                    metadatas=[c.metadata for c in part],
                    embeddings=vectors[i : i + step],
                )
        report.chunks_embedded = len(to_add)
        return report

    def reset(self) -> None:
        """Drop and recreate the collection (for --rebuild)."""
        self.client.delete_collection(self.settings.collection)
        self.__init__(self.settings, self.embeddings, self.client)  # type: ignore[misc]
