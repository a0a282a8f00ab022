"""Against the real registries (opt-in: `pytest -m live tests/validators/packages/test_live.py`)."""

from __future__ import annotations

import uuid

import pytest

from llmvet.validators.base import Context, Status
from llmvet.validators.packages import PackagesValidator

pytestmark = pytest.mark.live
PUBLIC = dict(pypi_index_url="https://pypi.org/simple", npm_registry_url="https://registry.npmjs.org")


async def test_live_real_missing_and_placeholder(res):
    ghost = f"llmvet-live-{uuid.uuid4().hex[:12]}"
    text = f"```bash\npip install requests {ghost} sklearn requests==99.0.0\nnpm install express {ghost}\n```"
    v = await PackagesValidator(PackagesValidator.Config(**PUBLIC)).check(Context(text=text, resources=res))
    got = sorted((f.code, f.evidence["ecosystem"], text[f.span[0] : f.span[1]]) for f in v.findings)
    assert got == [
        ("package.missing", "npm", ghost),
        ("package.missing", "pypi", ghost),
        ("package.placeholder", "pypi", "sklearn"),
        ("package.version_missing", "pypi", "requests"),
    ], got
    assert v.status == Status.FAILED


async def test_live_simple_api(res):
    v = PackagesValidator(PackagesValidator.Config(pypi_index_url="https://pypi.org/simple", pypi_json_url=""))
    out = await v.check(Context(text="`pip install requests==2.31.0 numpy`", resources=res))
    assert out.status == Status.PASSED and out.findings == []
