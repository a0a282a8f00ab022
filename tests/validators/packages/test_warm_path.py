"""The check's shortcuts: an answer naming no package, and one whose names are all in the memory cache."""

from __future__ import annotations

import pytest

from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context
from tests.support.corpus import corpus_texts
from tests.support.fake_registry import packages_validator


def corpus() -> list[str]:
    edge = ["", "\n", "```\n```", "Paris is the capital of France.", "```python\nx = 1\n```\n", "`pip install`"]
    return edge + corpus_texts()


def without_ms(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k != "ms"}


async def test_an_answer_naming_no_package_gets_the_judged_verdict(fake_registry, res):
    """The no-reference shortcut gives what judging no references gives, for every answer of the corpora
    the extraction finds no package in (and no policy reading: the reviewer allowlist is never asked)."""
    fake_registry.hits.clear()
    v = packages_validator(fake_registry)
    none = 0
    for text in corpus():
        ctx = Context(text=text, resources=res, policy="p")
        if (await v._extract(ctx)).refs:
            continue
        none += 1
        got = await v.check(ctx)
        judged = await v._judged(ctx, [], (), warm_only=True)
        assert judged is not None
        assert (got.status, got.risk, got.findings, without_ms(got.meta)) == (
            judged.status,
            judged.risk,
            judged.findings,
            without_ms(judged.meta),
        ), text
        assert "ms" in got.meta
    assert none > 100
    assert not fake_registry.hits


async def test_a_warm_answer_is_checked_without_a_loop_turn(fake_registry, res):
    """Once every name is in the memory cache, the check runs to its end in one step: no task, no await
    that gives the loop a turn (the coroutine finishes on its first send)."""
    v = packages_validator(fake_registry)
    text = "```bash\npip install requests flask\nnpm install express\n```\n```python\nimport requests\n```\n"
    first = await v.check(Context(text=text, resources=res))
    assert first.meta["packages_checked"] == 3 and not first.findings
    for t in (text, text + "\nand again: `pip install flask`", ""):
        coro = v.check(Context(text=t, resources=res))
        with pytest.raises(StopIteration) as done:
            coro.send(None)
        verdict = done.value.value
        assert without_ms(verdict.meta) == {
            "packages_checked": 3 if t else 0,
            "references": len((await v._extract(Context(text=t))).refs),
            "unchecked": 0,
        }
    cold = v.check(Context(text="```bash\npip install numpy\n```\n", resources=res))
    assert cold.send(None) is not None  # a name not in memory: the check waits for its lookup
    cold.close()


class CountingResources(Resources):
    """Resources that count the process-wide builds they are asked for."""

    asked = 0

    async def singleton(self, key, factory):
        self.asked += 1
        return await super().singleton(key, factory)


async def test_after_warm_up_a_pypi_only_answer_asks_for_no_index(fake_registry, tmp_path):
    """warm_up builds the lookalike indexes; checks after it (here naming PyPI packages only, so the npm
    index is never needed by an answer) do not ask for them again, answer after answer."""
    r = CountingResources(await open_store(f"sqlite:///{tmp_path / 'c.db'}"))
    try:
        v = packages_validator(fake_registry)
        await v.warm_up(r)
        built = r.asked
        assert built == 2
        for i in range(3):
            verdict = await v.check(Context(text=f"`pip install requests`, then run step {i}", resources=r))
            assert verdict.meta["packages_checked"] == 1
        assert r.asked == built
    finally:
        await r.close()


async def test_verdicts_naming_no_package_have_meta_of_their_own(fake_registry, res):
    """The no-reference verdict is built from one constant: each verdict's meta must be its own (the
    engine and the check itself write into it)."""
    v = packages_validator(fake_registry)
    first = await v.check(Context(text="Paris is the capital of France.", resources=res))
    first.meta["part"] = "content"
    second = await v.check(Context(text="Rome is the capital of Italy.", resources=res))
    assert first.meta is not second.meta
    assert "part" not in second.meta and second.meta["references"] == 0
