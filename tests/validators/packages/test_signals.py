"""Registry settings (pip / npm configuration), registry answer parsing and risk signals."""

from __future__ import annotations

import time

import pytest

from llmvet.validators.packages import PackagesValidator
from llmvet.validators.packages.import_map import distribution_for, install_alias
from llmvet.validators.packages.registry import (
    PUBLIC_NPM,
    PUBLIC_PYPI_SIMPLE,
    json_api_for,
    npm_registry_url,
    parse_npm,
    parse_pypi_json,
    parse_simple_html,
    parse_simple_json,
    pip_config_files,
    pip_index_url,
)
from llmvet.validators.packages.signals import (
    osa_distance,
    placeholder_reasons,
    popular_names,
    version_exists,
)

NOW = time.time()


# ---------------------------------------------------------------- where the registries are


def test_pip_index_url_order(tmp_path):
    a = tmp_path / "a.conf"
    b = tmp_path / "b.conf"
    a.write_text("[global]\nindex-url = https://a.example/simple\n")
    b.write_text(
        "[global]\nindex-url = https://b.example/simple\n[install]\nindex-url = https://b.example/install/simple\n"
    )
    assert pip_index_url({}, [a]) == "https://a.example/simple"
    assert pip_index_url({}, [a, b]) == "https://b.example/install/simple"  # later file, [install] wins
    assert pip_index_url({"PIP_INDEX_URL": "https://env.example/simple"}, [a, b]) == "https://env.example/simple"
    assert pip_index_url({}, [tmp_path / "missing.conf"]) == PUBLIC_PYPI_SIMPLE
    broken = tmp_path / "broken.conf"
    broken.write_text("index-url = no section\n")
    assert pip_index_url({}, [broken]) == PUBLIC_PYPI_SIMPLE


def test_pip_config_file_env(monkeypatch, tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/root/pypi/+simple/\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    files = pip_config_files()
    assert files[-1] == conf  # read last, so it overrides the others
    assert pip_index_url() == "https://mirror.example/root/pypi/+simple/"
    v = PackagesValidator(PackagesValidator.Config())
    assert v.pypi.url == "https://mirror.example/root/pypi/+simple/" and v.pypi.json_url is None
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    assert pip_config_files() == []


def test_npm_registry_url(tmp_path):
    rc = tmp_path / ".npmrc"
    rc.write_text("; comment\n@acme:registry=https://npm.acme.example/\nregistry=https://npm.mirror.example/\n")
    assert npm_registry_url({}, rc) == "https://npm.mirror.example/"
    assert npm_registry_url({"NPM_CONFIG_REGISTRY": "https://env.example/"}, rc) == "https://env.example/"
    assert npm_registry_url({}, tmp_path / "none") == PUBLIC_NPM


def test_json_api_only_for_pypi():
    assert json_api_for("https://pypi.org/simple") == "https://pypi.org/pypi"
    assert json_api_for("https://pypi.org/simple/") == "https://pypi.org/pypi"
    assert json_api_for("https://test.pypi.org/simple/") == "https://test.pypi.org/pypi"
    assert json_api_for("https://artifactory.example/api/pypi/pypi/simple") is None


# ---------------------------------------------------------------- parsing


def test_parse_pypi_json_and_simple():
    data = {
        "info": {
            "name": "x",
            "summary": "S",
            "description": "d" * 100,
            "project_urls": {"Home": "https://e.x"},
            "version": "1.1",
        },
        "releases": {
            "1.0": [{"upload_time_iso_8601": "2020-01-01T00:00:00.000000Z"}],
            "1.1": [{"upload_time_iso_8601": "2021-01-01T00:00:00Z", "yanked": True}],
            "0.9": [],
        },
    }
    info = parse_pypi_json(data)
    assert info["versions"] == ["1.0", "1.1", "0.9"] and info["n_releases"] == 2 and info["installable"]
    assert info["has_urls"] and info["description_len"] == 100
    assert time.gmtime(info["first_upload"]).tm_year == 2020
    simple = parse_simple_json(
        {
            "name": "x",
            "files": [
                {"filename": "x-1.0-py3-none-any.whl", "upload-time": "2020-01-01T00:00:00Z"},
                {"filename": "x-1.1.tar.gz", "yanked": "broken"},
            ],
        }
    )
    assert simple["versions"] == ["1.0", "1.1"] and simple["n_releases"] == 2 and simple["description_len"] is None
    html = parse_simple_html('<a href="u">x-2.0.tar.gz</a><a href="v" data-yanked="">x-2.1.tar.gz</a>', "x")
    assert html["versions"] == ["2.0", "2.1"]


def test_parse_npm():
    info = parse_npm(
        {
            "name": "p",
            "description": "d",
            "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": {"deprecated": "use q"}},
            "time": {"created": "2019-05-01T00:00:00Z", "1.0.0": "2019-05-01T00:00:00Z"},
            "repository": {"type": "git", "url": "git+https://e.x/p.git"},
        }
    )
    assert info["deprecated"] == "use q" and info["has_urls"] and info["versions"] == ["1.0.0"]
    gone = parse_npm({"name": "p", "time": {"unpublished": {"time": "2020-01-01T00:00:00Z"}}})
    assert gone["unpublished"]


# ---------------------------------------------------------------- signals


def test_version_exists_pep440_and_npm():
    info = {"versions": ["2.31.0", "1.0.0-beta.1"]}
    assert version_exists(info, "2.31") and version_exists(info, "2.31.0")
    assert not version_exists(info, "99.0")
    assert version_exists(info, "1.0.0-beta.1")


def test_osa_distance():
    assert osa_distance("requests", "reqeusts") == 1  # transposition
    assert osa_distance("numpy", "numpyy") == 1
    assert osa_distance("flask", "flaks") == 1
    assert osa_distance("django", "djngoo") == 2
    assert osa_distance("pandas", "polars", 2) == 3


@pytest.mark.parametrize(
    "name, closest, kind",
    [
        ("reqeusts", "requests", "edit"),
        ("scikitlearn", "scikit-learn", "separators"),
        ("requests-pro", "requests", "affix"),
        ("python-numpy", "numpy", "affix"),
        ("tensorflwo", "tensorflow", "edit"),
    ],
)
def test_lookalikes(name, closest, kind):
    got = popular_names("pypi").lookalike(name)
    assert got is not None and (got.popular, got.kind) == (closest, kind)


@pytest.mark.parametrize("eco", ["pypi", "npm"])
def test_one_edit_lookalikes_match_a_brute_force_search(eco):
    """Every typo one edit from a popular name finds the most popular name at that distance, as a
    scan of the whole list with osa_distance (written independently of the index) says."""
    import random
    import re

    pop = popular_names(eco)
    keys = [(re.sub(r"[-_.]+", "", n.lower()), n) for n in pop.names]
    rng = random.Random(16)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    checked = 0
    for base in rng.sample(pop.names, 60):
        k = re.sub(r"[-_.]+", "", base.lower())
        i = rng.randrange(len(k))
        typo = rng.choice(
            [k[:i] + k[i + 1 :], k[:i] + rng.choice(letters) + k[i:], k[:i] + rng.choice(letters) + k[i + 1 :]]
        )
        if typo in pop or len(typo) < 4 or any(pk == typo for pk, _ in keys):
            continue  # a real name, too short, or a separators variant: other branches of lookalike
        near = [n for pk, n in keys if abs(len(pk) - len(typo)) <= 1 and osa_distance(typo, pk, 1) <= 1]
        got = pop.lookalike(typo)
        assert got is not None and (got.popular, got.kind) == (near[0], "edit"), (typo, near[:3], got)
        checked += 1
    assert checked >= 40


def test_popular_names_are_not_lookalikes_and_npm_works():
    pop = popular_names("pypi")
    assert "requests" in pop and pop.lookalike("requests") is None and pop.lookalike("boto3") is None
    assert popular_names("npm").lookalike("expresss").popular == "express"
    assert pop.lookalike("abc") is None  # too short to judge


def _info(summary="", n=1, versions=None, desc_len=500, urls=True, installable=True, first=NOW - 900 * 86400):
    versions = versions or [f"1.{i}" for i in range(n)]
    return {
        "summary": summary,
        "description": "",
        "description_len": desc_len,
        "has_urls": urls,
        "versions": versions,
        "n_releases": n,
        "installable": installable,
        "first_upload": first,
    }


def test_placeholder_wording_needs_few_releases():
    assert placeholder_reasons(_info("Benign slopsquatting research package", 1), NOW, 90)
    assert placeholder_reasons(_info("A package to prevent Dependency Confusion attacks", 2), NOW, 90)
    # real tools that talk about squatting or research, with many releases: not placeholders
    assert placeholder_reasons(_info("Security tool against dependency typosquatting attacks", 40), NOW, 90) == []
    assert placeholder_reasons(_info("Dynamic instrumentation toolkit for security researchers", 300), NOW, 90) == []
    assert placeholder_reasons(_info("This module is deprecated. Use aws-cdk-lib", 80), NOW, 90) == []
    assert placeholder_reasons(
        _info("deprecated sklearn package, use scikit-learn instead", 12), NOW, 90, "scikit-learn"
    )
    assert placeholder_reasons(_info("The property-based testing library for Python", 2), NOW, 90) == []


def test_placeholder_structure_and_files():
    assert placeholder_reasons(_info("", 1, ["0.0.1"], desc_len=0, urls=False), NOW, 90)
    assert placeholder_reasons(_info("Python Imaging Library", 6, installable=False), NOW, 90) == [
        "no installable files"
    ]
    assert placeholder_reasons(_info("HTTP for humans", 1, ["2.0.0"], desc_len=3000, urls=True), NOW, 90) == []
    assert placeholder_reasons(_info("x", 1, ["0.0.1-security"]), NOW, 90)


def test_import_names_and_namespaces():
    assert distribution_for("cv2") == ("opencv-python", True)
    assert distribution_for("google.cloud.storage.blob") == ("google-cloud-storage", True)
    assert distribution_for("google.cloud.pubsub_v1") == ("google-cloud-pubsub", True)
    assert distribution_for("google.cloud.bigtable_v2.types") == ("google-cloud-bigtable", False)
    assert distribution_for("azure.mgmt.compute.models") == ("azure-mgmt-compute", False)
    assert distribution_for("somethingnew.sub") == ("somethingnew", False)
    assert install_alias("sklearn") == "scikit-learn" and install_alias("requests") is None
