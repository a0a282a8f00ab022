"""The hand-written realistic answers (tests/data/packages/realistic.jsonl), name by name."""

from __future__ import annotations

import json

import pytest

from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context
from llmvet.validators.packages import PackagesValidator
from tests.support import DATA
from tests.support.fake_registry import FakeRegistry
from tests.support.servers import ThreadedServer

ITEMS = [json.loads(line) for line in (DATA / "packages" / "realistic.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def url():
    with ThreadedServer(FakeRegistry().app) as srv:
        yield srv.url


def norm(n: str) -> str:
    return n.lower().replace("_", "-").replace(".", "-")


@pytest.mark.parametrize("item", ITEMS, ids=[f"answer{i}" for i in range(len(ITEMS))])
async def test_realistic_answer(item, url, tmp_path):
    res = Resources(await open_store(f"sqlite:///{tmp_path / 'c.db'}"))
    try:
        v = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        verdict = await v.check(Context(text=item["text"], resources=res))
    finally:
        await res.close()
    found: dict[str, set[str]] = {}
    for f in verdict.findings:
        found.setdefault(norm(f.evidence["name"]), set()).add(f.code)
    for exp in item["expect"]:
        codes = found.get(norm(exp["name"]), set())
        if exp["class"] == "nonexistent":
            assert "package.missing" in codes, exp
        elif exp["class"] == "placeholder":
            assert "package.placeholder" in codes, exp
        else:
            assert not codes, (exp, codes)
    expected_names = {norm(e["name"]) for e in item["expect"]}
    assert set(found) <= expected_names | {norm(e["name"]).split("-")[0] for e in item["expect"]}, found
