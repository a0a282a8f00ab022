"""Hallucinated names that appear only as imports, and placeholders that sit on the popular list.

End to end against the loopback fake registry: an import whose name is the package name (npm
specifiers; unmapped Python top-level modules) fails the answer when the registry has no such
package, however the import is written.
"""

from __future__ import annotations

import pytest

from llmvet.resources import Resources
from llmvet.validators.base import Context, Status
from llmvet.validators.packages import PackagesValidator
from tests.support.fake_registry import packages_validator

GHOST = "zzq-ghost-client"  # on no registry
PY_GHOST = "zzqghostlib"


def make(fake_registry, **kw) -> PackagesValidator:
    return packages_validator(fake_registry, **kw)


async def check(v: PackagesValidator, text: str, res: Resources):
    verdict = await v.check(Context(text=text, resources=res))
    named = {text[f.span[0] : f.span[1]]: f.code for f in verdict.findings}
    return verdict, named


@pytest.mark.parametrize(
    "code, name",
    [
        (f"const client = require('{GHOST}');", GHOST),
        (f"import client from '{GHOST}';\nclient.connect();", GHOST),
        (f"import {{ connect as c }} from '{GHOST}';", GHOST),
        (f"const mod = await import('{GHOST}');", GHOST),
        (f"const sub = require('{GHOST}/lib/pool');", GHOST),  # a subpath still names the package
        (f"export * from '{GHOST}';", GHOST),
        ("import { Pool } from '@zzqscope/ghost-pool';", "@zzqscope/ghost-pool"),
        ("const x = require('@zzqscope/ghost-pool/dist/index.js');", "@zzqscope/ghost-pool"),
    ],
)
async def test_npm_import_of_missing_package_fails(fake_registry, res, code, name):
    text = f"Use this:\n\n```js\n{code}\n```\n"
    verdict, named = await check(make(fake_registry), text, res)
    assert verdict.status == Status.FAILED
    assert named == {name: "package.missing"}


@pytest.mark.parametrize(
    "code",
    [
        f"import {PY_GHOST}",
        f"import {PY_GHOST} as np_fast",  # an alias does not hide the module name
        f"from {PY_GHOST}.client import Session",
        f"import os, {PY_GHOST}.io",
        f"import importlib\nmod = importlib.import_module('{PY_GHOST}')",
        f'mod = __import__("{PY_GHOST}")',
        f">>> import {PY_GHOST}",  # console session: the line-scan fallback
    ],
)
async def test_python_import_of_missing_module_fails(fake_registry, res, code):
    text = f"```python\n{code}\n```"
    verdict, named = await check(make(fake_registry), text, res)
    assert verdict.status == Status.FAILED
    assert named == {PY_GHOST: "package.missing"}
    assert verdict.findings[0].evidence["kind"] == "import"


async def test_imports_that_still_pass(fake_registry, res):
    text = (
        "```python\nimport requests\nimport helpers\ntry:\n    import zzqfastjson\nexcept ImportError:\n"
        "    zzqfastjson = None\nfrom google.cloud import zzqnotaservice\n```\n"
        "Put the helpers in `helpers.py`.\n\n```js\nconst express = require('express');\n"
        "const fs = require('node:fs');\nimport x from './local/thing';\n```"
    )
    verdict, named = await check(make(fake_registry), text, res)
    assert verdict.status == Status.PASSED
    # the optional import and the guessed namespace distribution stay low-severity notes
    assert named == {"zzqfastjson": "package.unknown_import", "google": "package.unknown_import"}


async def test_python_x_alias_still_resolves_an_import(fake_registry, res):
    fake_registry.add(
        "pypi",
        "python-zzqreal",
        {
            "info": {
                "name": "python-zzqreal",
                "summary": "zzq bindings",
                "version": "1.1",
                "description": "d" * 300,
                "project_urls": {"Home": "https://e.x"},
            },
            "releases": {
                "1.0": [{"upload_time_iso_8601": "2019-01-01T00:00:00Z"}],
                "1.1": [{"upload_time_iso_8601": "2019-02-01T00:00:00Z"}],
            },
        },
    )
    try:
        verdict, named = await check(make(fake_registry), "```python\nimport zzqreal\n```", res)
        assert verdict.status == Status.PASSED and named == {}
    finally:
        fake_registry.records["pypi"].pop("python-zzqreal")


# PyPI's `pytorch`: two old releases, no summary, no description, no project URLs; installing it
# only raises an error telling you to install `torch`.
_PYTORCH = {
    "info": {"name": "pytorch", "summary": "", "version": "1.0.2", "description": "", "project_urls": None},
    "releases": {
        "0.1.2": [{"filename": "pytorch-0.1.2.tar.gz", "upload_time_iso_8601": "2017-01-10T00:00:00Z"}],
        "1.0.2": [{"filename": "pytorch-1.0.2.tar.gz", "upload_time_iso_8601": "2019-04-24T00:00:00Z"}],
    },
}


async def test_placeholder_on_the_popular_list_is_still_a_placeholder(fake_registry, res, tmp_path):
    popular = tmp_path / "popular-pypi.txt"
    popular.write_text("requests\ntorch\nnumpy\npytorch\n")  # a download-ranked list can hold `pytorch`
    fake_registry.add("pypi", "pytorch", _PYTORCH)
    try:
        text = "```bash\npip install pytorch requests\n```"
        for cfg in ({"popular_pypi_file": str(popular)}, {}):
            verdict, named = await check(make(fake_registry, **cfg), text, res)
            assert verdict.status == Status.FAILED, cfg
            assert set(named) == {"pytorch"}, cfg
        listed, named = await check(make(fake_registry, popular_pypi_file=str(popular)), text, res)
        assert named == {"pytorch": "package.placeholder"}
        assert "torch" in listed.findings[0].message
    finally:
        fake_registry.records["pypi"].pop("pytorch")
