"""The statement classifier: logistic regression over a sentence's words and its embedding.

Features: TF-IDF of word 1-3-grams (what the sentence says: "not sure", "from memory", "couldn't
verify") next to the shared embedding model's sentence vector (how it says it, for phrasings with no
known word). Trained offline by `benchmarks/uncertainty_train.py` on labelled sentences (see
`tests/data/uncertainty/README.md`) and shipped as `data/uncertainty/statement-head.<lang>.json`: the
n-gram vocabulary with idf and weight, the embedding weights, bias, decision threshold, and a fingerprint
of the embedding model. The embedding weights only mean something for that model, so `matches()`
compares the fingerprint (the vector of a fixed probe sentence) with what the loaded model produces;
with another model the validator falls back to nearest-prototype voting (embed.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PROBE = "llmvet statement head probe: I am not sure the flag still exists in version 2."
# Cosine between the probe's stored and fresh vectors that means "same model": the int8-quantised and
# float32 copies of one model agree to about 0.99; different models land far lower.
SAME_MODEL = 0.95
NGRAMS = (1, 3)
_TOKEN = re.compile(r"\w[\w']*|[?%]")


def tokens(text: str) -> list[str]:
    """Lower-cased words (keeping "i", "i'm", "don't") plus '?' and '%', which matter here."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def ngrams(text: str) -> list[str]:
    words = tokens(text)
    lo, hi = NGRAMS
    return [" ".join(words[i : i + n]) for n in range(lo, hi + 1) for i in range(len(words) - n + 1)]


def head_path(language: str) -> Path:
    return Path(str(importlib_resources.files("llmvet") / "data" / "uncertainty" / f"statement-head.{language}.json"))


@dataclass(frozen=True)
class StatementHead:
    weights: np.ndarray  # (dimension,) embedding weights
    vocabulary: dict[str, tuple[float, float]]  # n-gram -> (idf, weight)
    bias: float
    threshold: float  # probability at or above which a sentence is a statement
    probe: np.ndarray  # the model's vector for PROBE when trained
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> StatementHead:
        """Raises OSError / ValueError for a missing or malformed file."""
        import numpy as np

        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            weights = np.asarray(data["weights"], dtype=np.float32)
            probe = np.asarray(data["probe"], dtype=np.float32)
            vocabulary = {str(k): (float(v[0]), float(v[1])) for k, v in data["vocabulary"].items()}
            head = cls(
                weights, vocabulary, float(data["bias"]), float(data["threshold"]), probe, dict(data.get("meta", {}))
            )
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"{path}: not a statement head file ({exc})") from exc
        if weights.ndim != 1 or weights.shape != probe.shape or not 0.0 < head.threshold < 1.0:
            raise ValueError(f"{path}: inconsistent statement head (weights {weights.shape}, probe {probe.shape})")
        return head

    def matches(self, probe_vector: np.ndarray) -> bool:
        """Was this head trained on the model that produced `probe_vector` (the vector of PROBE)?"""
        if probe_vector.shape != self.probe.shape:
            return False
        return float(probe_vector @ self.probe) >= SAME_MODEL

    def text_score(self, text: str) -> float:
        """The n-gram part of the score: sublinear TF-IDF, L2-normalised, dotted with the weights."""
        counts: dict[str, int] = {}
        for gram in ngrams(text):
            if gram in self.vocabulary:
                counts[gram] = counts.get(gram, 0) + 1
        if not counts:
            return 0.0
        values = {g: (1.0 + math.log(n)) * self.vocabulary[g][0] for g, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in values.values()))
        return sum(v * self.vocabulary[g][1] for g, v in values.items()) / norm

    def probabilities(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        import numpy as np

        logits = vectors @ self.weights + self.bias + np.array([self.text_score(t) for t in texts], dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-logits))


def write_head(
    path: Path,
    weights: Any,
    vocabulary: dict[str, tuple[float, float]],
    bias: float,
    threshold: float,
    probe: Any,
    meta: dict[str, Any],
) -> None:
    data = {
        "weights": [round(float(w), 6) for w in weights],
        "vocabulary": {g: [round(float(i), 5), round(float(w), 5)] for g, (i, w) in sorted(vocabulary.items())},
        "bias": round(float(bias), 6),
        "threshold": round(float(threshold), 4),
        "probe": [round(float(p), 6) for p in probe],
        "meta": meta,
    }
    path.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
