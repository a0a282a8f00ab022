"""Escalation through the real proxy, driven by the official openai SDK: hold, defer, timeouts, the API."""

from __future__ import annotations

import hashlib
import time

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmvet.review.webhook import verify
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import ANSWER, BAD, InThread, add_reviewer, policy, read_audit, wait_for_item
from tests.support.servers import ThreadedServer

MSG = [{"role": "user", "content": "How do I vectorize a dataframe?"}]


@pytest.fixture
def setup(make_proxy, fake, tmp_path, monkeypatch):
    """(start(policy_yaml) -> (server, client), store url); the upstream always gives the flagged answer."""
    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    fake.reset(lambda body: Reply(text=ANSWER))
    url = f"sqlite:///{tmp_path / 'review.db'}"

    def start(policy_yaml: str, api_key: str = "sk-client-key"):
        server = make_proxy(policy_yaml, store=url)
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0, timeout=30)
        return server, client

    return start, url


def api(server, token: str, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(
        method, f"{server.url}/llmvet/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw
    )


def test_hold_approve_returns_the_original_answer_and_is_audited(setup):
    start, url = setup
    server, client = start(policy())
    token = add_reviewer(url, "alice")
    call = InThread(lambda: client.chat.completions.with_raw_response.create(model="gpt-x", messages=MSG))
    item = wait_for_item(server.url, token)
    assert not call.done  # the client is held
    full = api(server, token, "GET", f"/reviews/{item['id']}").json()
    assert full["findings"][0]["span"] == [ANSWER.index(BAD), ANSWER.index(BAD) + len(BAD)]
    assert full["conversation"] == MSG and full["rule"] == "packages-need-review"
    r = api(server, token, "POST", f"/reviews/{item['id']}/approve")
    assert r.status_code == 200, r.text
    raw = call.result()
    assert raw.headers["x-llmvet-review-status"] == "approved" and raw.headers["x-llmvet-review-id"] == item["id"]
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    assert completion.model_extra["llmvet"]["review"]["reviewer"] == "alice"
    time.sleep(0.4)  # the automatic record is written in batches
    records = read_audit(url)
    human = [r for r in records if r.get("kind") == "review"]
    assert len(human) == 1
    rec = human[0]
    assert rec["action"] == "approved" and rec["reviewer"] == "alice" and rec["review_id"] == item["id"]
    assert rec["policy"] == "review-test" and rec["rule"] == "packages-need-review" and rec["policy_version"]
    assert rec["validators"][0]["status"] == "failed"
    assert rec["response_sha256"] == rec["final_response_sha256"] == hashlib.sha256(ANSWER.encode()).hexdigest()
    assert rec["request_sha256"] and rec["timings_ms"]["in_queue"] > 0
    auto = [r for r in records if r.get("request_id") == rec["request_id"] and "kind" not in r]
    assert auto and auto[0]["action"] == "escalate"


def test_held_request_is_audited_before_it_waits(setup):
    """A crash while the client is held must not lose the request: its record is written first."""
    start, url = setup
    server, client = start(policy())
    token = add_reviewer(url, "alice")
    call = InThread(lambda: client.chat.completions.with_raw_response.create(model="gpt-x", messages=MSG))
    item = wait_for_item(server.url, token)
    deadline = time.monotonic() + 5
    held: list[dict] = []
    while not held and time.monotonic() < deadline:  # the writer flushes in batches every 0.2 s
        held = [r for r in read_audit(url) if r.get("kind") == "escalation.held"]
        time.sleep(0.1)
    assert not call.done and len(held) == 1
    assert held[0]["request_id"] == item["request_id"] and held[0]["action"] == "escalate"
    assert held[0]["findings"] and held[0]["response_sha256"] == hashlib.sha256(ANSWER.encode()).hexdigest()
    assert api(server, token, "POST", f"/reviews/{item['id']}/approve").status_code == 200
    assert call.result().parse().choices[0].message.content == ANSWER


def test_hold_edit_on_a_streaming_request_replays_the_edit_as_sse(setup):
    start, url = setup
    server, client = start(policy())
    token = add_reviewer(url, "alice")

    def stream() -> tuple[str, list]:
        chunks = list(client.chat.completions.create(model="gpt-x", messages=MSG, stream=True))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks

    call = InThread(stream)
    item = wait_for_item(server.url, token)
    assert item["stream"] is True
    edited = "Use scikit-learn's `TfidfVectorizer` instead; that package does not exist."
    r = api(server, token, "POST", f"/reviews/{item['id']}/edit", json={"text": edited, "reason": "fake package"})
    assert r.status_code == 200 and r.json()["status"] == "edited"
    text, chunks = call.result()
    assert text == edited
    assert chunks[-1].model_extra["llmvet"]["review"]["status"] == "edited"


def test_hold_reject_gives_an_openai_error_with_the_reason(setup):
    start, url = setup
    server, client = start(policy())
    token = add_reviewer(url, "bob")
    call = InThread(lambda: client.responses.create(model="gpt-x", input="How do I vectorize?", stream=True))
    item = wait_for_item(server.url, token)
    assert api(server, token, "POST", f"/reviews/{item['id']}/reject", json={}).status_code == 400  # needs a reason
    r = api(server, token, "POST", f"/reviews/{item['id']}/reject", json={"reason": "recommends a fake package"})
    assert r.status_code == 200
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        call.result()
    err = exc.value.body
    assert exc.value.code == "rejected_by_reviewer" and "recommends a fake package" in err["message"]
    assert exc.value.response.headers["x-llmvet-review-status"] == "rejected"


def test_hold_edit_on_the_responses_route(setup):
    start, url = setup
    server, client = start(policy())
    token = add_reviewer(url, "alice")
    call = InThread(lambda: client.responses.create(model="gpt-x", input="How do I vectorize?"))
    item = wait_for_item(server.url, token)
    api(server, token, "POST", f"/reviews/{item['id']}/approve", json={"text": "Use pandas."})
    assert call.result().output_text == "Use pandas."


@pytest.mark.parametrize("on_timeout", ["block", "annotate", "allow"])
def test_hold_timeout_applies_on_timeout(setup, on_timeout):
    start, url = setup
    server, client = start(policy(timeout=0.5, on_timeout=on_timeout))
    if on_timeout == "block":
        with pytest.raises(openai.UnprocessableEntityError) as exc:
            client.chat.completions.create(model="gpt-x", messages=MSG)
        assert exc.value.code == "review_timeout"
    else:
        raw = client.chat.completions.with_raw_response.create(model="gpt-x", messages=MSG)
        assert raw.parse().choices[0].message.content == ANSWER
        assert raw.headers["x-llmvet-review-status"] == "timeout"
        assert raw.headers["x-llmvet-decision"] == ("annotate" if on_timeout == "annotate" else "allow")
        assert ("llmvet" in (raw.parse().model_extra or {})) == (on_timeout == "annotate")
    token = add_reviewer(url, "late")
    item = wait_for_item(server.url, token, status="timeout")
    assert item["decision"]["action"] == on_timeout
    # Too late now: the outcome is final.
    r = api(server, token, "POST", f"/reviews/{item['id']}/approve")
    assert r.status_code == 409 and "already timeout" in r.json()["error"]["message"]
    assert [r["action"] for r in read_audit(url) if r.get("kind") == "review"] == [f"timeout:{on_timeout}"]


@pytest.fixture
def webhook_receiver():
    seen: list[tuple[dict, bytes]] = []
    calls = {"n": 0}

    async def hook(request: Request) -> Response:
        calls["n"] += 1
        body = await request.body()
        if calls["n"] == 1:
            return Response("try again", 500)  # the first delivery fails: llmvet must retry
        seen.append((dict(request.headers), body))
        return Response("ok")

    with ThreadedServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        server.seen, server.calls = seen, calls
        yield server


def test_defer_answers_at_once_then_the_decision_can_be_polled_and_is_pushed(setup, monkeypatch, webhook_receiver):
    monkeypatch.setenv("LLMVET_REVIEW_WEBHOOK_URL", webhook_receiver.url + "/hook")
    monkeypatch.setenv("LLMVET_REVIEW_WEBHOOK_SECRET", "s3cret")
    start, url = setup
    server, client = start(policy(mode="defer", timeout=600))
    token = add_reviewer(url, "alice")
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model="gpt-x", messages=MSG)
    assert time.monotonic() - started < 5
    rid = raw.headers["x-llmvet-review-id"]
    assert raw.headers["x-llmvet-review-status"] == "pending"
    body = raw.parse()
    assert body.model_extra["llmvet"]["review"] == {"id": rid, "status": "pending", "url": f"/llmvet/v1/reviews/{rid}"}
    text = body.choices[0].message.content
    assert rid in text and BAD not in text  # the unreviewed answer is withheld

    client_headers = {"Authorization": "Bearer sk-client-key"}
    status = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers=client_headers).json()
    assert status["status"] == "pending" and "answer" not in status and "findings" not in status
    other = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers={"Authorization": "Bearer sk-someone-else"})
    assert other.status_code == 404
    # The same key identity as the proxy's: it also takes a key sent without the "Bearer " prefix.
    bare = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers={"Authorization": "sk-client-key"})
    assert bare.status_code == 200 and bare.json()["status"] == "pending"

    edited = "Use scikit-learn instead."
    assert api(server, token, "POST", f"/reviews/{rid}/approve", json={"text": edited}).json()["status"] == "edited"
    status = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers=client_headers).json()
    assert status["status"] == "edited" and status["answer"] == edited
    assert status["response"]["choices"][0]["message"]["content"] == edited

    deadline = time.monotonic() + 10
    while not webhook_receiver.seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert webhook_receiver.calls["n"] == 2  # one failure, one retry
    headers, payload = webhook_receiver.seen[0]
    assert verify("s3cret", headers["x-llmvet-signature"], payload)
    assert not verify("wrong", headers["x-llmvet-signature"], payload)
    assert headers["x-llmvet-attempt"] == "2"
    event = orjson.loads(payload)
    assert event["event"] == "review.decided" and event["review"]["id"] == rid
    assert event["review"]["answer"] == edited


def test_defer_timeout_applies_when_the_item_is_next_read(setup):
    start, _url = setup
    server, client = start(policy(mode="defer", timeout=0.3, on_timeout="block"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-x", messages=MSG)
    rid = raw.headers["x-llmvet-review-id"]
    time.sleep(0.4)
    status = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers={"Authorization": "Bearer sk-client-key"})
    assert status.json()["status"] == "timeout" and status.json()["error"]["code"] == "review_timeout"


def test_api_access_rules_and_leases(setup):
    start, url = setup
    server, client = start(policy())
    alice, bob = add_reviewer(url, "alice"), add_reviewer(url, "bob")
    admin = add_reviewer(url, "root", "admin")
    # Client API keys never grant reviewer access; neither does nothing.
    for headers in ({"Authorization": "Bearer sk-client-key"}, {}):
        r = httpx.get(f"{server.url}/llmvet/v1/reviews", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_reviewer_token"
    call = InThread(lambda: client.chat.completions.create(model="gpt-x", messages=MSG))
    item = wait_for_item(server.url, alice)
    rid = item["id"]
    assert api(server, alice, "POST", f"/reviews/{rid}/claim").status_code == 200
    r = api(server, bob, "POST", f"/reviews/{rid}/approve")
    assert r.status_code == 409 and "alice" in r.json()["error"]["message"]
    listed = api(server, bob, "GET", "/reviews").json()
    assert listed["data"][0]["lease"]["reviewer"] == "alice"
    assert listed["counts"]["rule"] == {"packages-need-review": 1}
    assert listed["counts"]["validator"] == {"fake-packages": 1}
    assert api(server, bob, "GET", "/reviews", params={"rule": "other"}).json()["data"] == []
    assert api(server, bob, "GET", "/reviews", params={"min_age": "10"}).json()["data"] == []
    # Allowlist from the finding, then revert it.
    r = api(
        server, alice, "POST", f"/reviews/{rid}/allowlist", json={"finding": 0, "package": BAD, "ecosystem": "pypi"}
    )
    assert r.status_code == 201 and r.json()["key"] == f"review-test/pypi/{BAD}"
    assert [e["package"] for e in api(server, bob, "GET", "/allowlist").json()["data"]] == [BAD]
    assert api(server, bob, "DELETE", f"/allowlist/review-test/pypi/{BAD}").status_code == 200
    assert api(server, bob, "GET", "/allowlist").json()["data"] == []
    # Only admins list and revoke reviewers; a revoked token stops working at once.
    assert api(server, alice, "GET", "/reviewers").status_code == 403
    assert {r["name"] for r in api(server, admin, "GET", "/reviewers").json()["data"]} == {"alice", "bob", "root"}
    assert api(server, admin, "POST", "/reviewers/bob/revoke").status_code == 200
    assert api(server, bob, "GET", "/reviews").status_code == 401
    assert api(server, alice, "POST", f"/reviews/{rid}/approve").status_code == 200
    assert call.result().choices[0].message.content == ANSWER
    kinds = [r.get("kind") for r in read_audit(url) if r.get("kind")]
    assert kinds.count("allowlist.add") == 1 and kinds.count("allowlist.revert") == 1
    assert "reviewer.revoke" in kinds and "review" in kinds


def test_defer_on_streaming_and_responses_routes(setup):
    start, _url = setup
    _server, client = start(policy(mode="defer", timeout=600))
    with client.chat.completions.with_streaming_response.create(model="gpt-x", messages=MSG, stream=True) as raw:
        rid = raw.headers["x-llmvet-review-id"]
        chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert rid in text and BAD not in text
    assert chunks[-1].model_extra["llmvet"]["review"]["status"] == "pending"
    resp = client.responses.with_raw_response.create(model="gpt-x", input="How?")
    assert resp.headers["x-llmvet-review-id"] in resp.parse().output_text and BAD not in resp.parse().output_text


def test_a_client_that_gives_up_leaves_a_decidable_item_marked_gone(setup):
    start, url = setup
    server, _ = start(policy(timeout=60))
    token = add_reviewer(url, "alice")
    impatient = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=1.0)
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="gpt-x", messages=MSG)
    item = wait_for_item(server.url, token)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        full = api(server, token, "GET", f"/reviews/{item['id']}").json()
        if full["client_gone"]:
            break
        time.sleep(0.05)
    assert full["client_gone"] and full["status"] == "pending"
    assert api(server, token, "POST", f"/reviews/{item['id']}/approve").json()["status"] == "approved"


def test_escalation_fails_closed_when_the_queue_is_down(make_proxy, fake):
    from tests.support.servers import redis_server

    fake.reset(lambda body: Reply(text=ANSWER))
    with redis_server() as own_redis:
        server = make_proxy(policy(), store=own_redis)
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=30)
        token = add_reviewer(own_redis, "alice")
    # redis-server is gone now: the answer must not leave unreviewed
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(model="gpt-x", messages=MSG)
    assert exc.value.status_code == 503 and exc.value.code == "review_unavailable"
    assert "Install it with" not in exc.value.response.text  # the answer itself is not leaked
    # Reviewers are told so too: an OpenAI-shaped 503 from the API, an error page from the UI.
    r = api(server, token, "GET", "/reviews")
    assert r.status_code == 503 and r.json()["error"]["code"] == "review_unavailable"
    page = httpx.get(server.url + "/review", cookies={"llmvet_review_session": "x"}, timeout=30)
    assert page.status_code == 503 and "unavailable" in page.text


def test_csrf_checks_refuse_non_ascii_tokens_instead_of_crashing(setup):
    """compare_digest raises TypeError on non-ASCII str: a forged token must get 403, not a server error."""
    from llmvet.review.auth import Accounts
    from llmvet.store import open_store
    from tests.support.review_helpers import run_async

    start, url = setup
    server, _ = start(policy())
    r = httpx.post(
        f"{server.url}/review/login",
        data={"csrf_token": "é", "token": "x"},
        cookies={"llmvet_review_login": "abc"},
        timeout=10,
    )
    assert r.status_code == 403 and "expired" in r.text
    add_reviewer(url, "alice")

    async def session() -> str:
        store = await open_store(url)
        try:
            accounts = Accounts(store)
            return (await accounts.open_session(await accounts._active("alice")))[0]
        finally:
            await store.close()

    sid = run_async(session())
    r = httpx.post(
        f"{server.url}/llmvet/v1/reviews/rev_x/claim",
        cookies={"llmvet_review_session": sid},
        headers={"x-csrf-token": "é".encode("latin-1")},
        timeout=10,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
