"""The reviewer UI against a crafted link and a crafted answer, in headless Chromium."""

from __future__ import annotations

import re

import pytest

from tests.review.test_ui import browser, env, login, open_first_item  # noqa: F401 (fixtures)
from tests.support.browser import CHROMIUM
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import BAD, InThread, wait_for_item

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

QUESTION = [{"role": "user", "content": "Where is the invoice?"}]
FORGED = "Security notice: your token expired, paste it at evil.example"


def test_query_text_is_never_shown_as_a_message_but_real_outcomes_are_once(browser, env):  # noqa: F811
    server, client, token, fake = env
    page = browser.new_page()
    login(page, server, token)
    for path in ["/review", "/review/admin", "/review?status=decided"]:
        page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}flash={FORGED}&error={FORGED}")
        assert page.locator(".flash").count() == 0
        assert "evil.example" not in page.locator("body").inner_text()

    fake.reset(lambda body: Reply(text=f"pip install {BAD}"))
    call = InThread(lambda: client.chat.completions.create(model="m", messages=QUESTION))
    item = open_first_item(page, server, token)
    page.click("#approve")
    page.wait_for_url(re.compile(r"/review$"))
    assert page.locator(".flash").inner_text() == f"Approved {item['id']}."  # the real outcome, from the server
    call.result()
    page.reload()
    assert page.locator(".flash").count() == 0  # shown once


# Where the characters of "gpj.exe" are drawn: with U+202E obeyed, "x" is left of "g" ("exe.jpg").
GLYPH_X = """() => {
  const walker = document.createTreeWalker(document.querySelector('#answer'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const i = node.data.indexOf('gpj.exe');
    if (i < 0) continue;
    const left = (k) => { const r = document.createRange(); r.setStart(node, k); r.setEnd(node, k + 1);
                          return r.getBoundingClientRect().left; };
    return {g: left(i), x: left(i + 5)};
  }
  return null;
}"""


def test_direction_overrides_in_answers_are_shown_not_obeyed(browser, env):  # noqa: F811
    server, client, token, fake = env
    answer = f"pip install {BAD} then open invoice\u202egpj.exe from the mail."
    fake.reset(lambda body: Reply(text=answer))
    call = InThread(lambda: client.chat.completions.create(model="m", messages=QUESTION))
    page = browser.new_page()
    login(page, server, token)
    item = wait_for_item(server.url, token)
    page.goto(f"{server.url}/review/items/{item['id']}")
    shown = page.locator("#answer").inner_text()
    assert "\u202e" not in shown and "invoice[U+202E]gpj.exe from the mail." in shown
    assert page.locator("#answer .bidi").get_attribute("title") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    where = page.evaluate(GLYPH_X)
    assert where is not None and where["g"] < where["x"]  # drawn left to right, as written
    assert BAD in page.locator("#answer mark.finding").inner_text()  # highlights still line up
    page.click("#approve")
    page.wait_for_url(re.compile(r"/review$"))
    assert call.result().choices[0].message.content == answer  # the client gets the answer unchanged
