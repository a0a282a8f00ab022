"""Policy reload without restart: SIGHUP, the file watch, or `POST /llmvet/v1/admin/policy/reload`
with the admin token.

The enforced policy and the shadow candidate (when one is set) are read again together. The admin
endpoint may also name another candidate file, or none: `{"shadow_policy": "PATH" | null}`.
Every file is checked completely before anything changes; a bad one is refused with its
`file:line: field: message` lines and the serving policy stays. Requests in flight keep the policy
they started under (each `Exchange` holds its own). Validators whose settings did not change are
carried over, so their expensive state (models, caches) is not rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llmvet.errors import error_response
from llmvet.extensions import Extension
from llmvet.policy.loader import CompiledValidator, Policy, PolicyError, load_policy
from llmvet.policy.reuse import reuse_validators
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.shadow import Shadow

log = logging.getLogger("llmvet.proxy.admin")
RELOAD_PATH = "/llmvet/v1/admin/policy/reload"
KEEP: Any = object()  # reload(): keep the candidate file the settings name


@dataclass
class ReloadResult:
    ok: bool
    serving: str  # name@version serving after the attempt
    previous: str
    problems: list[str] = field(default_factory=list)
    reused: int = 0
    new: int = 0
    shadow: str | None = None  # the candidate's name@version after the attempt


class PolicyReloader:
    def __init__(self, rt: Runtime, extensions: list[Extension], shadow: Shadow) -> None:
        self.rt = rt
        self.extensions = extensions
        self.shadow = shadow
        self._lock = asyncio.Lock()  # one reload at a time: two would race to swap
        self._tasks: set[asyncio.Task[ReloadResult]] = set()
        self.routes: list[BaseRoute] = [Route(RELOAD_PATH, self.endpoint, methods=["POST"])]
        # Folders a candidate named through the endpoint may come from: the policy's, the start candidate's.
        start = [rt.settings.policy, *([rt.settings.shadow_policy] if rt.settings.shadow_policy else [])]
        self._candidate_dirs = {os.path.dirname(os.path.abspath(p)) for p in start}

    def paths(self) -> list[Path]:
        """The files a reload reads: the policy, and the shadow candidate when one is set."""
        candidate = self.rt.settings.shadow_policy
        return [self.rt.settings.policy, *([candidate] if candidate is not None else [])]

    async def reload(self, shadow_path: Path | None = KEEP) -> ReloadResult:
        """Load the policy file (and the candidate's) again; serve them only if every one is valid."""
        async with self._lock:
            old = self.rt.policy
            previous = _label(old)
            target = self.rt.settings.shadow_policy if shadow_path is KEEP else shadow_path
            try:
                new = await asyncio.to_thread(load_policy, self.rt.settings.policy)
                candidate = await asyncio.to_thread(load_policy, target) if target is not None else None
            except PolicyError as exc:
                problems = [str(p) for p in exc.problems]
                for line in problems:
                    log.error("policy reload refused: %s", line)
                self._notify(old.version, problems)
                return ReloadResult(False, previous, previous, problems, shadow=self._shadow_label())
            fresh = reuse_validators(new, old) + self._fresh_in_candidate(candidate)
            await self._warm_up([cv.instance for cv in fresh])
            self.rt.serve(new)
            self.shadow.swap(candidate)
            self.rt.settings.shadow_policy = target
            total = sum(len(r.validators) for p in (new, candidate) if p is not None for r in p.rules)
            log.info("policy reloaded: %s -> %s (%d validators reused)", previous, _label(new), total - len(fresh))
            self._notify(new.version, [])
            return ReloadResult(
                True, _label(new), previous, reused=total - len(fresh), new=len(fresh), shadow=self._shadow_label()
            )

    def _fresh_in_candidate(self, candidate: Policy | None) -> list[CompiledValidator]:
        if candidate is None:
            return []
        if self.shadow.policy is None:
            return [cv for rule in candidate.rules for cv in rule.validators]
        return reuse_validators(candidate, self.shadow.policy)

    def _allowed_candidate(self, path: Path) -> Path:
        """A candidate named through the endpoint must be a YAML file beside the policy (or the start
        candidate): the endpoint returns parse errors, which must not become a way to read other files."""
        full = os.path.abspath(path)  # `..` resolved, symlinks placed by the operator kept
        if os.path.splitext(full)[1] not in (".yaml", ".yml") or os.path.dirname(full) not in self._candidate_dirs:
            raise ValueError(
                "shadow_policy must be a .yaml or .yml file in the folder of the policy "
                "(or of the shadow policy llmvet started with)"
            )
        return Path(full)

    def _shadow_label(self) -> str | None:
        return _label(self.shadow.policy) if self.shadow.policy is not None else None

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
        try:
            choice = _shadow_choice(await request.body())
            if isinstance(choice, Path):
                choice = self._allowed_candidate(choice)
            result = await self.reload(choice)
        except ValueError as exc:
            return error_response(400, str(exc), "invalid_request_error", param="shadow_policy")
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
            "shadow": result.shadow,
        }
        return Response(orjson.dumps(body), 200, media_type="application/json")


def _label(policy: Policy) -> str:
    return f"{policy.name}@{policy.version}"


def _shadow_choice(body: bytes) -> Path | None:
    """The endpoint's optional body: `{"shadow_policy": "PATH"}` names another candidate, `null` stops
    shadowing; no body (or no such field) keeps the candidate the settings name."""
    if not body.strip():
        return KEEP
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("the body must be a JSON object, or empty") from None
    if not isinstance(data, dict) or "shadow_policy" not in data:
        if isinstance(data, dict):
            return KEEP
        raise ValueError("the body must be a JSON object, or empty")
    value = data["shadow_policy"]
    if value is not None and not isinstance(value, str):
        raise ValueError("shadow_policy must be a file path or null")
    return Path(value) if value else None
