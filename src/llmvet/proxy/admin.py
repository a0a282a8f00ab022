"""Policy reload without restart: SIGHUP, or `POST /llmvet/v1/admin/policy/reload` with the admin token.

The file is checked completely before anything changes; a bad one is refused with its
`file:line: field: message` lines and the serving policy stays. Requests in flight keep the policy
they started under (each `Exchange` holds its own). Validators whose settings did not change are
carried over, so their expensive state (models, caches) is not rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from dataclasses import dataclass, field

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llmvet.errors import error_response
from llmvet.extensions import Extension
from llmvet.policy.loader import PolicyError, load_policy
from llmvet.policy.reuse import reuse_validators
from llmvet.proxy.runtime import Runtime

log = logging.getLogger("llmvet.proxy.admin")
RELOAD_PATH = "/llmvet/v1/admin/policy/reload"


@dataclass
class ReloadResult:
    ok: bool
    serving: str  # name@version serving after the attempt
    previous: str
    problems: list[str] = field(default_factory=list)
    reused: int = 0
    new: int = 0


class PolicyReloader:
    def __init__(self, rt: Runtime, extensions: list[Extension]) -> None:
        self.rt = rt
        self.extensions = extensions
        self._lock = asyncio.Lock()  # one reload at a time: two would race to swap
        self._tasks: set[asyncio.Task[ReloadResult]] = set()
        self.routes: list[BaseRoute] = [Route(RELOAD_PATH, self.endpoint, methods=["POST"])]

    async def reload(self) -> ReloadResult:
        """Load the policy file again; serve it only if it is valid."""
        async with self._lock:
            old = self.rt.policy
            previous = f"{old.name}@{old.version}"
            try:
                new = await asyncio.to_thread(load_policy, self.rt.settings.policy)
            except PolicyError as exc:
                problems = [str(p) for p in exc.problems]
                for line in problems:
                    log.error("policy reload refused: %s", line)
                self._notify(old.version, problems)
                return ReloadResult(False, previous, previous, problems)
            fresh = reuse_validators(new, old)
            await self._warm_up([cv.instance for cv in fresh])
            self.rt.serve(new)
            total = sum(len(r.validators) for r in new.rules)
            log.info("policy reloaded: %s -> %s@%s (%d validators reused)", previous, new.name, new.version, total)
            self._notify(new.version, [])
            return ReloadResult(True, f"{new.name}@{new.version}", previous, reused=total - len(fresh), new=len(fresh))

    async def _warm_up(self, instances: list[object]) -> None:
        """New validators load their state before the policy serves (the old one serves meanwhile)."""
        if self.rt.resources is None:
            return
        for instance in instances:
            warm_up = getattr(instance, "warm_up", None)
            if warm_up is None:
                continue
            try:
                await warm_up(self.rt.resources)
            except Exception as exc:  # it errors per answer instead; on_error decides then
                log.warning("validator %s failed to warm up: %s", type(instance).__name__, exc)

    def _notify(self, version: str, problems: list[str]) -> None:
        for ext in self.extensions:
            try:
                ext.on_policy_reload(version, problems)
            except Exception:
                log.exception("extension %s failed on policy reload", type(ext).__name__)

    # ---- SIGHUP -----------------------------------------------------------------------------------------
    def on_signal(self) -> None:
        """What the SIGHUP handler calls: start a reload on the serving loop."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="llmvet-policy-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        # Only the main thread may own signals (an app run in a thread, e.g. in tests, has none).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, self.on_signal)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop.remove_signal_handler(signal.SIGHUP)

    # ---- the admin endpoint -----------------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        token = self.rt.settings.admin_token
        if not token:  # admin endpoints are off unless a token is set
            return error_response(404, "admin endpoints are off: set LLMVET_ADMIN_TOKEN", "invalid_request_error")
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        # As bytes: compare_digest refuses str with non-ASCII characters, and `given` is anyone's input.
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "invalid admin token", "invalid_request_error", code="invalid_api_key")
        result = await self.reload()
        if not result.ok:
            message = "policy refused; still serving " + result.serving + ":\n" + "\n".join(result.problems)
            return error_response(
                422, message, "invalid_request_error", code="policy_invalid", extra={"problems": result.problems}
            )
        body = {
            "status": "reloaded",
            "policy": result.serving,
            "previous": result.previous,
            "validators_reused": result.reused,
            "validators_new": result.new,
        }
        return Response(orjson.dumps(body), 200, media_type="application/json")
