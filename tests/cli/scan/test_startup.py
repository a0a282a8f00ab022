"""Start-up of `llmvet scan`: a pre-commit hook or CI step pays it on every run, so the command imports
only what it uses. Checked on `sys.modules` of a real process, not on timings (the machine is shared)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.cli.scan.conftest import scan

HEAVY = ("aiohttp", "torch", "sentence_transformers", "transformers", "numpy")

# runs `llmvet scan ARGS…` in this process as the console script would, then lists what it imported
PROBE = """
import json, sys
from llmvet.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout = sys.__stdout__
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules(*args: str, cwd=None) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if k != "LLMVET_STORE"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], {m.split(".")[0] for m in report["modules"]}


def test_scan_help_imports_no_validator_http_or_model_library():
    code, loaded = _modules("scan", "--help")
    assert code == 0
    assert not loaded & {*HEAVY, "pydantic", "rich", "yaml", "asyncio"}, sorted(loaded & {*HEAVY, "pydantic"})


def test_a_warm_one_file_scan_does_not_load_aiohttp(tmp_path, packages_policy, registry):
    doc = tmp_path / "setup.md"
    doc.write_text("Install with `pip install flask reqeusts`.\n")
    args = ("scan", str(doc), "--policy", str(packages_policy), "--store", f"sqlite:///{tmp_path}/s.db")
    code, cold = _modules(*args)
    assert code == 1 and "aiohttp" in cold  # the first run asks the registry
    registry.hits.clear()
    code, warm = _modules(*args)
    # the same verdict from the cache, without the HTTP client, embeddings, any model library, the
    # settings library or .gitignore matching (no folder was walked)
    assert code == 1 and sum(registry.hits.values()) == 0
    assert not warm & {*HEAVY, "pydantic_settings", "pathspec"}, sorted(warm & {*HEAVY, "pydantic_settings"})


def test_the_policy_comes_from_llmvet_policy_and_other_settings_do_not_matter(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - name: r\n    validators: [{use: regex, with: {must_not_match: [banana]}}]\n")
    doc = tmp_path / "a.md"
    doc.write_text("A banana.\n")
    # a server setting that is invalid for `serve` has nothing to do with a scan
    env = {"LLMVET_POLICY": str(policy), "LLMVET_UPSTREAM": "not a url", "LLMVET_PORT": "0"}
    r = scan(str(doc), "--format", "json", env=env, store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1, r.stderr
    assert [f["code"] for f in json.loads(r.stdout)["findings"]] == ["regex.must_not_match"]
