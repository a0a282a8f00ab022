"""The registry client's peek remembers the cache key of each name as asked: what it gives must be what
reading the memory cache under the normalised key gives, for every spelling, registry and record change.
The check skips awaiting the popular-list build once every list it needs is built."""

from __future__ import annotations

import json
import time
from pathlib import Path

from llmvet.validators.base import Context
from llmvet.validators.packages.extract import extract
from tests.support.fake_registry import packages_validator

DATA = Path(__file__).resolve().parents[2] / "data"


def plain_peek(client, index, name):
    """peek's answer read the plain way: the record under the normalised key, if fresh."""
    rec = client._mem.get(client.key(index, name))
    if rec is None or not client._fresh(rec, time.time()):
        return None
    return (rec["status"], rec.get("info"), index.label)


def spellings(name: str) -> list[str]:
    return [name, name.upper(), name.replace("-", "_"), name.replace("-", "."), f"{name}-x"]


async def test_peek_is_the_plain_cache_reading(fake_registry, res):
    v = packages_validator(fake_registry)
    texts = [
        json.loads(line)["text"]
        for path in sorted(DATA.glob("packages/*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and isinstance(json.loads(line).get("text"), str)
    ]
    for text in texts:
        await v.check(Context(text=text, resources=res))
    found = 0
    for _ in range(2):  # the second round reads the remembered keys
        for text in texts[:200]:
            for ref in extract(text, Context(text=text).code_blocks).refs:
                for index in (v.pypi, v.npm):
                    for name in spellings(ref.name):
                        hit = v.client.peek(index, name)
                        got = None if hit is None else (hit.status, hit.info, hit.registry)
                        assert got == plain_peek(v.client, index, name), (index.ecosystem, name)
                        found += hit is not None
    assert found > 500
    # a record replaced under a remembered key is the one peek reads
    name = next(n for n in ("requests", "flask", "numpy") if v.client.peek(v.pypi, n) is not None)
    key = v.client.key(v.pypi, name)
    v.client._remember(key, {**v.client._mem[key], "status": "missing", "info": None})
    assert v.client.peek(v.pypi, name.upper()).status == "missing"
    for _ in range(2):  # every spelling peeked before; then again, its entry brought up to date
        for spelling in spellings(name)[:4]:
            assert v.client.peek(v.pypi, spelling).status == "missing", spelling
    # one written under another key is read past the entries made before it
    v.client._remember("pypi:other", {"status": "found", "fetched": time.time()})
    assert v.client.peek(v.pypi, name).status == "missing"


async def test_popular_lists_are_built_off_the_loop_before_the_await_is_skipped(fake_registry, res):
    """The check awaits the popular-list build only while one of its registries' lists is unbuilt: the
    first answer naming both registries builds both (then later answers skip the await)."""
    v = packages_validator(fake_registry)
    assert not v._popular_built
    await v.check(Context(text="```bash\npip install requests\n```\n", resources=res))
    assert v._popular_built == {"pypi"}
    await v.check(Context(text="```bash\nnpm install left-pad\npip install flask\n```\n", resources=res))
    assert v._popular_built == set(v._ecosystems) == {"pypi", "npm"}
