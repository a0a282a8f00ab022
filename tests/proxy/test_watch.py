"""The opt-in file watch, and the shadow candidate reloaded with the policy (or swapped by the admin)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import orjson

from tests.proxy.test_reload import ANNOTATE, BLOCK, BROKEN, LEAK, RELOAD, TOKEN, ask, version
from tests.support.fake_upstream import Reply
from tests.support.metrics import metric_value, parse_metrics


def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def serving(url: str) -> str:
    return httpx.get(url + "/readyz").json()["policy"]


def test_the_watch_reloads_a_changed_file_and_refuses_a_bad_one(fake, make_proxy, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK))
    path = tmp_path / "policy.yaml"
    path.write_text(ANNOTATE)
    server = make_proxy(ANNOTATE, policy=str(path), policy_watch=0.1)
    watch = server.proxy.watch
    time.sleep(0.3)
    os.utime(path)  # touched, same text: no reload
    time.sleep(0.4)
    assert watch.reloads == 0

    path.write_text(BLOCK)
    assert wait_for(lambda: serving(server.url) == f"reload-test@{version(BLOCK)}")
    blocked = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert blocked.status_code == 422 and b"SECRET" not in blocked.content

    path.write_text(BROKEN)  # an editor's half-done save: refused, the last good policy serves
    assert wait_for(lambda: watch.reloads == 2)
    time.sleep(0.2)
    assert serving(server.url) == f"reload-test@{version(BLOCK)}"
    samples = parse_metrics(httpx.get(server.url + "/metrics").text)
    assert metric_value(samples, "llmvet_policy_reload_failures_total") == 1


def test_the_watch_waits_for_a_file_to_stop_changing(fake, make_proxy, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK))
    path = tmp_path / "policy.yaml"
    path.write_text(ANNOTATE)
    server = make_proxy(ANNOTATE, policy=str(path), policy_watch=0.3)
    watch = server.proxy.watch
    time.sleep(0.4)
    # A slow writer: the new policy arrives a few bytes at a time for about a second. Every prefix of
    # it (the empty file, a file cut before `rules:`, a rule cut in half) would have been read.
    with path.open("w") as out:
        for i in range(0, len(BLOCK), max(1, len(BLOCK) // 40)):
            out.write(BLOCK[i : i + max(1, len(BLOCK) // 40)])
            out.flush()
            time.sleep(0.025)
    assert wait_for(lambda: serving(server.url) == f"reload-test@{version(BLOCK)}")
    assert watch.reloads == 1  # one reload, of the whole file; no half-written one was tried
    samples = parse_metrics(httpx.get(server.url + "/metrics").text)
    assert metric_value(samples, "llmvet_policy_reload_failures_total") == 0


def test_the_watch_refuses_an_emptied_file(fake, make_proxy, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK))
    path = tmp_path / "policy.yaml"
    path.write_text(BLOCK)
    server = make_proxy(BLOCK, policy=str(path), policy_watch=0.1)
    time.sleep(0.3)
    path.write_text("")  # truncated and left so: refused, the blocking policy keeps serving
    assert wait_for(lambda: server.proxy.watch.reloads == 1)
    time.sleep(0.2)
    assert serving(server.url) == f"reload-test@{version(BLOCK)}"
    leaked = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert leaked.status_code == 422 and b"SECRET" not in leaked.content


def test_off_by_default(fake, make_proxy, tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(ANNOTATE)
    server = make_proxy(ANNOTATE, policy=str(path))
    path.write_text(BLOCK)
    time.sleep(0.5)
    assert serving(server.url) == f"reload-test@{version(ANNOTATE)}"
    assert server.proxy.watch._task is None


CANDIDATE = ANNOTATE.replace("name: reload-test", "name: candidate").replace("on_fail: annotate", "on_fail: block")


def admin(url: str, body: bytes = b"") -> httpx.Response:
    return httpx.post(url + RELOAD, headers={"authorization": f"Bearer {TOKEN}"}, content=body, timeout=30)


def shadow_of(url: str) -> str | None:
    shadow = httpx.get(url + "/readyz").json().get("shadow")
    return shadow["policy"] if shadow else None


def test_the_shadow_candidate_reloads_with_the_policy(fake, make_proxy, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK))
    path, candidate = tmp_path / "policy.yaml", tmp_path / "candidate.yaml"
    path.write_text(ANNOTATE)
    candidate.write_text(CANDIDATE)
    server = make_proxy(ANNOTATE, policy=str(path), shadow_policy=str(candidate), admin_token=TOKEN, policy_watch=0.1)
    assert shadow_of(server.url) == f"candidate@{version(CANDIDATE)}"

    # The watch follows the candidate's file too.
    changed = CANDIDATE.replace("on_fail: block", "on_fail: escalate")
    candidate.write_text(changed)
    assert wait_for(lambda: shadow_of(server.url) == f"candidate@{version(changed)}")
    assert serving(server.url) == f"reload-test@{version(ANNOTATE)}"

    # A bad candidate refuses the whole reload: the enforced policy on disk is not taken either.
    asyncio.run_coroutine_threadsafe(server.proxy.watch.stop(), server.proxy.loop).result(5)  # the admin from here
    path.write_text(BLOCK)
    other = tmp_path / "other.yaml"
    other.write_text(BROKEN)
    r = admin(server.url, b'{"shadow_policy": "%s"}' % str(other).encode())
    assert r.status_code == 422 and any(p.startswith(f"{other}:") for p in r.json()["problems"])
    assert serving(server.url) == f"reload-test@{version(ANNOTATE)}"
    assert shadow_of(server.url) == f"candidate@{version(changed)}"

    # The admin names another candidate, then none.
    other.write_text(CANDIDATE)
    r = admin(server.url, b'{"shadow_policy": "%s"}' % str(other).encode())
    assert r.status_code == 200, r.text
    assert (
        r.json()["policy"] == f"reload-test@{version(BLOCK)}"
        and r.json()["shadow"] == f"candidate@{version(CANDIDATE)}"
    )
    r = admin(server.url, b'{"shadow_policy": null}')
    assert r.status_code == 200 and r.json()["shadow"] is None
    assert shadow_of(server.url) is None and server.proxy.rt.after_finish is None
    # An admin token is not a way to read other files through the parse errors the endpoint returns.
    secret = tmp_path.parent / "outside.yaml"
    secret.write_text("password: hunter2\n:::")
    (tmp_path / "notes.txt").write_text("hunter2 ::")
    for elsewhere in ("/etc/passwd", str(secret), str(tmp_path / ".." / "outside.yaml"), str(tmp_path / "notes.txt")):
        r = admin(server.url, orjson.dumps({"shadow_policy": elsewhere}))
        assert r.status_code == 400 and b"hunter2" not in r.content and b"root:" not in r.content, elsewhere
    for bad in (b"[1]", b"not json", b'{"shadow_policy": 3}'):
        r = admin(server.url, bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == "shadow_policy", bad
    checked = server.proxy.shadow.checked
    ask_blocked = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert ask_blocked.status_code == 422
    time.sleep(0.3)
    assert server.proxy.shadow.checked == checked  # no candidate: nothing shadowed


def test_sighup_path_reads_the_candidate_again(fake, make_proxy, tmp_path: Path):
    """What SIGHUP runs (reloader.on_signal) reads the candidate's file again too."""
    fake.reset(lambda b: Reply(text=LEAK))
    path, candidate = tmp_path / "policy.yaml", tmp_path / "candidate.yaml"
    path.write_text(ANNOTATE)
    candidate.write_text(CANDIDATE)
    server = make_proxy(ANNOTATE, policy=str(path), shadow_policy=str(candidate))
    changed = CANDIDATE.replace("on_fail: block", "on_fail: escalate")
    candidate.write_text(changed)
    server.proxy.loop.call_soon_threadsafe(server.proxy.reloader.on_signal)
    assert wait_for(lambda: shadow_of(server.url) == f"candidate@{version(changed)}")
    assert ask(server.url).headers["x-llmvet-decision"] == "annotate"
