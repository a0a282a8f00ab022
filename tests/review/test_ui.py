"""The reviewer UI in a real browser (Playwright + the system's headless Chromium), end to end:
an escalated `hold` request made with the openai SDK is approved / rejected / edited through /review."""

from __future__ import annotations

import os
import re
import time

import httpx
import openai
import pytest

from tests.support import ROOT
from tests.support.browser import CHROMIUM, launch
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import ANSWER, BAD, InThread, add_reviewer, policy, wait_for_item

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
DOCS = ROOT / "docs"

LONG_ANSWER = (
    "You can vectorize the text column in two steps.\n\n"
    "1. Install the helper package:\n\n"
    f"    pip install {BAD}\n\n"
    "2. Then call it on your frame:\n\n"
    f'    from dataframe_vectorizer_pro import vectorize\n    X = vectorize(df, column="review")\n\n'
    "It supports TF-IDF and embeddings out of the box."
)
QUESTION = [
    {"role": "system", "content": "You are a careful Python assistant."},
    {"role": "user", "content": "How do I turn the text column of my pandas DataFrame into vectors?"},
]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def env(make_proxy, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    server = make_proxy(policy(timeout=60), store=url)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=60)
    token = add_reviewer(url, "alice", "admin")
    return server, client, token, fake


def login(page, server, token: str) -> None:
    page.goto(server.url + "/review")
    assert "/review/login" in page.url  # not signed in: sent to the sign-in page
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/review$"))


def open_first_item(page, server, token):
    item = wait_for_item(server.url, token)
    page.goto(server.url + "/review")
    page.click(f"a[href='/review/items/{item['id']}']")
    page.wait_for_url(re.compile(item["id"]))
    return item


@pytest.fixture(scope="module")
def registry():
    from tests.support.fake_registry import FakeRegistry
    from tests.support.servers import ThreadedServer

    reg = FakeRegistry()
    with ThreadedServer(reg.app) as server:
        yield server.url


def packages_policy(registry_url: str) -> str:
    return f"""
version: 1
name: coding
rules:
  - name: coding-assistant
    validators:
      - use: packages
        with: {{pypi_index_url: "{registry_url}/simple", pypi_json_url: "{registry_url}/pypi",
                npm_registry_url: "{registry_url}/npm"}}
        on_fail: escalate
    escalate: {{mode: hold, timeout: 60}}
"""


def test_approve_in_the_browser_releases_the_held_sdk_call(browser, make_proxy, fake, registry, tmp_path, monkeypatch):
    """With the packages validator (against the fake registry): the finding is highlighted with its evidence,
    the reviewer allows the package for the policy, approves with the keyboard, and the SDK call returns."""
    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    server = make_proxy(packages_policy(registry), store=url)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=60)
    token = add_reviewer(url, "alice", "admin")
    fake.reset(lambda body: Reply(text=LONG_ANSWER))
    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, server, token)
    item = open_first_item(page, server, token)
    marks = page.locator("mark.finding")
    assert BAD in marks.all_inner_texts()  # highlighted exactly at the finding's span
    card = page.locator(".finding-card", has_text="package.missing").first
    assert BAD in card.inner_text() and "pypi" in card.locator(".evidence").inner_text()
    assert "How do I turn the text column" in page.locator(".conversation").inner_text()
    shot = DOCS / "review-item.png" if os.environ.get("LLMVET_UPDATE_SCREENSHOT") else tmp_path / "item.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert not call.done
    with page.expect_navigation():  # back to the same item, with the outcome shown once
        card.locator("button", has_text=f"Allow {BAD}").click()
    assert f"Added {BAD} (pypi) to the allowlist of coding" in page.locator(".flash").inner_text()
    assert (
        "is on the allowlist (by alice)" in page.locator(".finding-card", has_text="package.missing").first.inner_text()
    )
    page.keyboard.press("a")  # the shortcut for approve
    page.wait_for_url(re.compile(r"/review$"))
    assert "Approved" in page.locator(".flash").inner_text()
    assert call.result().choices[0].message.content == LONG_ANSWER
    page.goto(server.url + "/review?status=decided")
    assert item["id"] in page.content() and "approved" in page.locator("table.items").inner_text()


def test_reject_and_edit_in_the_browser(browser, env):
    server, client, token, fake = env
    fake.reset(lambda body: Reply(text=ANSWER))
    page = browser.new_page()
    login(page, server, token)

    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    first = open_first_item(page, server, token)
    page.keyboard.press("r")
    page.keyboard.type("recommends a package that does not exist")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/review$"))
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        call.result()
    assert "recommends a package that does not exist" in exc.value.message

    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True))
    second = wait_for_item(server.url, token, exclude={first["id"]})
    page.goto(f"{server.url}/review/items/{second['id']}")
    page.keyboard.press("e")
    page.fill("#edit-text", "Use scikit-learn's TfidfVectorizer.")
    page.click("#edit-approve")
    page.wait_for_url(re.compile(r"/review$"))
    chunks = call.result()
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Use scikit-learn's TfidfVectorizer."
    )

    page.goto(f"{server.url}/review?status=decided")
    table = page.locator("table.items").inner_text()
    assert "rejected" in table and "edited" in table


def test_a_second_reviewer_sees_the_item_is_taken(browser, env, make_proxy):
    server, client, token, fake = env
    fake.reset(lambda body: Reply(text=ANSWER))
    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    bob = add_reviewer(server.proxy.settings.store, "bob")
    alice_page, bob_page = browser.new_context().new_page(), browser.new_context().new_page()
    login(alice_page, server, token)
    login(bob_page, server, bob)
    item = open_first_item(alice_page, server, token)
    bob_page.goto(f"{server.url}/review/items/{item['id']}")
    assert "alice is working on this item" in bob_page.locator("[data-testid=busy]").inner_text()
    assert bob_page.locator("#approve").count() == 0
    alice_page.click("#approve")
    assert call.result().choices[0].message.content == ANSWER


def test_an_open_item_page_keeps_its_lease(browser, make_proxy, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("LLMVET_REVIEW_LEASE_SECONDS", "2")  # the page renews it every second
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    server = make_proxy(policy(timeout=60), store=url)
    alice, bob = add_reviewer(url, "alice"), add_reviewer(url, "bob")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=60)
    fake.reset(lambda body: Reply(text=ANSWER))
    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    page = browser.new_context().new_page()
    login(page, server, alice)
    item = open_first_item(page, server, alice)
    page.wait_for_timeout(3000)  # longer than the lease: only the page's renewals keep it
    r = httpx.post(f"{server.url}/llmvet/v1/reviews/{item['id']}/claim", headers={"Authorization": f"Bearer {bob}"})
    assert r.status_code == 409 and "alice" in r.json()["error"]["message"]
    page.close()  # alice walks away: the lease runs out and bob can take the item
    deadline = time.monotonic() + 5
    while r.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.2)
        r = httpx.post(f"{server.url}/llmvet/v1/reviews/{item['id']}/claim", headers={"Authorization": f"Bearer {bob}"})
    assert r.status_code == 200
    httpx.post(f"{server.url}/llmvet/v1/reviews/{item['id']}/approve", headers={"Authorization": f"Bearer {bob}"})
    assert call.result().choices[0].message.content == ANSWER


def test_forms_without_a_session_or_csrf_token_are_refused(env):
    server, client, token, fake = env
    fake.reset(lambda body: Reply(text=ANSWER))
    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    item = wait_for_item(server.url, token)
    decide = f"{server.url}/review/items/{item['id']}/decide"
    with httpx.Client(base_url=server.url, follow_redirects=False) as anon:
        assert anon.post(decide, data={"action": "approve"}).status_code == 401
        # The client's own API key is no way in.
        page = anon.get("/review/login")
        login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = anon.post("/review/login", data={"csrf_token": login_csrf, "token": "sk-client-key"})
        assert r.status_code == 401 and "session" not in r.headers.get("set-cookie", "")
        # Sign-in itself needs the form's CSRF token.
        with httpx.Client(base_url=server.url, follow_redirects=False) as fresh:
            assert fresh.post("/review/login", data={"token": token}).status_code == 403
    # Behind a TLS-terminating proxy the cookies are Secure (so httpx, on plain http here, would not send
    # them back by itself: the test hands them over explicitly).
    with httpx.Client(
        base_url=server.url, follow_redirects=False, headers={"x-forwarded-proto": "https"}
    ) as browserish:
        page = browserish.get("/review/login")
        assert "secure" in page.headers["set-cookie"].lower()
        login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = browserish.post(
            "/review/login",
            data={"csrf_token": login_csrf, "token": token},
            headers={"cookie": f"llmvet_review_login={page.cookies['llmvet_review_login']}"},
        )
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        browserish.headers["cookie"] = f"llmvet_review_session={r.cookies['llmvet_review_session']}"
        # Signed in, but the form lacks (or forges) the CSRF token: refused, nothing decided.
        assert browserish.post(decide, data={"action": "approve"}).status_code == 403
        assert browserish.post(decide, data={"action": "approve", "csrf_token": "forged"}).status_code == 403
        # The JSON API with the session cookie needs the CSRF header as well.
        approve_api = f"/llmvet/v1/reviews/{item['id']}/approve"
        assert browserish.post(approve_api).status_code == 403
        assert not call.done
        item_page = browserish.get(f"/review/items/{item['id']}")
        assert item_page.headers["content-security-policy"].startswith("default-src 'self'")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', item_page.text).group(1)
        assert browserish.post(decide, data={"action": "approve", "csrf_token": csrf}).status_code == 303
    assert call.result().choices[0].message.content == ANSWER


def signed_in(server, token: str) -> tuple[httpx.Client, str]:
    """An httpx client with a reviewer session, and the session's CSRF token."""
    c = httpx.Client(base_url=server.url, follow_redirects=False)
    page = c.get("/review/login")
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert c.post("/review/login", data={"csrf_token": login_csrf, "token": token}).status_code == 303
    queue = c.get("/review")
    return c, re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)


def test_answer_html_is_escaped_and_admins_revoke_from_the_ui(env):
    server, client, token, fake = env
    fake.reset(lambda body: Reply(text=f"<script>alert(1)</script> pip install {BAD} <img src=x onerror=alert(2)>"))
    call = InThread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION))
    item = wait_for_item(server.url, token)
    bob = add_reviewer(server.proxy.settings.store, "bob")
    admin, csrf = signed_in(server, token)
    page = admin.get(f"/review/items/{item['id']}").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    bob_client, bob_csrf = signed_in(server, bob)
    # bob is no admin: he cannot revoke anyone
    assert bob_client.post("/review/admin/revoke", data={"name": "alice", "csrf_token": bob_csrf}).status_code == 403
    r = admin.post("/review/admin/revoke", data={"name": "bob", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/review/admin"
    assert "Revoked bob." in admin.get("/review/admin").text  # the outcome comes in a cookie, not the URL
    # bob's open session ends with his token
    assert bob_client.get("/review").status_code == 303
    assert (
        admin.post(
            f"/review/items/{item['id']}/decide",
            data={"action": "reject", "reason": "html injection", "csrf_token": csrf},
        ).status_code
        == 303
    )
    with pytest.raises(openai.UnprocessableEntityError):
        call.result()
    history = admin.get("/review", params={"status": "decided", "rule": "packages-need-review"}).text
    assert item["id"] in history and "html injection" in history
    admin.close()
    bob_client.close()
