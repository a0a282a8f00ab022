"""The labelled development set: well-formed, varied, and the validator still meets its targets on it.

These floors guard against regressions; generalisation is measured on held-out data by
benchmarks/uncertainty_quality.py (see tests/data/uncertainty/README.md).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks.uncertainty_quality import evaluate
from llmvet.validators.uncertainty import UncertaintyValidator
from tests.support import DATA as TEST_DATA

DATA = TEST_DATA / "uncertainty" / "dev.jsonl"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_schema_and_size(records):
    assert len(records) >= 300
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    texts = [r["text"] for r in records]
    assert len(texts) == len(set(texts)), "near-duplicate answers make the set look better than it is"
    for r in records:
        assert r["statement"] in ("present", "missing")
        assert r["hedging"] in ("none", "light", "heavy")
        assert r["refusal"] in ("none", "partial", "full")
        assert (r["refusal"] == "none") == (r["category"] is None)
        assert r["category"] in (None, "safety", "capability", "policy", "deflection", "unspecified")


def test_mix_of_cases(records):
    tags = Counter(t for r in records for t in r["tags"])
    for tag in ("code-only", "comment-statement", "third-party", "quote", "drafting", "filler", "list", "short"):
        assert tags[tag] >= 3, tag
    refusals = Counter((r["refusal"], r["category"]) for r in records if r["refusal"] != "none")
    assert sum(n for (level, _), n in refusals.items() if level == "partial") >= 20
    assert {c for _, c in refusals} >= {"safety", "capability", "policy", "deflection"}
    assert sum(r["statement"] == "present" for r in records) >= 100
    assert sum(r["hedging"] == "heavy" for r in records) >= 15


def test_targets_hold_on_the_dev_set(records):
    results, _ = evaluate(records, UncertaintyValidator(UncertaintyValidator.Config()))
    assert results["statement.present"]["precision"] >= 0.95
    assert results["statement.present"]["recall"] >= 0.85
    assert results["refusal.any"]["f1"] >= 0.90


HELDOUT = sorted((TEST_DATA / "uncertainty").glob("heldout*.jsonl"))


@pytest.mark.parametrize("path", HELDOUT, ids=[p.stem for p in HELDOUT])
def test_later_batches_are_well_formed_and_separate(records, path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    prefix = "h" + path.stem.removeprefix("heldout") + "-"
    assert len(rows) >= 40
    assert all(r["id"].startswith(prefix) for r in rows)
    assert not {r["text"] for r in rows} & {r["text"] for r in records}, "a later batch must not repeat dev answers"
    for r in rows:
        assert r["statement"] in ("present", "missing")
        assert r["refusal"] in ("none", "partial", "full")
        assert (r["refusal"] == "none") == (r["category"] is None)
    assert 0.25 <= sum(r["statement"] == "present" for r in rows) / len(rows) <= 0.6
