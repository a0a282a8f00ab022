"""Shared bits of the review tests: a policy that escalates, reviewers, a client call in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx

BAD = "dataframe-vectorizer-pro"
ANSWER = f"Install it with `pip install {BAD}` and then call vectorize(df)."


def policy(mode: str = "hold", timeout: float = 30, on_timeout: str = "block", routes: str = "") -> str:
    match = f"\n    match: {{routes: [{routes}]}}" if routes else ""
    return f"""
version: 1
name: review-test
rules:
  - name: packages-need-review{match}
    validators:
      - use: regex
        id: fake-packages
        with: {{must_not_match: ["{BAD}"], severity: high}}
        on_fail: escalate
    escalate: {{mode: {mode}, timeout: {timeout}, on_timeout: {on_timeout}}}
"""


def run_async(coro) -> Any:
    """asyncio.run in a fresh thread (Playwright's sync API keeps an event loop in the main thread)."""
    out: dict[str, Any] = {}

    def go() -> None:
        try:
            out["v"] = asyncio.run(coro)
        except BaseException as exc:
            out["e"] = exc

    t = threading.Thread(target=go)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["v"]


def add_reviewer(store_url: str, name: str, role: str = "reviewer") -> str:
    from llmvet.review.auth import Accounts
    from llmvet.store import open_store

    async def go() -> str:
        store = await open_store(store_url)
        try:
            return await Accounts(store).add(name, role)
        finally:
            await store.close()

    return run_async(go())


def read_audit(store_url: str) -> list[dict[str, Any]]:
    from llmvet.store import open_store

    async def go() -> list[dict[str, Any]]:
        store = await open_store(store_url)
        records: list[dict[str, Any]] = []
        after = None
        try:
            while page := await store.read("audit", after=after):  # the whole log, a page at a time
                records += [r for _, r in page]
                after = page[-1][0]
            return records
        finally:
            await store.close()

    return run_async(go())


class InThread:
    """Run a blocking client call in a thread; .result() re-raises what it raised."""

    def __init__(self, fn, *args, **kwargs) -> None:
        self._out: dict[str, Any] = {}

        def run() -> None:
            try:
                self._out["value"] = fn(*args, **kwargs)
            except BaseException as exc:
                self._out["error"] = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self, timeout: float = 30) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the client call is still waiting"
        if "error" in self._out:
            raise self._out["error"]
        return self._out["value"]

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()


def wait_for_item(base_url: str, token: str, status: str = "pending", timeout: float = 15, exclude=()) -> dict:
    """Poll the JSON API until an item shows up; returns its summary."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{base_url}/llmvet/v1/reviews",
            params={"status": status},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        if r.status_code == 200:
            items = [i for i in r.json()["data"] if i["id"] not in exclude]
            if items:
                return items[0]
        time.sleep(0.05)
    raise AssertionError(f"no {status} review item appeared within {timeout}s")
