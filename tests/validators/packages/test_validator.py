"""The packages validator end to end against the loopback fake registry (recorded answers)."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from llmvet.resources import Resources
from llmvet.validators.base import Context, Status
from llmvet.validators.packages import PackagesValidator
from tests.support.fake_registry import packages_validator


@pytest.fixture(autouse=True)
def _reset(fake_registry):
    fake_registry.delay, fake_registry.fail = 0.0, False
    fake_registry.hits.clear()
    fake_registry.max_inflight = 0
    yield


def make(fake_registry, **kw) -> PackagesValidator:
    return packages_validator(fake_registry, **kw)


async def run(v, text, res):
    verdict = await v.check(Context(text=text, resources=res))
    for f in verdict.findings:
        assert f.span is not None and 0 <= f.span[0] < f.span[1] <= len(text)
    return verdict


def by_name(verdict, text):
    return {text[f.span[0] : f.span[1]]: f for f in verdict.findings}


async def test_real_packages_pass(fake_registry, res):
    text = (
        "```bash\npip install requests 'fastapi[standard]' numpy==2.0.0 scikit-learn\n"
        "npm install express react@18.2.0 @types/node\n```\n"
        "```python\nimport cv2, yaml\nfrom PIL import Image\nfrom bs4 import BeautifulSoup\nimport sklearn\n"
        "from playhouse.shortcuts import model_to_dict\nimport os, json, asyncio\n```\n"
    )
    v = await run(make(fake_registry), text, res)
    assert v.status == Status.PASSED, [f.to_dict() for f in v.findings]
    assert v.findings == []
    assert v.meta["packages_checked"] == 7


async def test_missing_package_and_missing_version(fake_registry, res):
    text = "Run `pip install flask-superauth requests==99.0` then `npm i express-turbo-router`."
    v = await run(make(fake_registry), text, res)
    assert v.status == Status.FAILED
    f = by_name(v, text)
    assert f["flask-superauth"].code == "package.missing"
    assert f["flask-superauth"].severity == "high"
    assert f["flask-superauth"].evidence["ecosystem"] == "pypi"
    assert f["flask-superauth"].evidence["registry"] == f"{fake_registry.url}/pypi"
    assert f["requests"].code == "package.version_missing"
    assert f["requests"].evidence["version"] == "99.0"
    assert f["express-turbo-router"].code == "package.missing"
    assert f["express-turbo-router"].evidence["ecosystem"] == "npm"


async def test_pep440_equal_versions_are_found(fake_registry, res):
    v = await run(make(fake_registry), "`pip install requests==2.31`", res)  # 2.31 == 2.31.0
    assert v.status == Status.PASSED, [f.message for f in v.findings]


async def test_import_names_installed_are_placeholders(fake_registry, res):
    text = "```\npip install sklearn bs4 playhouse dotenv PIL\n```"
    v = await run(make(fake_registry), text, res)
    f = by_name(v, text)
    assert {k: x.code for k, x in f.items()} == {
        k: "package.placeholder" for k in ("sklearn", "bs4", "playhouse", "dotenv", "PIL")
    }
    assert f["sklearn"].evidence["closest"] == "scikit-learn"
    assert f["PIL"].evidence["closest"] == "Pillow"
    assert v.status == Status.FAILED


async def test_research_squats_and_npm_security_holding(fake_registry, res):
    text = "```\npip install chainlit-graphql-orm asurion-drive botocote\nnpm install splide\n```"
    v = await run(make(fake_registry), text, res)
    f = by_name(v, text)
    assert {k: x.code for k, x in f.items()} == {
        "chainlit-graphql-orm": "package.placeholder",
        "asurion-drive": "package.placeholder",
        "botocote": "package.placeholder",
        "splide": "package.placeholder",
    }


async def test_unknown_import_is_lower_severity_than_missing_install(fake_registry, res):
    text = (
        "```python\nimport fancyhallucinatedlib\ntry:\n    import zzfastjsonx\nexcept ImportError:\n    zzfastjsonx = None\n```\n"
        "```bash\npip install fancyhallucinatedlib\n```"
    )
    v = await run(make(fake_registry), text, res)
    codes = sorted((f.code, f.severity, f.evidence.get("kind")) for f in v.findings)
    assert codes == [
        ("package.missing", "high", "import"),
        ("package.missing", "high", "install"),
        ("package.unknown_import", "low", "import"),
    ]
    optional = next(f for f in v.findings if f.evidence.get("name") == "zzfastjsonx")
    assert optional.risk < next(f for f in v.findings if f.code == "package.missing").risk
    assert v.status == Status.FAILED
    # the import alone names the package, so it fails the answer too; the optional one does not
    only_imports = await run(make(fake_registry), text.split("```bash")[0], res)
    assert only_imports.status == Status.FAILED and len(only_imports.findings) == 2
    optional_only = await run(
        make(fake_registry), text.split("```bash")[0].replace("import fancyhallucinatedlib\n", ""), res
    )
    assert optional_only.status == Status.PASSED and [f.code for f in optional_only.findings] == [
        "package.unknown_import"
    ]


async def test_namespace_imports_resolve(fake_registry, res):
    text = "```python\nfrom google.cloud import storage\nimport google.cloud.storage\nfrom azure.identity import DefaultAzureCredential\n```"
    v = await run(make(fake_registry), text, res)
    assert v.findings == []


async def test_lookalike_reported_with_closest(fake_registry, res):
    text = "`pip install reqeusts`"
    v = await run(make(fake_registry), text, res)
    (f,) = v.findings
    assert f.code == "package.missing" and f.evidence["closest"] == "requests"


async def test_conda_not_checked_and_ignored(fake_registry, res):
    text = "```\nconda install -c conda-forge nonexistentthing\n```"
    v = await run(make(fake_registry), text, res)
    assert [(f.code, f.severity) for f in v.findings] == [("package.not_checked", "info")]
    assert v.status == Status.PASSED
    v = await run(make(fake_registry, conda="ignore"), text, res)
    assert v.findings == []
    assert fake_registry.hits == {}


async def test_allowlist_denylist_and_ecosystems(fake_registry, res):
    text = "```\npip install flask-superauth requests\nnpm install express-turbo-router\n```"
    v = await run(make(fake_registry, allowlist=["flask-*"], denylist=["requests"], ecosystems=["pypi"]), text, res)
    assert [(f.code, f.evidence["name"]) for f in v.findings] == [("package.denied", "requests")]
    assert v.status == Status.FAILED
    assert not any("npm" in p for p in fake_registry.hits)


async def test_private_prefixes_must_resolve_on_private_index(fake_registry, res):
    text = "`pip install acme-billing requests`"
    no_private = await run(make(fake_registry, private_prefixes=["acme-"]), text, res)
    assert [f.code for f in no_private.findings] == ["package.private_unresolved"]
    # the private index here is the fake's Simple API; acme-billing is not on it
    v = await run(
        make(fake_registry, private_prefixes=["acme-"], private_index_url=f"{fake_registry.url}/simple"), text, res
    )
    assert [f.code for f in v.findings] == ["package.private_unresolved"]
    fake_registry.add(
        "pypi",
        "acme-billing",
        {
            "info": {"name": "acme-billing", "summary": "Billing", "version": "1.0"},
            "releases": {
                "1.0": [{"upload_time_iso_8601": "2020-01-01T00:00:00Z", "filename": "acme_billing-1.0.tar.gz"}]
            },
        },
    )
    try:
        # (the miss above is cached for negative_ttl; another namespace sees the new answer)
        v = await run(
            make(
                fake_registry,
                private_prefixes=["acme-"],
                private_index_url=f"{fake_registry.url}/simple",
                cache_namespace="fresh",
            ),
            text,
            res,
        )
        assert v.findings == []
    finally:
        fake_registry.records["pypi"].pop("acme-billing")


async def test_simple_api_only_mirror(fake_registry, res):
    v = make(fake_registry, pypi_json_url="")  # a mirror: no JSON API, PEP 691 JSON Simple API
    assert v.pypi.json_url is None
    text = "`pip install requests==2.31.0 flask-superauth playhouse`"
    out = await run(v, text, res)
    f = by_name(out, text)
    assert {k: x.code for k, x in f.items()} == {
        "flask-superauth": "package.missing",
        "playhouse": "package.placeholder",
    }
    # no summary on the Simple API: playhouse is caught as peewee's import name with one release
    assert "import name of peewee" in f["playhouse"].evidence["reasons"][0]
    assert any(p.startswith("/simple/") for p in fake_registry.hits)


async def test_simple_api_html_fallback(fake_registry, res):
    from llmvet.validators.packages.registry import Index

    v = make(fake_registry, pypi_json_url="")
    client = v.client
    import llmvet.validators.packages.registry as registry

    old = registry.SIMPLE_ACCEPT
    registry.SIMPLE_ACCEPT = "text/html"
    try:
        got = await client.lookup_many(res, [(Index("pypi", f"{fake_registry.url}/simple"), "flask")])
    finally:
        registry.SIMPLE_ACCEPT = old
    (lk,) = got.values()
    assert lk.status == "found" and "3.0.0" in lk.info["versions"]


async def test_single_flight_and_cache(fake_registry, res):
    fake_registry.delay = 0.3
    v = make(fake_registry)
    text = "`pip install flask`"
    outs = await asyncio.gather(*(run(v, text, res) for _ in range(10)))
    assert all(o.status == Status.PASSED for o in outs)
    assert fake_registry.hits["/pypi/flask/json"] == 1  # ten concurrent answers, one request
    # a second validator (another replica) finds it in the shared store: no request
    fake_registry.hits.clear()
    await run(make(fake_registry), text, res)
    assert fake_registry.hits == {}


async def test_cold_lookups_run_concurrently_within_the_limit(fake_registry, res):
    fake_registry.delay = 0.3
    names = ["requests", "numpy", "pandas", "flask", "django", "httpx", "rich", "click"]
    text = "```\npip install " + " ".join(names) + "\n```"
    v = await run(make(fake_registry, concurrency=16), text, res)
    assert v.status == Status.PASSED
    assert sum(fake_registry.hits.values()) == 8
    assert fake_registry.max_inflight > 2  # the lookups of one answer overlap
    fake_registry.max_inflight = 0
    await run(make(fake_registry, concurrency=2, cache_namespace="other"), text, res)
    assert fake_registry.max_inflight == 2  # never more than the limit


async def test_missing_then_registered_is_rejudged(fake_registry, res):
    v = make(fake_registry, negative_ttl=0.2)
    text = "`pip install fastapi-zeroconf-auth`"
    first = await run(v, text, res)
    assert [f.code for f in first.findings] == ["package.missing"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    fake_registry.add(
        "pypi",
        "fastapi-zeroconf-auth",
        {
            "info": {
                "name": "fastapi-zeroconf-auth",
                "summary": "Zero-config auth for FastAPI",
                "version": "0.1.0",
                "description": "x" * 400,
                "project_urls": {"Homepage": "https://e.x"},
            },
            "releases": {"0.1.0": [{"upload_time_iso_8601": now, "filename": "fastapi_zeroconf_auth-0.1.0.tar.gz"}]},
        },
    )
    try:
        await asyncio.sleep(0.25)
        second = await run(v, text, res)
        (f,) = second.findings
        assert f.code == "package.recent" and f.severity == "high"
        assert "seen_missing_at" in f.evidence
    finally:
        fake_registry.records["pypi"].pop("fastapi-zeroconf-auth")


async def test_recent_package_is_reported(fake_registry, res):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5 * 86400))
    fake_registry.add(
        "pypi",
        "brand-new-lib",
        {
            "info": {
                "name": "brand-new-lib",
                "summary": "A new library for parsing things",
                "version": "0.2.0",
                "description": "y" * 500,
                "project_urls": {"Source": "https://e.x"},
            },
            "releases": {
                "0.1.0": [{"upload_time_iso_8601": now, "filename": "a-0.1.0.tar.gz"}],
                "0.2.0": [{"upload_time_iso_8601": now, "filename": "a-0.2.0.tar.gz"}],
            },
        },
    )
    try:
        text = "`pip install brand-new-lib`"
        v = await run(make(fake_registry), text, res)
        (f,) = v.findings
        assert f.code == "package.recent" and 4 < f.evidence["age_days"] < 6
        assert v.status == Status.PASSED  # recent alone does not fail by default
        strict = await run(make(fake_registry, fail_on=["missing", "recent"], min_age_days=1), text, res)
        assert strict.findings == [] and strict.status == Status.PASSED
        strict = await run(make(fake_registry, fail_on=["missing", "recent"]), text, res)
        assert strict.status == Status.FAILED
    finally:
        fake_registry.records["pypi"].pop("brand-new-lib")


async def test_registry_unreachable_open_closed_and_stale_cache(fake_registry, res):
    text = "`pip install requests`"
    fake_registry.fail = True
    opened = await run(make(fake_registry, registry_unreachable="open"), text, res)
    assert opened.status == Status.PASSED and [f.code for f in opened.findings] == ["package.unverified"]
    closed = await run(make(fake_registry, registry_unreachable="closed"), text, res)
    assert closed.status == Status.FAILED and closed.findings[0].severity == "high"
    # once cached, an expired entry still answers while the registry is down
    fake_registry.fail = False
    await run(make(fake_registry, positive_ttl=0.05), text, res)
    await asyncio.sleep(0.1)
    fake_registry.fail = True
    v = await run(make(fake_registry, positive_ttl=0.05, registry_unreachable="closed"), text, res)
    assert v.status == Status.PASSED and v.findings == []


async def test_timeout_counts_as_unreachable(fake_registry, res):
    fake_registry.delay = 1.0
    v = await run(make(fake_registry, lookup_timeout=0.2, registry_unreachable="closed"), "`npm i lodash`", res)
    (f,) = v.findings
    assert f.code == "package.unverified" and "Timeout" in f.evidence["error"]


async def test_shared_cache_on_both_store_backends(fake_registry, store):
    r = Resources(store)
    try:
        text = "`pip install flask` and `npm i express`"
        v1 = await run(make(fake_registry), text, r)
        assert v1.status == Status.PASSED
        hits = sum(fake_registry.hits.values())
        assert hits == 2
        v2 = await run(make(fake_registry), text, r)  # fresh memory, same store
        assert v2.status == Status.PASSED and sum(fake_registry.hits.values()) == hits
        assert sorted(await store.keys("pkgcache"))
    finally:
        if r._http is not None:
            await r._http.close()
        r._cpu_pool.shutdown(wait=False)


def test_config_rejects_unknown_fields_and_signals():
    with pytest.raises(ValidationError, match="nonsense"):
        PackagesValidator.Config(fail_on=["nonsense"])
    with pytest.raises(ValidationError, match="typo_field"):
        PackagesValidator.Config(typo_field=1)
    assert PackagesValidator.Config(fail_on=["missing"]).fail_on == ["package.missing"]


async def test_lookalike_of_a_popular_name_that_exists_but_is_new(fake_registry, res):
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10 * 86400))
    fake_registry.add(
        "pypi",
        "requestss",
        {
            "info": {
                "name": "requestss",
                "summary": "HTTP library",
                "version": "2.0.1",
                "description": "z" * 600,
                "project_urls": {"Home": "https://e.x"},
            },
            "releases": {
                "2.0.0": [{"upload_time_iso_8601": when, "filename": "requestss-2.0.0.tar.gz"}],
                "2.0.1": [{"upload_time_iso_8601": when, "filename": "requestss-2.0.1.tar.gz"}],
            },
        },
    )
    try:
        text = "`pip install requestss`"
        v = await run(make(fake_registry), text, res)
        codes = {f.code: f for f in v.findings}
        assert set(codes) == {"package.recent", "package.lookalike"}
        assert codes["package.lookalike"].evidence["closest"] == "requests"
        assert v.status == Status.FAILED
    finally:
        fake_registry.records["pypi"].pop("requestss")


async def test_too_many_names_are_reported_unverified(fake_registry, res):
    text = "```\npip install requests numpy pandas flask\n```"
    v = await run(make(fake_registry, max_references=2), text, res)
    assert [f.evidence["name"] for f in v.findings if f.code == "package.unverified"] == ["pandas", "flask"]
    assert v.meta["packages_checked"] == 2


async def test_missing_name_from_another_index_is_unverified_not_invented(fake_registry, res):
    text = "`pip install --index-url https://pkgs.acme.example/simple acme-core requests==99.0`"
    v = await run(make(fake_registry), text, res)
    got = {f.evidence["name"]: f.code for f in v.findings}
    assert got == {"acme-core": "package.unverified", "requests": "package.version_missing"}


async def test_unmapped_import_resolved_through_python_prefix(fake_registry, res):
    fake_registry.add(
        "pypi",
        "python-zzqlib",
        {
            "info": {
                "name": "python-zzqlib",
                "summary": "zzq bindings",
                "version": "1.0",
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
        v = await run(make(fake_registry), "```python\nimport zzqlib\nimport zzqnotathing\n```", res)
        assert [(f.code, f.evidence["name"]) for f in v.findings] == [("package.missing", "zzqnotathing")]
        assert (
            fake_registry.hits["/pypi/python-zzqlib/json"] == 1 and fake_registry.hits["/pypi/pyzzqnotathing/json"] == 1
        )
    finally:
        fake_registry.records["pypi"].pop("python-zzqlib")


async def test_packages_a_reviewer_allowed_are_not_flagged_for_that_policy(fake_registry, res):
    from llmvet.review import allowlist

    text = "```\npip install flask-superauth\nnpm install express-turbo-router\n```"
    v = make(fake_registry)
    before = await v.check(Context(text=text, resources=res, policy="team"))
    assert {f.evidence["name"] for f in before.findings} == {"flask-superauth", "express-turbo-router"}
    # What the review queue writes when a reviewer allows a package from a finding.
    await allowlist.add(res.store, "team", "pypi", "Flask_SuperAuth", by="alice")
    after = await v.check(Context(text=text, resources=res, policy="team"))
    assert [f.evidence["name"] for f in after.findings] == ["express-turbo-router"]
    other_policy = await v.check(Context(text=text, resources=res, policy="other"))
    assert len(other_policy.findings) == 2  # allowed per policy, not everywhere


async def test_references_repeated_across_blocks_are_each_judged(fake_registry, res):
    """The same reference in several places (an import in each block, a command repeated in prose) is
    judged once; any difference but its place (a pin, the tool) is judged apart, and every place of a
    reference that gives a finding gets its own (with its own evidence, which the engine adds to)."""
    text = (
        "`pip install requests` and `pip install flask-superauth`, then:\n\n"
        "```bash\npip install requests\npip install requests==99.0\npip install flask-superauth\n```\n\n"
        "```python\nimport requests\nimport flask_superauth\n```\n\n```python\nimport requests\n```\n"
    )
    v = await run(make(fake_registry), text, res)
    found = sorted((f.span, f.code) for f in v.findings)
    missing = [m.start() for m in __import__("re").finditer("flask-superauth", text)]
    assert [(s[0], c) for s, c in found if c == "package.missing" and text[s[0] : s[1]] == "flask-superauth"] == [
        (p, "package.missing") for p in missing
    ]
    twins = [f for f in v.findings if f.code == "package.missing" and text[f.span[0] : f.span[1]] == "flask-superauth"]
    assert twins[0].evidence == twins[1].evidence and twins[0].evidence is not twins[1].evidence
    pinned = text.index("requests==99.0")
    assert [(s, c) for s, c in found if text[s[0] : s[1]] == "requests"] == [
        ((pinned, pinned + len("requests")), "package.version_missing")
    ]
