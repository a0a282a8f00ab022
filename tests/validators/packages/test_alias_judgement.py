"""A name written two ways is judged by how it was written, whichever the validator read first.

`pip install PIL` names Pillow's import name (an alias), so placeholder wording counts even on a
project with many releases; `pip install pil` is the same PyPI project without the alias. The
judge remembers name signals per project, and one answer's spellings of a project share one
lookup; each spelling must still get its own verdict, within an answer and across answers.
End to end against the loopback fake registry, with a squat-like record put under that name.
"""

from __future__ import annotations

import pytest

from llmvet.resources import Resources
from llmvet.validators.base import Context
from tests.support.fake_registry import packages_validator, running_registry

# Placeholder wording, but eight releases with files: only an alias makes the wording count.
SQUAT = {
    "info": {
        "name": "PIL",
        "summary": "This name is reserved to prevent typosquatting",
        "version": "1.7",
        "description": "d" * 300,
        "project_urls": {"Home": "https://e.x"},
    },
    "releases": {
        f"1.{i}": [{"filename": f"pil-1.{i}.tar.gz", "upload_time_iso_8601": f"2019-0{i + 1}-01T00:00:00Z"}]
        for i in range(8)
    },
}


@pytest.fixture(scope="module")
def fake():
    with running_registry() as reg:
        recorded = reg.records["pypi"].get("pil")
        reg.add("pypi", "pil", SQUAT)
        yield reg
        reg.records["pypi"]["pil"] = recorded


async def codes(validator, text: str, res: Resources) -> list[str]:
    verdict = await validator.check(Context(text=text, resources=res))
    return sorted(f.code for f in verdict.findings)


async def codes_by_spelling(validator, text: str, res: Resources) -> dict[str, list[str]]:
    verdict = await validator.check(Context(text=text, resources=res))
    out: dict[str, list[str]] = {}
    for f in verdict.findings:
        assert f.span is not None
        out.setdefault(text[f.span[0] : f.span[1]], []).append(f.code)
    return out


@pytest.mark.parametrize("first, second", [("PIL", "pil"), ("pil", "PIL")])
async def test_each_spelling_gets_its_own_verdict(fake, res, first, second):
    alone = {name: await codes(packages_validator(fake), f"pip install {name}", res) for name in (first, second)}
    assert alone["PIL"] != alone["pil"]  # the alias matters for this record, or the test proves nothing
    assert "package.placeholder" in alone["PIL"]

    shared = packages_validator(fake)
    assert await codes(shared, f"pip install {first}", res) == alone[first]
    assert await codes(shared, f"pip install {second}", res) == alone[second]


@pytest.mark.parametrize("first, second", [("PIL", "pil"), ("pil", "PIL")])
async def test_both_spellings_in_one_answer(fake, res, first, second):
    """A squat on the alias must not hide behind a lower-case mention earlier in the same answer."""
    found = await codes_by_spelling(packages_validator(fake), f"pip install {first}\npip install {second}\n", res)
    assert found.get("PIL") == ["package.placeholder"]
    assert "pil" not in found
