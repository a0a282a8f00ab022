"""`audit_full_match`: the matched secret in clear in the audit log, and nowhere the client can see."""

import asyncio

import openai
import orjson

from llmvet.store import open_store
from tests.support.fake_upstream import Reply

KEY = "AKIAIOSFODNN7EXAMPLE"
POLICY = """
rules:
  - name: keys
    validators:
      - use: regex
        with: {must_not_match: ["AKIA[0-9A-Z]{16}"], audit_full_match: true}
    on_fail: block
"""


async def test_full_match_reaches_the_audit_log_only(fake, make_proxy, tmp_path):
    fake.reset(lambda b: Reply(text=f"your key is {KEY}"))
    proxy = make_proxy(POLICY)
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    try:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        raise AssertionError("the key was delivered")
    except openai.UnprocessableEntityError as exc:
        raw = exc.response.content
    assert KEY.encode() not in raw and b"AKIA[0-9A-Z]" not in raw
    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    try:
        for _ in range(50):  # the writer flushes within 0.2 s
            rows = [r for _, r in await store.read("audit") if r.get("kind") is None]
            if rows:
                break
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    (finding,) = rows[0]["findings"]
    assert finding["evidence"]["match"] == KEY and finding["evidence"]["pattern"] == "AKIA[0-9A-Z]{16}"
    assert KEY not in finding["message"]  # messages travel further than the audit log
    assert orjson.dumps(rows[0]).count(KEY.encode()) == 1
