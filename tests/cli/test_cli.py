"""The command line as users run it: separate processes, real files, exit codes and messages."""

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import httpx
import openai

from tests.support import PLUGIN_PKG
from tests.support.fake_upstream import Reply
from tests.support.servers import free_port, wait_port

BAD_POLICY = textwrap.dedent("""\
    version: 1
    rules:
      - name: first
        match: {models: "gpt-*"}
        validators:
          - use: regexx
          - use: regex
            with:
              must_match: ["("]
              colour: blue
        on_fail: explode
      - name: first
    """)


def llmvet(*args, env=None, input=None, timeout=60):
    return subprocess.run(
        ["llmvet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=timeout,
    )


def test_policy_check_accepts_the_bundled_policies(tmp_path):
    bundled = sorted(str(p) for p in Path("policies").glob("*.yaml"))
    assert len(bundled) >= 4
    r = llmvet("policy", "check", *bundled)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok (") == len(bundled)


def test_policy_check_prints_every_problem_with_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_POLICY)
    r = llmvet("policy", "check", str(path))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    expected = {
        f"{path}:4: rules[0].match.models: Input should be a valid list",
        f"{path}:11: rules[0].on_fail: Input should be 'allow', 'annotate', 'append', 'reask', 'block' or 'escalate' (got 'explode')",
        f"{path}:6: rules[0].validators[0].use: unknown validator 'regexx'; known: consistency, packages, regex, uncertainty",
        f"{path}:9: rules[0].validators[1].with.must_match[0]: invalid regular expression '(': missing ): (",
        f"{path}:10: rules[0].validators[1].with.colour: unknown field",
    }
    assert expected <= set(lines), r.stderr
    assert "Traceback" not in r.stderr


def test_policy_check_reports_invalid_yaml_with_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("rules:\n  - name: a\n    match: [unclosed\n")
    r = llmvet("policy", "check", str(path))
    assert r.returncode == 1
    assert r.stderr.startswith(f"{path}:") and "invalid YAML" in r.stderr


def test_an_empty_or_cut_short_policy_is_refused_not_read_as_vet_nothing(tmp_path):
    # A file caught mid-write (empty, or cut before `rules:`) would otherwise load as a policy with
    # no rules, and serving it would switch every check off.
    cases = {"empty.yaml": "", "comments.yaml": "# policy\n", "cut.yaml": "version: 1\nname: strict\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        r = llmvet("policy", "check", str(tmp_path / name))
        assert r.returncode == 1, (name, r.stdout)
        assert "rules" in r.stderr and "Traceback" not in r.stderr, r.stderr
    (tmp_path / "nothing.yaml").write_text("version: 1\nrules: []\n")  # on purpose: still allowed
    assert llmvet("policy", "check", str(tmp_path / "nothing.yaml")).returncode == 0


def test_duplicate_rule_names_are_reported(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("rules:\n  - name: a\n  - name: a\n")
    r = llmvet("policy", "check", str(path))
    assert f"{path}:3: rules[1].name: duplicate rule name 'a'" in r.stderr


def test_serve_refuses_a_bad_policy_with_the_same_messages(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_POLICY)
    r = llmvet("serve", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(path), "--port", str(free_port()))
    assert r.returncode == 2
    assert f"{path}:6: rules[0].validators[0].use: unknown validator 'regexx'" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_without_upstream_says_how_to_set_it():
    env = {k: v for k, v in os.environ.items() if k != "LLMVET_UPSTREAM"}
    r = subprocess.run(["llmvet", "serve"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2 and "--upstream" in r.stderr and "LLMVET_UPSTREAM" in r.stderr


def test_serve_runs_with_embedded_defaults_and_env_upstream(fake, tmp_path):
    """The README's first command: `llmvet serve` with the upstream from the environment."""
    port = free_port()
    proc = subprocess.Popen(
        ["llmvet", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "LLMVET_UPSTREAM": fake.url + "/v1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_port(port, 30)
        fake.reset(lambda b: Reply(text="key AKIA" + "B" * 16))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert raw.headers["x-llmvet-decision"] == "annotate"  # the bundled default policy flags the key
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=15)[0]
    assert (tmp_path / ".llmvet" / "llmvet.db").exists()  # the embedded SQLite store, in a local folder
    assert "Traceback" not in output


CASES = textwrap.dedent("""\
    cases:
      - name: clean answer passes
        text: "All good here."
        expect: allow
      - name: leaked key is flagged
        text: "use AKIAABCDEFGHIJKLMNOP to log in"
        expect: annotate
        expect_findings: [regex.must_not_match]
      - name: wrong expectation
        text: "All good here."
        expect: block
    """)


def test_policy_test_reports_expected_vs_actual(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    r = llmvet("policy", "test", "policies/default.yaml", str(cases), "--store", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1  # one case is wrong on purpose
    assert "2 passed, 1 failed" in r.stdout
    assert "wrong expectation" in r.stdout and "FAIL" in r.stdout


def test_policy_test_with_bad_cases_file_names_the_line(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: x\n    text: y\n    expect: maybe\n")
    r = llmvet("policy", "test", "policies/default.yaml", str(cases))
    assert r.returncode == 2
    assert f"{cases}:4: cases[0].expect:" in r.stderr


def test_scan_reads_stdin_and_prints_json(tmp_path):
    import json

    text = "line one\nsecret: AKIAABCDEFGHIJKLMNOP\n"
    r = llmvet("scan", "-", "--json", "--store", f"sqlite:///{tmp_path}/s.db", input=text)
    assert r.returncode == 1
    decision = json.loads(r.stdout)
    assert decision["decision"] == "annotate"
    start, end = decision["findings"][0]["span"]
    assert text[start:end] == "AKIAABCDEFGHIJKLMNOP"


def test_scan_prints_rich_markup_in_texts_literally(tmp_path):
    policy = tmp_path / "p.yaml"
    # The match is 16 characters, so its redacted form shows its first 4: "[/x]", a rich closing tag.
    pattern = "\\[/x\\]\\[/b\\]\\[/i\\]\\[/u\\]"
    policy.write_text(
        f"rules:\n  - name: r\n    validators: [{{use: regex, with: {{must_not_match: ['{pattern}']}}}}]\n"
    )
    r = llmvet(
        "scan", "-", "--policy", str(policy), "--store", f"sqlite:///{tmp_path}/s.db", input="see [/x][/b][/i][/u] here"
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "[/x]" in r.stdout and "matches forbidden" in r.stdout


def test_scan_table_output_and_clean_exit(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("Nothing secret.\n")
    r = llmvet("scan", str(doc), "--store", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 0 and "allow" in r.stdout


def test_plugin_from_entry_point_is_used_in_a_policy(tmp_path, test_plugin):
    """A third-party validator package, installed with pip, is used from YAML by name."""
    policy = tmp_path / "plugin.yaml"
    policy.write_text(
        "rules:\n  - name: calm\n    validators:\n      - use: shouting\n"
        "        with: {max_upper_ratio: 0.3}\n    on_fail: block\n"
    )
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n  - {name: calm, text: 'hello there', expect: allow}\n"
        "  - {name: loud, text: 'HELLO THERE', expect: block, expect_findings: [shouting.caps]}\n"
    )
    env = {"PYTHONPATH": str(test_plugin)}
    r = llmvet("policy", "test", str(policy), str(cases), "--store", f"sqlite:///{tmp_path}/s.db", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 0 failed" in r.stdout
    # Without the package installed, the policy names the unknown validator.
    r = llmvet("policy", "check", str(policy))
    assert r.returncode == 1 and "unknown validator 'shouting'" in r.stderr
    # The install built from a copy: no build output next to the sources in the tree.
    left = [p for pattern in ("build", "**/*.egg-info") for p in PLUGIN_PKG.glob(pattern)]
    assert left == [], f"build output in {PLUGIN_PKG} (an older in-tree build? delete it): {left}"


def test_policy_schema_includes_validator_settings():
    import json

    r = llmvet("policy", "schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert "rules" in schema["properties"]
    assert "must_not_match" in schema["x-llmvet-validators"]["regex"]["properties"]
