"""Realistic coding answers for the speed benchmarks: the ~1 KB one the overhead benchmark's upstream
gives (benchmarks/bare.py), and a ~10 KB one joined from the realistic answers in
tests/data/packages/realistic.jsonl (and the 1 KB one). Per-KB figures divide by the answer's UTF-8 size."""

from __future__ import annotations

import json
from pathlib import Path

from bare import REALISTIC

ROOT = Path(__file__).resolve().parents[1]


def long_answer(size: int = 10_000) -> str:
    """The realistic answers and the 1 KB one joined, in turn, until the text reaches `size` bytes."""
    lines = (ROOT / "tests/data/packages/realistic.jsonl").read_text(encoding="utf-8").splitlines()
    parts = [json.loads(line)["text"] for line in lines if line.strip()] + [REALISTIC]
    out: list[str] = []
    while len("\n\n".join(out).encode()) < size:
        out.append(parts[len(out) % len(parts)])
    return "\n\n".join(out)


ANSWERS = {"1 KB": REALISTIC, "10 KB": long_answer()}


def kb(text: str) -> float:
    return len(text.encode()) / 1000
