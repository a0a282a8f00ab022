"""`llmvet review export-cases`: reviewers' decisions become `policy test` cases that the policy
which made them passes, and a policy that would overrule a reviewer fails."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.support.fake_upstream import Reply
from tests.support.review_helpers import BAD, add_reviewer, policy, wait_for_item


def llmvet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["llmvet", *args], capture_output=True, text=True, env=os.environ, timeout=120)


def test_decisions_exported_as_cases_pass_for_their_policy(fake, make_proxy, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    fake.reset(lambda b: Reply(text=f"For {b['messages'][-1]['content']}: pip install {BAD}"))
    store = f"sqlite:///{tmp_path / 'review.db'}"
    made_by = policy(mode="defer")
    server = make_proxy(made_by, store=store)
    reviewer = add_reviewer(store, "alice")
    auth = {"authorization": f"Bearer {reviewer}"}
    decide = {"approve": {}, "reject": {"reason": "invented package"}, "edit": {"text": "pip install pandas"}}
    seen: list[str] = []
    for prompt, action in zip(("task one", "task two", "task three"), decide, strict=True):
        r = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "gpt-x", "messages": [{"role": "user", "content": prompt}]},
            timeout=30,
        )
        assert r.status_code == 200 and r.headers["x-llmvet-decision"] == "escalate"
        item = wait_for_item(server.url, reviewer, exclude=seen)
        seen.append(item["id"])
        d = httpx.post(f"{server.url}/llmvet/v1/reviews/{item['id']}/{action}", json=decide[action], headers=auth)
        assert d.status_code == 200, d.text
    time.sleep(0.2)

    r = llmvet("review", "export-cases", "--since", "1h", "--store", store)
    assert r.returncode == 0, r.stderr
    cases = yaml.safe_load(r.stdout)["cases"]
    by_name = {c["name"].split(" ", 1)[1]: c for c in cases}
    assert set(by_name) == {"approved", "rejected", "edited: original", "edited: reviewer's text"}
    assert by_name["rejected"]["expect"] == ["escalate", "block"]
    assert "block" not in by_name["approved"]["expect"] and "allow" in by_name["approved"]["expect"]
    assert by_name["rejected"]["text"] == f"For task two: pip install {BAD}"
    assert by_name["rejected"]["prompt"] == "task two" and by_name["rejected"]["model"] == "gpt-x"
    assert by_name["rejected"]["note"] == "rejected by alice: invented package"
    assert by_name["edited: reviewer's text"]["text"] == "pip install pandas"
    cases_file = tmp_path / "cases.yaml"
    cases_file.write_text(r.stdout)

    policy_file = tmp_path / "made-by.yaml"
    policy_file.write_text(made_by)
    passed = llmvet("policy", "test", str(policy_file), str(cases_file), "--store", store)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "4 passed, 0 failed" in passed.stdout

    # A stricter policy blocks what a reviewer approved: that case fails (the edited text has no
    # invented package, so it still passes).
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(made_by.replace("on_fail: escalate", "on_fail: block"))
    failed = llmvet("policy", "test", str(stricter), str(cases_file), "--store", store)
    assert failed.returncode == 1 and "3 passed, 1 failed" in failed.stdout
    # A policy that stopped checking lets through what a reviewer rejected: those fail.
    looser = tmp_path / "looser.yaml"
    looser.write_text(made_by.replace(f'must_not_match: ["{BAD}"]', 'must_not_match: ["NEVER-SEEN"]'))
    failed = llmvet("policy", "test", str(looser), str(cases_file), "--store", store)
    assert failed.returncode == 1 and "2 passed, 2 failed" in failed.stdout

    old = llmvet("review", "export-cases", "--since", "2099-01-01", "--store", store)
    assert yaml.safe_load(old.stdout)["cases"] == []
