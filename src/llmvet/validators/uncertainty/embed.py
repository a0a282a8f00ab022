"""Optional embedding pass: catch explicit statements phrased in ways the cue lists don't know.

Only sentences that the rule path left unexplained (no statement, refusal, filler or exclusion in them)
and that pass the `embedding_gate` (author's voice, a word about knowing or checking, a caveat label) are
encoded, and only when the rule path found no statement at all, so most answers never touch the model.
Each candidate is then judged by the trained statement classifier (head.py) when it was trained on the
loaded model; otherwise (another model, or a policy's own `prototype_file`) by voting among its nearest
labelled prototypes (`data/uncertainty/prototypes.<lang>.jsonl`). A policy's `extra_prototypes` count
when a candidate is very close to one of them. The shared embedding model comes from `llmvet.embeddings`
(loaded once per process).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources as importlib_resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmvet.validators.uncertainty.detect import Hit
from llmvet.validators.uncertainty.head import PROBE, StatementHead, head_path

if TYPE_CHECKING:  # numpy comes with the embeddings extra; the rule path must import without it
    import numpy as np

    from llmvet.resources import Resources

EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class KnnSettings:
    k: int = 3
    min_fraction: float = 0.66  # share of the k nearest prototypes that must be statements
    min_similarity: float = 0.45  # cosine similarity of the nearest prototype
    near_match: float = 0.75  # a statement prototype this close counts on its own (e.g. a policy's extras)


def prototypes_path(language: str) -> Path:
    return Path(str(importlib_resources.files("llmvet") / "data" / "uncertainty" / f"prototypes.{language}.jsonl"))


def read_prototypes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def prototype_texts(
    language: str, extra_positive: tuple[str, ...] = (), path: str | None = None
) -> tuple[list[str], np.ndarray]:
    import numpy as np

    rows = read_prototypes(Path(path).expanduser() if path else prototypes_path(language))
    texts = [r["text"] for r in rows] + list(extra_positive)
    labels = np.array([int(r["statement"]) for r in rows] + [1] * len(extra_positive), dtype=np.int8)
    return texts, labels


def knn(candidates: np.ndarray, protos: np.ndarray, labels: np.ndarray, s: KnnSettings) -> list[tuple[bool, float]]:
    """For each candidate row: (is a statement?, score). Rows are L2-normalised, so dot = cosine."""
    import numpy as np

    if len(candidates) == 0 or len(protos) == 0:
        return [(False, 0.0)] * len(candidates)
    sims = candidates @ protos.T
    k = min(s.k, protos.shape[0])
    nearest = np.argsort(-sims, axis=1)[:, :k]
    out = []
    for row, idx in enumerate(nearest):
        fraction = float(labels[idx].mean())
        top = float(sims[row, idx[0]])
        near = bool(labels[idx[0]]) and top >= s.near_match
        out.append(
            (near or (fraction >= s.min_fraction and top >= s.min_similarity), round(max(fraction, near) * top, 4))
        )
    return out


class PrototypeIndex:
    """Prototype vectors and the statement head for one (model, language, extras); built once per process."""

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, extras: np.ndarray, head: StatementHead | None) -> None:
        self.vectors = vectors
        self.labels = labels
        self.extras = extras  # a policy's extra_prototypes (statements), also among `vectors`
        self.head = head  # None: the head does not fit this model, or a prototype_file replaced it

    @property
    def method(self) -> str:
        return "classifier" if self.head is not None else "prototypes"


def _head_for(embedder: Any, language: str, head_file: str | None) -> StatementHead | None:
    """The statement head when it was trained on this model (raises for a broken configured file)."""
    path = Path(head_file).expanduser() if head_file else head_path(language)
    if not head_file and not path.exists():
        return None  # no shipped head for this language: prototypes only
    head = StatementHead.load(path)
    return head if head.matches(embedder.encode([PROBE])[0]) else None


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """What picks the model, the prototypes and the statement head; one per validator, also the cache key."""

    model: str | None = None
    language: str = "en"
    extra_positive: tuple[str, ...] = ()
    prototype_file: str | None = None
    quantize: bool = True
    head_file: str | None = None


async def load_index(resources: Resources, spec: IndexSpec) -> tuple[Any, PrototypeIndex]:
    """The shared model, the encoded prototypes and the statement head (each built once per process).
    Raises EmbeddingsUnavailable / OSError / ValueError when the model, the prototype file or a configured
    head file can't be loaded."""
    import numpy as np

    from llmvet.embeddings import get_embedder

    embedder = await get_embedder(resources, spec.model, spec.quantize)

    def build() -> PrototypeIndex:
        texts, labels = prototype_texts(spec.language, spec.extra_positive, spec.prototype_file)
        vectors = embedder.encode(texts, batch_size=64)
        n_extra = len(spec.extra_positive)
        extras = vectors[len(texts) - n_extra :] if n_extra else np.zeros((0, vectors.shape[1]))
        # A policy's own prototype file means "judge by these examples", so it replaces the shipped head.
        own_examples = spec.prototype_file and not spec.head_file
        head = None if own_examples else _head_for(embedder, spec.language, spec.head_file)
        return PrototypeIndex(vectors, labels, extras, head)

    # Keyed by the loaded model's resolved name, so "default" and the default's own name share one index.
    key = ("uncertainty-prototypes", embedder.name, replace(spec, model=None))
    return embedder, await resources.singleton(key, build)


async def find_statements(
    candidates: list[Hit],
    resources: Resources,
    spec: IndexSpec,
    settings: KnnSettings = KnnSettings(),
    threshold: float | None = None,
) -> tuple[list[Hit], str]:
    """Candidates judged to be explicit statements, as statement hits (score 0.6-0.8), and the method used."""
    if not candidates:
        return [], "none"
    embedder, index = await load_index(resources, spec)
    texts = [c.text for c in candidates]
    vectors = await resources.run_cpu(embedder.encode, texts)
    if index.head is not None:
        probs = index.head.probabilities(texts, vectors)
        cut = threshold if threshold is not None else index.head.threshold
        near = (vectors @ index.extras.T).max(axis=1) if len(index.extras) else probs * 0
        verdicts = [
            (bool(p >= cut or n >= settings.near_match), float(max(p, n))) for p, n in zip(probs, near, strict=True)
        ]
    else:
        verdicts = knn(vectors, index.vectors, index.labels, settings)
    found = []
    for cand, (yes, score) in zip(candidates, verdicts, strict=True):  # one verdict per candidate row
        if yes:
            found.append(Hit(EMBEDDING, cand.start, cand.end, cand.text, max(0.6, min(0.8, score)), cand.where))
    return found, index.method
