"""Sentence embeddings shared by validators: one model per process, encoded off the event loop.

The model is loaded once per (process, model name) through `Resources.singleton`, in the CPU
thread pool. `sentence-transformers` (and torch) are an optional extra: without them every entry
point raises `EmbeddingsUnavailable` with the install hint, and `embedding_problems()` says so for
`llmvet policy check`.

The model is named by a hub name (downloaded and cached the usual way) or a local directory. The
environment variable `LLMVET_EMBEDDING_MODEL` replaces the *default* name, so machines without hub
access (CI, air-gapped hosts) can point every policy that keeps the default at a local copy.

CPU cost on the request path: `quantize=True` gives a copy whose linear layers are int8 (torch
dynamic quantisation: about 2.5x faster on CPU; the consistency benchmark figures are unchanged
within noise, see benchmarks/consistency_wikibio.py; vectors move a little, cos ~0.95 to float32).
The float32 model stays the default here so callers whose thresholds were set on it keep them; the
consistency validator opts in. torch uses all cores but one (`LLMVET_EMBEDDING_THREADS`), so the
event loop and the upstream I/O keep a core while a batch is encoded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from llmvet.resources import Resources

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ENV_MODEL = "LLMVET_EMBEDDING_MODEL"
ENV_THREADS = "LLMVET_EMBEDDING_THREADS"
INSTALL_HINT = "pip install 'llmvet[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    """sentence-transformers is missing or the model cannot be loaded."""


def resolve_model_name(name: str | None = None) -> str:
    """The model to load: an explicit non-default name wins; otherwise $LLMVET_EMBEDDING_MODEL, then the default."""
    if name and name != DEFAULT_MODEL:
        return name
    return os.environ.get(ENV_MODEL) or DEFAULT_MODEL


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or (
        os.sep in name.rstrip(os.sep) and Path(name).expanduser().exists()
    )


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

    def __init__(self, model: Any, name: str, quantized: bool = False) -> None:
        self.model = model
        self.name = name
        self.quantized = quantized
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


def torch_threads() -> int:
    """Intra-op threads for encoding: $LLMVET_EMBEDDING_THREADS, else every core but one."""
    env = os.environ.get(ENV_THREADS, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 2) - 1)


def _quantize(model: Any) -> Any:
    """int8 dynamic quantisation of the linear layers (CPU inference); the model unchanged if unsupported."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the eager API in favour of torchao; it still works
        return torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_embedder(name: str | None = None, quantize: bool = False) -> Embedder:
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

    local = _looks_like_path(resolved)
    target = str(Path(resolved).expanduser()) if local else resolved
    _log_through_root()
    try:
        model = _from_cache_or_hub(SentenceTransformer, target, local)
    except Exception as exc:  # hub unreachable, bad directory, corrupt weights…
        raise EmbeddingsUnavailable(
            f"cannot load embedding model {resolved!r}: {type(exc).__name__}: {exc} "
            f"(set {ENV_MODEL} or the validator's embedding_model to a local directory when offline)"
        ) from exc
    import torch

    torch.set_num_threads(torch_threads())  # process-wide; llmvet is the only torch user in its process
    quantized = False
    if quantize:
        try:
            model, quantized = _quantize(model), True
        except Exception:  # pragma: no cover - no quantised kernels on this CPU/build: stay in float32
            quantized = False
    return Embedder(model, resolved, quantized)


def _from_cache_or_hub(sentence_transformer: Any, target: str, local: bool) -> Any:
    """A hub model from the local cache when it is there (no request to the hub, which may be
    unreachable: its client retries for about a minute), else from the hub."""
    if not local:
        try:
            return sentence_transformer(target, device="cpu", local_files_only=True)
        except Exception:  # not in the cache (or an old sentence-transformers): ask the hub
            pass
    return sentence_transformer(target, device="cpu")


LIBRARY_LOGGERS = ("huggingface_hub", "transformers", "sentence_transformers")


def _log_through_root() -> None:
    """The model libraries install their own stderr handlers: when the process has configured logging
    (llmvet serve, in text or JSON), theirs go so their lines come out once, in the process's format."""
    if not logging.getLogger().handlers:
        return
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            if type(handler) is logging.StreamHandler:
                library.removeHandler(handler)
        library.propagate = True


async def get_embedder(resources: Resources, name: str | None = None, quantize: bool = False) -> Embedder:
    """The process-wide embedder for (`name`, quantize), loaded on first use in the thread pool."""
    resolved = resolve_model_name(name)
    return await resources.singleton(("embedder", resolved, quantize), lambda: load_embedder(resolved, quantize))


async def encode(resources: Resources, texts: list[str], name: str | None = None, quantize: bool = False) -> np.ndarray:
    """Encode `texts` in one batch in the thread pool."""
    embedder = await get_embedder(resources, name, quantize)
    return await resources.run_cpu(embedder.encode, texts)
