"""The judge remembers what each kind of reference to a registry record gave (judge_all): a name another
answer named gets the same findings as judging it afresh, at its own place, in objects of its own."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path

from llmvet.validators.base import Context
from llmvet.validators.packages.judge import Judge
from llmvet.validators.packages.refs import REF_KEY_FIELDS
from tests.support.corpus import corpus_texts
from tests.support.fake_registry import packages_validator

DATA = Path(__file__).resolve().parents[2] / "data"


def corpus() -> list[str]:
    return corpus_texts("packages/*.jsonl")


def seen(verdict) -> tuple:
    return verdict.status, verdict.risk, [f.to_dict(audit=True) for f in verdict.findings]


async def test_remembered_judgements_are_the_fresh_ones(fake_registry, res):
    """Every corpus answer, checked by a validator that judged all of them before, gets what a validator
    judging it afresh (its memory emptied) gets: findings, places, evidence, status and risk."""
    remembering, fresh = packages_validator(fake_registry), packages_validator(fake_registry)
    texts = corpus()
    for text in texts:
        await remembering.check(Context(text=text, resources=res))
    assert remembering.judge._judged  # (the memory is used: the comparison below reads it)
    with_findings = 0
    for text in reversed(texts):  # another order: other places than the ones remembered
        fresh.judge._judged.clear()
        want = await fresh.check(Context(text=text, resources=res))
        got = await remembering.check(Context(text=text, resources=res))
        assert seen(got) == seen(want), text
        with_findings += bool(want.findings)
    assert with_findings > 100


async def test_findings_handed_out_are_not_the_remembered_ones(fake_registry, res):
    """The engine adds to a finding's evidence and moves its span: what one answer's findings become must
    not reach the next answer naming the same package."""
    v = packages_validator(fake_registry)
    name = "flask-jwt-extended-authx-helper"
    first = await v.check(Context(text=f"Run `pip install {name}` now.", resources=res))
    assert [f.code for f in first.findings] == ["package.missing"]
    for f in first.findings:
        f.evidence["part"] = "content"
        f.span = (0, 1)
    text = f"First upgrade pip.\n\n```bash\npip install {name}\n```\n"
    again = await v.check(Context(text=text, resources=res))
    [f] = again.findings
    assert "part" not in f.evidence
    assert f.span is not None and text[f.span[0] : f.span[1]] == name
    v.judge._judged.clear()
    assert seen(await v.check(Context(text=text, resources=res))) == seen(again)


async def test_a_new_registry_record_is_judged_again(fake_registry, res):
    """A name judged quiet is judged again once the registry's record changes (here: it became a
    placeholder), not served from memory."""
    real = json.loads((DATA / "packages/registry/pypi/requests.json").read_text())
    squat = json.loads((DATA / "packages/synthetic.json").read_text())["pypi"]["ada-pip-credentials"]
    name = "llmvet-memo-probe"
    fake_registry.add("pypi", name, real)
    v = packages_validator(fake_registry, positive_ttl=0.2)
    text = f"Install it with `pip install {name}`."
    assert (await v.check(Context(text=text, resources=res))).findings == []
    assert (await v.check(Context(text=text, resources=res))).findings == []
    fake_registry.add("pypi", name, squat)
    await asyncio.sleep(0.3)
    codes = [f.code for f in (await v.check(Context(text=text, resources=res))).findings]
    assert codes == ["package.placeholder"]


async def test_a_name_registered_later_is_found_through_the_warm_path(fake_registry, res):
    """The warm path reuses what it made of a memory-cache record (the Lookup a peek built, the route of
    a name): once the record is replaced, a missing name that got registered reads as found."""
    real = json.loads((DATA / "packages/registry/pypi/requests.json").read_text())
    name = "llmvet-registered-later"
    v = packages_validator(fake_registry, negative_ttl=0.2)
    text = f"```bash\npip install {name}\n```\n"
    for _ in range(2):  # the second check reads the memory cache
        assert [f.code for f in (await v.check(Context(text=text, resources=res))).findings] == ["package.missing"]
    fake_registry.add("pypi", name, real)
    await asyncio.sleep(0.3)
    assert (await v.check(Context(text=text, resources=res))).findings == []
    hit = v.client.peek(v.pypi, name)
    assert hit is not None and hit.status == "found" and v.client.peek(v.pypi, name) is hit


async def test_a_replaced_record_is_judged_again(fake_registry, res):
    """The memory is of the registry answer itself: once the record of a name changes, the next answer
    naming it is judged on the new one."""
    v = packages_validator(fake_registry)
    text = "Run `pip install requests` now."
    assert not (await v.check(Context(text=text, resources=res))).findings
    assert not (await v.check(Context(text=text, resources=res))).findings  # (remembered)
    key = v.client.key(v.pypi, "requests")
    v.client._remember(key, {**v.client._mem[key], "status": "missing", "info": None})
    got = await v.check(Context(text=text, resources=res))
    assert [f.code for f in got.findings] == ["package.missing"]


def test_the_memo_key_reads_every_field_but_the_span():
    """judge_all builds its memo key from these fields, read inline: a field added to Ref must be added
    there too (else two refs differing in it would share findings)."""
    assert REF_KEY_FIELDS == (
        "ecosystem", "name", "kind", "tool", "version", "spec", "optional", "module", "index_url", "extra_index"
    )  # fmt: skip
    read = inspect.getsource(Judge.judge_all)
    assert all(f"ref.{name}," in read for name in REF_KEY_FIELDS)
