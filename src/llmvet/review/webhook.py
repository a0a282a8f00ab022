"""Decision webhooks: POST the outcome as JSON, signed with HMAC-SHA256, retried with backoff.

Header `x-llmvet-signature: t=<unix seconds>,v1=<hex hmac_sha256(secret, "<t>.<body>")>` (the timestamp
is signed too, so receivers can refuse replays). `x-llmvet-delivery` is the same on every retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("llmvet.review.webhook")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0) -> bool:
    """What a receiver does (also used by the tests)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body).encode(), header.encode())  # bytes: any header, no TypeError


class Webhook:
    def __init__(
        self, url: str, secret: str, *, attempts: int = 5, backoff: float = 0.5, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self._tasks: set[asyncio.Task[bool]] = set()

    def send_soon(self, http: aiohttp.ClientSession, payload: dict[str, Any]) -> None:
        """Deliver in the background: a reviewer's click never waits for the receiver."""
        task = asyncio.create_task(self.send(http, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, http: aiohttp.ClientSession, payload: dict[str, Any]) -> bool:
        body = orjson.dumps(payload)
        delivery = "dlv_" + secrets.token_hex(8)
        for attempt in range(1, self.attempts + 1):
            ts = int(time.time())
            headers = {
                "content-type": "application/json",
                "x-llmvet-signature": sign(self.secret, ts, body),
                "x-llmvet-delivery": delivery,
                "x-llmvet-attempt": str(attempt),
            }
            try:
                async with http.post(
                    self.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp:
                    if 200 <= resp.status < 300:
                        return True
                    why = f"HTTP {resp.status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            log.warning("webhook %s attempt %d/%d failed: %s", delivery, attempt, self.attempts, why)
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        log.error("webhook %s gave up after %d attempts", delivery, self.attempts)
        return False

    async def drain(self, timeout: float = 5.0) -> None:
        """At shutdown: let deliveries in flight finish for `timeout` seconds, then drop the rest (the HTTP
        session closes next; a delivery left running would fail on it or be destroyed with the loop)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            log.error("%d webhook deliveries were still pending at shutdown; dropped", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
