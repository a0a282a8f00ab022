"""Sentence embeddings shared by validators: one model per process, encoded off the event loop.

The model is loaded once per (process, model name) through `Resources.singleton`, in the CPU
thread pool. `sentence-transformers` (and torch) are an optional extra: without them every entry
point raises `EmbeddingsUnavailable` with the install hint, and `embedding_problems()` says so for
`llmvet policy check`.

The model is named by a hub name (downloaded and cached the usual way) or a local directory. The
environment variable `LLMVET_EMBEDDING_MODEL` replaces the *default* name, so machines without hub
access (CI, air-gapped hosts) can point every policy that keeps the default at a local copy.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from llmvet.resources import Resources

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ENV_MODEL = "LLMVET_EMBEDDING_MODEL"
INSTALL_HINT = "pip install 'llmvet[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    """sentence-transformers is missing or the model cannot be loaded."""


def resolve_model_name(name: str | None = None) -> str:
    """The model to load: an explicit non-default name wins; otherwise $LLMVET_EMBEDDING_MODEL, then the default."""
    if name and name != DEFAULT_MODEL:
        return name
    return os.environ.get(ENV_MODEL) or DEFAULT_MODEL


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.sep in name.rstrip(os.sep) and Path(name).expanduser().exists()


def embedding_problems(name: str | None = None) -> list[str]:
    """Start-up self-check: what would stop the model from loading (without loading it)."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return [f"sentence-transformers is not installed; install it with: {INSTALL_HINT}"]
    resolved = resolve_model_name(name)
    if _looks_like_path(resolved) and not Path(resolved).expanduser().is_dir():
        return [f"embedding model directory {resolved!r} does not exist"]
    return []


class Embedder:
    """A loaded sentence-transformers model; `encode` returns L2-normalised float32 rows."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        # torch already uses every core for one batch; two batches at once would only thrash the caches.
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Blocking: call it through `Resources.run_cpu`."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            out = self.model.encode(
                texts,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get() or 0)


def load_embedder(name: str | None = None) -> Embedder:
    """Blocking load (runs in the thread pool when reached through `get_embedder`)."""
    resolved = resolve_model_name(name)
    if importlib.util.find_spec("sentence_transformers") is None:
        raise EmbeddingsUnavailable(f"sentence-transformers is not installed; install it with: {INSTALL_HINT}")
    from sentence_transformers import SentenceTransformer

    try:  # no progress bars in a server's log
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers layout changed; cosmetic only
        pass

    target = str(Path(resolved).expanduser()) if _looks_like_path(resolved) else resolved
    try:
        model = SentenceTransformer(target, device="cpu")
    except Exception as exc:  # hub unreachable, bad directory, corrupt weights…
        raise EmbeddingsUnavailable(
            f"cannot load embedding model {resolved!r}: {type(exc).__name__}: {exc} "
            f"(set {ENV_MODEL} or the validator's embedding_model to a local directory when offline)"
        ) from exc
    return Embedder(model, resolved)


async def get_embedder(resources: Resources, name: str | None = None) -> Embedder:
    """The process-wide embedder for `name`, loaded on first use in the thread pool."""
    resolved = resolve_model_name(name)
    return await resources.singleton(("embedder", resolved), lambda: load_embedder(resolved))


async def encode(resources: Resources, texts: list[str], name: str | None = None) -> np.ndarray:
    """Encode `texts` in one batch in the thread pool."""
    embedder = await get_embedder(resources, name)
    return await resources.run_cpu(embedder.encode, texts)
