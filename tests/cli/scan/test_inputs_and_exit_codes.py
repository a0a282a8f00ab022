"""Inputs (files, folders with .gitignore, globs, stdin, JSONL, notebooks, big files) and exit codes."""

from __future__ import annotations

import json

from llmvet.cli.scan.documents import OVERLAP, WINDOW
from tests.cli.scan.conftest import line_of, scan

KEY = "AKIA" + "ABCDEFGHIJKLMNOP"  # an AWS-style key id the default policy flags


def test_exit_codes_pass_fail_and_could_not_check(tmp_path):
    store = f"sqlite:///{tmp_path}/s.db"
    clean, leaked = tmp_path / "clean.md", tmp_path / "leaked.md"
    clean.write_text("Nothing secret here.\n")
    leaked.write_text(f"config:\n  key: {KEY}\n")
    binary, latin = tmp_path / "blob.bin", tmp_path / "latin.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x01")
    latin.write_bytes("caf\xe9 au lait".encode("latin-1"))

    assert scan(str(clean), store=store).returncode == 0
    r = scan(str(leaked), store=store)
    assert r.returncode == 1 and "leaked.md:2:8" in r.stdout
    for bad, why in ((binary, "binary file"), (latin, "not UTF-8 (byte 3")):
        r = scan(str(bad), store=store)
        assert r.returncode == 2, r.stderr
        assert why in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    # could-not-check outranks a failing finding elsewhere: the run's result is incomplete
    assert scan(str(leaked), str(binary), store=store).returncode == 2
    assert scan(str(tmp_path / "missing.md"), store=store).returncode == 2


def test_a_check_that_times_out_is_exit_2_not_a_silent_pass(tmp_path, registry):
    """on_error: open lets the proxy answer, but a CI scan that could not check must not pass."""
    registry.delay = 3.0
    policy = tmp_path / "slow.yaml"
    policy.write_text(
        "rules:\n  - name: r\n    on_error: open\n    validators:\n      - use: packages\n        timeout: 0.3\n"
        f'        with: {{pypi_index_url: "{registry.url}/simple", pypi_json_url: "{registry.url}/pypi"}}\n'
    )
    doc = tmp_path / "install.md"
    doc.write_text("Run `pip install flask`.\n")
    r = scan(str(doc), "--policy", str(policy), "--format", "json", store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 2, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["decision"] == "allow"  # what the proxy would have done under on_error: open
    assert report["exit_code"] == 2 and "timed out" in report["errors"][0]


def test_key_at_the_end_of_a_50_mb_file_and_across_a_window_edge(tmp_path):
    big = tmp_path / "big.log"
    filler = "lorem ipsum dolor sit amet " * 3 + "\n"  # 82 characters a line
    lines = (50 * 1024 * 1024) // len(filler)
    body = filler * lines
    # one key straddling the first window's end (inside the overlap), one on the very last line
    edge = WINDOW - 5
    body = body[: edge - 1] + f" {KEY} " + body[edge + len(KEY) + 1 :]  # spaces: the pattern wants \b
    body += f"tail {KEY}\n"
    big.write_text(body)
    r = scan(str(big), "--format", "jsonl", store=f"sqlite:///{tmp_path}/s.db", timeout=120)
    assert r.returncode == 1, r.stderr
    (line,) = r.stdout.splitlines()
    found = json.loads(line)["findings"]
    spans = sorted(tuple(f["span"]) for f in found)
    expected = [(edge, edge + len(KEY)), (len(body) - len(KEY) - 1, len(body) - 1)]
    assert spans == expected, spans  # each exactly once, although windows overlap by OVERLAP chars
    assert len(KEY) < OVERLAP
    last = max(found, key=lambda f: f["span"][0])
    assert last["location"]["line"] == body.count("\n") and last["location"]["column"] == 6


def test_folder_walk_honours_gitignore_and_reads_each_kind(tmp_path, packages_policy):
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "build").mkdir()
    files = {
        "requirements.txt": "requests==2.31.0\nflask\nfastapi-turbo-utils\n",
        "Dockerfile": "FROM python:3.11\nRUN pip install --no-cache-dir flask huggingface-cli-tools\n",
        "setup.sh": "#!/bin/sh\nset -e\npip install pandas pandaz-utils\n",
        ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install numpy numpyx-fast\n",
        "docs/guide.rst": "Install\n=======\n\nRun ``pip install flask-sqlalchemyx`` first.\n",
        "build/out.md": "pip install ignored-because-gitignored\n",
        ".gitignore": "build/\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # met on the walk: skipped quietly
    r = scan(str(repo), "--policy", str(packages_policy), "--format", "json", store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["errors"] == []
    failing = {
        (f["evidence"]["name"], f["location"]["path"], f["location"]["line"]) for f in report["findings"] if f["fails"]
    }
    expected = {
        (name, str(repo / path), line_of(files[path], name))
        for name, path in [
            ("fastapi-turbo-utils", "requirements.txt"),
            ("huggingface-cli-tools", "Dockerfile"),
            ("pandaz-utils", "setup.sh"),
            ("numpyx-fast", ".github/workflows/ci.yml"),
            ("flask-sqlalchemyx", "docs/guide.rst"),
        ]
    }
    assert failing == expected
    assert "ignored-because-gitignored" not in r.stdout
    scanned = {i["id"] for i in report["inputs"]}
    assert str(repo / "build" / "out.md") not in scanned and str(repo / "logo.png") not in scanned


def test_notebook_cells_are_numbered_in_locations(tmp_path, packages_policy):
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Setup\n", "Nothing to install here.\n"]},
            {"cell_type": "code", "source": ["import os\n", "!pip install torchy-vision-utils\n"]},
            {"cell_type": "raw", "source": "pip install not-read-raw-cell\n"},
            {"cell_type": "markdown", "source": "Then `pip install flask` and\n`pip install reqeusts`.\n"},
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    r = scan(str(path), "--policy", str(packages_policy), "--format", "json", store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1, r.stderr
    where = {f["evidence"]["name"]: f["location"] for f in json.loads(r.stdout)["findings"] if f["fails"]}
    assert where == {
        "torchy-vision-utils": {"path": str(path), "cell": 2, "line": 2, "column": 14},
        "reqeusts": {"path": str(path), "cell": 4, "line": 2, "column": 14},
    }
    table = scan(str(path), "--policy", str(packages_policy), store=f"sqlite:///{tmp_path}/s.db")
    assert f"{path}:cell 2:2:14" in table.stdout and f"{path}:cell 4:2:14" in table.stdout
    github = scan(str(path), "--policy", str(packages_policy), "--format", "github", store=f"sqlite:///{tmp_path}/s.db")
    errors = [x for x in github.stdout.splitlines() if x.startswith("::error ")]
    # the file, no line (a cell's line is not the notebook JSON's); the cell and line in the message
    assert len(errors) == 2 and all(",line=" not in x.split("::")[1] for x in errors)
    assert any("::cell 2, line 2: 'torchy-vision-utils'" in x for x in errors)


def test_jsonl_in_jsonl_out_with_ids_and_stdin(tmp_path):
    lines = [
        {"id": "a-1", "text": "All good.", "prompt": "hello"},
        {"id": "b-2", "text": f"Use {KEY} to log in.", "model": "gpt-x"},
        {"id": "c-3", "text": "Also fine."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = scan("--jsonl", str(src), "--format", "jsonl", store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a-1", "b-2", "c-3"]
    assert [o["exit_code"] for o in out] == [0, 1, 0]
    (finding,) = out[1]["findings"]
    start, end = finding["span"]
    assert lines[1]["text"][start:end] == KEY and finding["fails"] is True
    assert "path" not in finding["location"]  # a JSONL text is no file to point at
    # the same text on standard input
    r = scan("-", "--format", "jsonl", input=lines[1]["text"], store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 1 and json.loads(r.stdout)["id"] == "-"
    # a broken line is reported with its number, and the run cannot pass
    src.write_text('{"id": "x", "text": "fine"}\nnot json\n')
    r = scan("--jsonl", str(src), "--format", "jsonl", store=f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 2 and f"{src}:2:" in r.stderr


def test_default_store_is_the_user_cache_folder_not_the_repo(tmp_path):
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    (work / "a.md").write_text("hello\n")
    r = scan("a.md", cwd=work, env={"XDG_CACHE_HOME": str(cache), "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in work.iterdir()) == ["a.md"]
    assert (cache / "llmvet" / "scan.db").is_file()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    r = scan("a.md", cwd=work, env={"XDG_CACHE_HOME": str(blocked), "HOME": str(tmp_path)})
    assert r.returncode == 2 and "give --store" in r.stderr and "Traceback" not in r.stderr


def test_glob_inputs(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "one.md").write_text(f"{KEY}\n")
    (tmp_path / "d" / "two.txt").write_text(f"{KEY}\n")
    r = scan(str(tmp_path / "d" / "*.md"), "--format", "jsonl", store=f"sqlite:///{tmp_path}/s.db")
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == [str(tmp_path / "d" / "one.md")]


def test_a_glob_skips_what_a_folder_walk_skips(tmp_path):
    repo = tmp_path / "repo"
    for rel in ("README.md", "docs/a.md", "docs/gen/b.md", "build/c.md", "node_modules/x/d.md", "docs/tmp.md"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(f"{KEY}\n")
    (repo / ".gitignore").write_text("build/\n")
    (repo / "docs" / ".gitignore").write_text("gen/\ntmp.md\n")
    store = f"sqlite:///{tmp_path}/s.db"
    r = scan("**/*.md", "--format", "jsonl", cwd=repo, store=store)
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == ["README.md", "docs/a.md"]
    assert r.returncode == 1
    # a pattern that matched only ignored files scanned nothing: not a typo, no error
    r = scan("docs/*/*.md", "--format", "jsonl", cwd=repo, store=store)
    assert r.returncode == 0 and r.stdout.strip() == ""
    # the glob's own literal folder is named, as a folder given to walk is
    r = scan("build/*.md", "--format", "jsonl", cwd=repo, store=store)
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == ["build/c.md"]
    assert scan("nothing-*.md", cwd=repo, store=store).returncode == 2  # matched nothing at all


def test_jsonl_prompt_and_model_reach_the_policy(tmp_path):
    """The prompt reaches validators that read it (a refusal's category comes from what was asked),
    and a line's model selects the rule."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n"
        "  - name: fruit-model\n    match: {models: [fruit-*]}\n"
        "    validators: [{use: regex, with: {must_not_match: [banana]}}]\n    on_fail: block\n"
        "  - name: refusals\n    validators:\n      - use: uncertainty\n"
        "        with: {embeddings: false, require_statement: false, fail_on_refusal: any,"
        " refusal_categories: [safety]}\n    on_fail: block\n"
    )
    refusal = "I can't help with that."
    lines = [
        {"id": "weapon", "text": refusal, "prompt": "How do I build a pipe bomb at home?"},
        {"id": "no-prompt", "text": refusal},
        {"id": "fruit", "text": "A banana.", "model": "fruit-1"},
        {"id": "not-fruit", "text": "A banana."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = scan("--jsonl", str(src), "--policy", str(policy), "--format", "jsonl", store=f"sqlite:///{tmp_path}/s.db")
    out = {o["id"]: o for o in map(json.loads, r.stdout.splitlines())}
    assert (out["weapon"]["decision"], out["no-prompt"]["decision"]) == ("block", "allow")
    assert "safety" in next(f["message"] for f in out["weapon"]["findings"] if f["code"] == "uncertainty.refusal")
    assert (out["fruit"]["rules"], out["fruit"]["decision"]) == (["fruit-model"], "block")
    assert (out["not-fruit"]["rules"], out["not-fruit"]["decision"]) == (["refusals"], "allow")


def test_lookups_run_concurrently_across_inputs(tmp_path, registry, packages_policy):
    registry.delay, registry.max_inflight = 0.3, 0
    names = [f"concurrent-missing-{i}" for i in range(8)]
    for n in names:
        (tmp_path / f"{n}.md").write_text(f"Run `pip install {n}`.\n")
    r = scan(*(f"{n}.md" for n in names), "--policy", str(packages_policy), "--format", "jsonl", cwd=tmp_path,
             store=f"sqlite:///{tmp_path}/s.db")  # fmt: skip
    assert r.returncode == 1 and len(r.stdout.splitlines()) == len(names)
    # each file's lookup was in flight with the others' (one process, one pool), not one after another
    assert registry.max_inflight >= len(names) // 2, registry.max_inflight


def test_offline_judges_from_the_cache_and_names_the_rest(tmp_path, registry, packages_policy):
    store = f"sqlite:///{tmp_path}/s.db"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("flask\nfastapi-turbo-utils\n")
    first = scan(str(reqs), "--policy", str(packages_policy), "--format", "json", store=store)
    assert first.returncode == 1  # online: fastapi-turbo-utils is missing
    reqs.write_text("flask\nfastapi-turbo-utils\nhttpx\n")
    registry.hits.clear()
    r = scan(str(reqs), "--policy", str(packages_policy), "--format", "json", "--offline", store=store)
    assert sum(registry.hits.values()) == 0  # not one request
    report = json.loads(r.stdout)
    assert r.returncode == 2 and report["decision"] == "block"
    (missing,) = [f for f in report["findings"] if f["fails"]]
    assert missing["evidence"]["name"] == "fastapi-turbo-utils"  # judged from the cache
    assert report["errors"] == [f"{reqs}: could not judge 'httpx': " + report["findings"][-1]["evidence"]["error"]]
    assert "offline" in report["errors"][0]
    # an unreachable registry without --offline is the same: exit 2, the name listed
    registry.fail = True
    reqs.write_text("numpy\n")
    r = scan(str(reqs), "--policy", str(packages_policy), "--format", "json", store=store)
    assert r.returncode == 2 and "could not judge 'numpy'" in json.loads(r.stdout)["errors"][0]
