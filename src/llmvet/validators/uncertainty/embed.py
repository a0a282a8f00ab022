"""Optional embedding pass: catch explicit statements phrased in ways the cue lists don't know.

Only first-person sentences that the rule path left unexplained (no statement, refusal, filler or
exclusion in them) are encoded, and only when the rule path found no statement at all, so most
answers never touch the model. Each candidate is compared with a small labelled prototype set
(`data/uncertainty/prototypes.<lang>.jsonl`: first-person sentences that are / are not explicit
statements); it counts when most of its nearest prototypes are statements and the nearest one is
close enough. The shared embedding model comes from `llmvet.embeddings` (loaded once per process).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmvet.validators.uncertainty.detect import Hit

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
        out.append((near or (fraction >= s.min_fraction and top >= s.min_similarity), round(max(fraction, near) * top, 4)))
    return out


class PrototypeIndex:
    """Prototype vectors for one (model, language, extras); built once per process."""

    def __init__(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.vectors = vectors
        self.labels = labels


async def load_index(
    resources: Resources,
    model: str | None,
    language: str,
    extra_positive: tuple[str, ...] = (),
    path: str | None = None,
    quantize: bool = True,
) -> tuple[Any, PrototypeIndex]:
    """The shared model and the encoded prototypes (each built once per process). Raises
    EmbeddingsUnavailable / OSError / ValueError when the model or the prototype file can't be loaded."""
    from llmvet.embeddings import get_embedder

    embedder = await get_embedder(resources, model, quantize)

    def build() -> PrototypeIndex:
        texts, labels = prototype_texts(language, extra_positive, path)
        return PrototypeIndex(embedder.encode(texts, batch_size=64), labels)

    key = ("uncertainty-prototypes", embedder.name, quantize, language, extra_positive, path)
    return embedder, await resources.singleton(key, build)


async def find_statements(
    candidates: list[Hit],
    resources: Resources,
    model: str | None,
    language: str,
    extra_positive: tuple[str, ...] = (),
    settings: KnnSettings = KnnSettings(),
    path: str | None = None,
    quantize: bool = True,
) -> list[Hit]:
    """Candidates the prototype set says are explicit statements, as statement hits (score 0.75)."""
    if not candidates:
        return []
    embedder, index = await load_index(resources, model, language, extra_positive, path, quantize)
    vectors = await resources.run_cpu(embedder.encode, [c.text for c in candidates])
    found = []
    for cand, (yes, score) in zip(candidates, knn(vectors, index.vectors, index.labels, settings)):
        if yes:
            found.append(Hit(EMBEDDING, cand.start, cand.end, cand.text, max(0.6, min(0.8, score)), cand.where))
    return found
