"""The suggested fix for a name that exists only on the other registry (`pip install axios`,
`npm install scikit-learn`), and what must not happen on the way: private names leaking to a public
registry, a squat registered on the other registry displacing the right suggestion."""

from __future__ import annotations

import json

import pytest

from llmvet.validators.base import Context
from tests.support.fake_registry import DATA, packages_validator, running_registry


@pytest.fixture(scope="module")
def registry():
    with running_registry() as reg:
        yield reg


async def findings(registry, res, text, **settings):
    verdict = await packages_validator(registry, **settings).check(Context(text=text, resources=res))
    return {text[f.span[0] : f.span[1]]: f for f in verdict.findings}


async def test_each_way_names_the_other_registry(registry, res):
    text = "Run `pip install axios` and `npm install scikit-learn`.\n"
    got = await findings(registry, res, text)
    axios, sklearn = got["axios"], got["scikit-learn"]
    assert axios.code == sklearn.code == "package.missing"
    assert (axios.evidence["suggestion"], axios.evidence["suggestion_ecosystem"]) == ("axios", "npm")
    assert (sklearn.evidence["suggestion"], sklearn.evidence["suggestion_ecosystem"]) == ("scikit-learn", "pypi")
    assert "did you mean the npm package 'axios'?" in axios.message
    assert "did you mean the PyPI package 'scikit-learn'?" in sklearn.message


async def test_a_popular_name_there_beats_an_edit_distance_guess_here(registry, res):
    # 'vite' is one edit from PyPI's popular 'vine', and npm's popular 'vite' itself
    got = await findings(registry, res, "Run `pip install vite`.\n")
    assert (got["vite"].evidence["suggestion"], got["vite"].evidence["suggestion_ecosystem"]) == ("vite", "npm")


async def test_a_squat_on_the_other_registry_does_not_displace_the_typo_fix(registry, res):
    # someone registers the hallucinated spelling on npm: an unpopular name there, so PyPI's
    # 'requests' (one edit away) stays the suggestion
    squat = json.loads((DATA / "registry" / "npm" / "left-pad.json").read_text()) | {"name": "reqeusts"}
    registry.add("npm", "reqeusts", squat)
    got = await findings(registry, res, "Run `pip install reqeusts`.\n")
    assert got["reqeusts"].evidence["suggestion"] == "requests"
    assert "suggestion_ecosystem" not in got["reqeusts"].evidence
    assert "did you mean 'requests'?" in got["reqeusts"].message


async def test_private_names_imports_and_disabled_ecosystems_are_never_asked_there(registry, res):
    registry.hits.clear()
    text = "```bash\npip install acme-internal-billing\n```\n```python\nimport lodash_helpers_x\n```\n"
    got = await findings(registry, res, text, private_prefixes=["acme-"])
    assert got["acme-internal-billing"].code == "package.private_unresolved"
    # no request for either name went to npm: a private name must not leak to a public registry,
    # and a Python import names no npm package
    assert not [p for p in registry.hits if p.startswith("/npm/")], dict(registry.hits)
    registry.hits.clear()
    got = await findings(registry, res, "Run `pip install axios`.\n", ecosystems=["pypi"])
    assert "suggestion_ecosystem" not in got["axios"].evidence
    assert not [p for p in registry.hits if p.startswith("/npm/")], dict(registry.hits)
