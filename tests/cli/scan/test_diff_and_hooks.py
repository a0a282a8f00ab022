"""Diff mode on a real git repository; the pre-commit hook (pre-commit from PyPI, installing the hook
from a local copy of this tree) and the composite GitHub Action's own scan script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.cli.scan.conftest import git, init_repo, line_of, scan

ROOT = Path(__file__).resolve().parents[3]


def test_diff_reports_only_what_the_change_adds(tmp_path, packages_policy):
    repo = init_repo(tmp_path / "repo")
    old_reqs = "flask\nfastapi-turbo-utils\n"  # an old problem: not this change's
    (repo / "requirements.txt").write_text(old_reqs)
    (repo / "README.md").write_text("# Project\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    new_reqs = old_reqs + "requests\nreqeusts\n"
    readme = "# Project\n\nSet up with `pip install numpyx-fast`.\n"
    (repo / "requirements.txt").write_text(new_reqs)
    (repo / "README.md").write_text(readme)
    git(repo, "commit", "-qam", "change")
    store = f"sqlite:///{tmp_path}/s.db"
    r = scan("--diff", "HEAD~1..HEAD", "--policy", str(packages_policy), "--format", "json", cwd=repo, store=store)
    assert r.returncode == 1, r.stderr
    got = {
        (f["location"]["path"], f["location"]["line"], f["evidence"]["name"]) for f in json.loads(r.stdout)["findings"]
    }
    assert got == {
        ("requirements.txt", line_of(new_reqs, "reqeusts"), "reqeusts"),
        ("README.md", line_of(readme, "numpyx-fast"), "numpyx-fast"),
    }
    # BASE alone compares with the work tree; an unchanged tree adds nothing and passes
    r = scan("--diff", "HEAD", "--policy", str(packages_policy), "--format", "json", cwd=repo, store=store)
    assert r.returncode == 0 and json.loads(r.stdout)["findings"] == []
    # a change that only touches lines without problems passes although the file has an old one
    (repo / "requirements.txt").write_text(new_reqs.replace("reqeusts", "httpx"))
    r = scan("--diff", "HEAD", "--policy", str(packages_policy), "--format", "json", cwd=repo, store=store)
    assert r.returncode == 0, r.stdout
    # git's own complaint, in one line, exit 2
    r = scan("--diff", "no-such-rev", cwd=repo, store=store)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_diff_on_a_notebook_keeps_findings_in_new_cells(tmp_path, packages_policy):
    repo = init_repo(tmp_path / "repo")

    def notebook(*sources):
        cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources]
        return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)

    (repo / "nb.ipynb").write_text(notebook("!pip install pandaz-utils\n"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    (repo / "nb.ipynb").write_text(notebook("!pip install pandaz-utils\n", "import os\n!pip install numpyx-fast\n"))
    r = scan("--diff", "HEAD", "--policy", str(packages_policy), "--format", "json", cwd=repo,
             store=f"sqlite:///{tmp_path}/s.db")  # fmt: skip
    (f,) = json.loads(r.stdout)["findings"]
    assert f["evidence"]["name"] == "numpyx-fast" and f["location"]["cell"] == 2 and f["location"]["line"] == 2


def _hook_repo(tmp_path: Path) -> tuple[Path, str]:
    """This working tree's hook, committed to a throwaway repository pre-commit can clone by path."""
    hook = tmp_path / "hook-repo"
    hook.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, hook / name)
    shutil.copytree(ROOT / "src", hook / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    init_repo(hook)
    git(hook, "add", ".")
    git(hook, "commit", "-qm", "hook")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook, capture_output=True, text=True, check=True)
    return hook, sha.stdout.strip()


def test_pre_commit_runs_the_hook_on_a_repository(tmp_path, packages_policy):
    hook, rev = _hook_repo(tmp_path)
    target = init_repo(tmp_path / "project")
    (target / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook}\n    rev: {rev}\n    hooks:\n      - id: llmvet-scan\n"
        f"        args: [--policy, {packages_policy}, --store, 'sqlite:///{tmp_path}/s.db']\n"
    )
    (target / "requirements.txt").write_text("flask\nfastapi-turbo-utils\n")
    (target / "notes.md").write_text("Nothing to install.\n")
    (target / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00")  # not text: pre-commit never passes it
    git(target, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "COLUMNS": "250"}
    env.pop("PYTHONPATH", None)  # the hook runs from its own environment, not this tree
    r = subprocess.run(["pre-commit", "run", "--all-files"], cwd=target, capture_output=True, text=True, env=env,
                       timeout=600)  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "llmvet scan" in r.stdout and "Failed" in r.stdout and "exit code: 1" in r.stdout
    assert "requirements.txt:2:1" in r.stdout and "fastapi-turbo-utils" in r.stdout
    # fixed: the hook passes
    (target / "requirements.txt").write_text("flask\n")
    git(target, "add", ".")
    r = subprocess.run(["pre-commit", "run", "--all-files"], cwd=target, capture_output=True, text=True, env=env,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"llmvet scan\.+Passed", r.stdout)


def _action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_is_a_composite_that_installs_scans_and_uploads_sarif():
    action = _action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    used = [s.get("uses", "").split("@")[0] for s in steps]
    assert used[0] == "actions/setup-python"
    assert "github/codeql-action/upload-sarif" in used
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert '"$GITHUB_ACTION_PATH"' in install["run"]  # the action's own revision of llmvet
    upload = steps[used.index("github/codeql-action/upload-sarif")]
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    # every input the steps read is declared, and no step pastes an input into a shell script
    text = (ROOT / "action.yml").read_text()
    assert set(re.findall(r"inputs\.([\w-]+)", text)) <= set(action["inputs"])
    for step in steps:
        assert "${{" not in step.get("run", ""), step.get("name")
    assert action["outputs"]["exit-code"]["value"] == "${{ steps.scan.outputs.exit-code }}"


def _run_step(step: dict, inputs: dict[str, str], cwd: Path, github_output: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, GITHUB_OUTPUT=str(github_output), COLUMNS="250")
    for k, v in step.get("env", {}).items():
        env[k] = re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: inputs[m.group(1)], v)
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True)


def test_action_scan_step_writes_sarif_and_the_exit_code(tmp_path, packages_policy):
    """The composite's Scan and Verdict scripts, run as the runner runs them (bash -e)."""
    action = _action()
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update(policy=str(packages_policy), paths="docs requirements.txt", args=f"--store sqlite:///{tmp_path}/s.db")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "setup.md").write_text("Run `pip install pandaz-utils`.\n")
    (tmp_path / "requirements.txt").write_text("flask\n")
    steps = {s.get("id") or s.get("name"): s for s in action["runs"]["steps"]}
    output = tmp_path / "github_output"
    r = _run_step(steps["scan"], inputs, tmp_path, output)
    assert r.returncode == 0, r.stderr  # the step records the code; the Verdict step fails the job
    assert output.read_text().strip() == "exit-code=1"
    sarif = json.loads((tmp_path / inputs["sarif-file"]).read_text())
    uris = {res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in sarif["runs"][0]["results"]}
    assert uris == {"docs/setup.md"}
    verdict = next(s for s in action["runs"]["steps"] if s.get("name", "").startswith("Verdict"))
    env_code = {"LLMVET_SCAN_EXIT": "1"}
    done = subprocess.run(["bash", "-c", verdict["run"]], env={**os.environ, **env_code}, capture_output=True)
    assert done.returncode == 1
    # diff mode through the same script
    init_repo(tmp_path)
    git(tmp_path, "add", "requirements.txt")
    git(tmp_path, "commit", "-qm", "base")
    inputs["diff"] = "HEAD"
    (tmp_path / "requirements.txt").write_text("flask\nreqeusts\n")
    output.unlink()
    r = _run_step(steps["scan"], inputs, tmp_path, output)
    assert output.read_text().strip() == "exit-code=1", r.stderr
    results = json.loads((tmp_path / inputs["sarif-file"]).read_text())["runs"][0]["results"]
    assert [res["ruleId"] for res in results] == ["package.missing"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
