"""The answer texts of the test corpora (tests/data/*/*.jsonl), and random texts built from pieces, for
tests that hold a fast path against its plain definition."""

from __future__ import annotations

import json
import random
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def corpus_texts(pattern: str = "*/*.jsonl") -> list[str]:
    """Every `text` field of the corpus files matching `pattern` (under tests/data), in file order."""
    out = []
    for path in sorted(DATA.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and isinstance(text := json.loads(line).get("text"), str):
                out.append(text)
    return out


def with_generated(pieces: list[str], seed: int, n: int, most: int) -> list[str]:
    """The corpus texts, then `n` texts of 1 to `most` pieces drawn at random (seeded)."""
    rng = random.Random(seed)
    return corpus_texts() + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, most))) for _ in range(n)]
