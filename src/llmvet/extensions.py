"""The contract between the proxy and its extensions: what an extension gets, and what it gives.

An extension (the review queue, observability, or a third party's) is a class registered under the
entry-point group `llmvet.extensions`. The proxy builds one per app with a `Host` (its view of the
proxy), mounts its routes and middleware, starts and stops it with the app, calls `on_record` with
every audit record, and, for the one extension that handles escalations, turns the `Outcome` its
`escalate` returns into the client's response. Extensions import this module, the store and the
validator contract, never the proxy itself.

    [project.entry-points."llmvet.extensions"]
    mine = "my_package.module:MyExtension"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute

from llmvet.records import AuditRecord, ReviewItem

if TYPE_CHECKING:
    from llmvet.resources import Resources
    from llmvet.validators.base import Validator

ENTRY_POINT_GROUP = "llmvet.extensions"

OutcomeStatus = Literal["pending", "approved", "edited", "rejected", "timeout", "unavailable"]


@dataclass(frozen=True, slots=True)
class Escalation:
    """An answer a rule escalated, as the proxy hands it to the escalation hook."""

    request_id: str
    mode: Literal["hold", "defer"]
    timeout: float
    on_timeout: str
    policy: str
    policy_version: str
    rule: str
    route: str
    model: str | None
    stream: bool
    key: str | None  # short hash of the client's API key
    key_label: str | None
    conversation: list[dict[str, str]]  # chat-style, text only
    request_sha256: str
    answer: dict[str, Any]  # the upstream answer, snapshotted so any replica can replay it
    answer_text: str
    response_sha256: str
    validators: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    summary: str
    validator_names: list[str]  # the validators whose verdict escalated

    def review_item(self) -> ReviewItem:
        """The queue item for this escalation (the queue adds id, created and status)."""
        return ReviewItem(
            request_id=self.request_id,
            mode=self.mode,
            timeout=self.timeout,
            on_timeout=self.on_timeout,
            deadline=0.0,
            policy=self.policy,
            policy_version=self.policy_version,
            rule=self.rule,
            route=self.route,
            model=self.model,
            stream=self.stream,
            key=self.key,
            key_label=self.key_label,
            conversation=self.conversation,
            request_sha256=self.request_sha256,
            answer=self.answer,
            response_sha256=self.response_sha256,
            validators=self.validators,
            findings=self.findings,
            summary=self.summary,
            validator_names=self.validator_names,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an escalation; the proxy turns it into the client's response.

    pending     (defer mode) the client gets a notice with `review_id` to poll
    approved    the answer goes out as it came
    edited      the reviewer's `text` replaces the answer
    rejected    the client gets an error with the reviewer's `reason`
    timeout     nobody decided in time: `action` (the rule's on_timeout: allow, annotate or block) applies
    unavailable the queue could not take the item (`reason` says why): escalation fails closed
    """

    status: OutcomeStatus
    review_id: str | None = None
    text: str | None = None
    reviewer: str | None = None
    reason: str | None = None
    action: str | None = None


class ReviewAccess(Protocol):
    """What other extensions may ask of the review queue (observability reads depth and latency)."""

    async def pending_count(self) -> int:
        """Items waiting for a reviewer."""
        ...

    async def decided_since(self, since: float, limit: int = 1000) -> list[ReviewItem]:
        """Items decided at or after unix time `since`, oldest decision first, at most `limit`."""
        ...

    async def reviewer_name(self, request: Request) -> str | None:
        """The signed-in reviewer making `request` (session or bearer token), if any."""
        ...


class Host(Protocol):
    """The proxy as its extensions see it. `resources` is ready when `Extension.start` is called."""

    @property
    def resources(self) -> Resources: ...

    @property
    def policy_name(self) -> str: ...

    @property
    def policy_version(self) -> str: ...

    @property
    def upstream_url(self) -> str: ...

    def validators(self) -> list[Validator[Any]]:
        """Every validator instance of the policy (e.g. to read a budget setting)."""
        ...

    def key_hash(self, request: Request) -> str | None:
        """sha256 of the API key on `request`, as the proxy computes it for the request's own identity."""
        ...

    def response_with_text(self, route: str, answer: dict[str, Any], text: str) -> dict[str, Any] | None:
        """The JSON body a client gets for a snapshotted answer whose text is replaced (None for streams)."""
        ...

    def review_access(self) -> ReviewAccess | None:
        """The review queue, when an extension provides one."""
        ...


class Extension:
    """Base class for extensions; override what you need.

    `order` sorts extensions (lower first) for route matching and middleware nesting (outermost first).
    Set `handles_escalations = True` and implement `escalate` to own the `escalate` action.
    """

    order: ClassVar[int] = 100
    handles_escalations: ClassVar[bool] = False

    def __init__(self, host: Host) -> None:
        self.host = host
        self.routes: list[BaseRoute] = []  # mounted before the /v1 catch-all
        self.middleware: list[Middleware] = []

    async def start(self) -> None:
        """Called in the app lifespan once the store and the HTTP clients are ready."""

    async def stop(self) -> None:
        """Called in the app lifespan before the store closes."""

    async def release_held(self) -> None:
        """The replica is shutting down and its drain period ran out: answer the requests held now."""

    def on_record(self, record: AuditRecord) -> None:
        """Called on the request path with every audit record (keep it cheap; never raise)."""

    def on_policy_reload(self, version: str, problems: list[str]) -> None:
        """Called after each policy reload: the version now serving, and the refused file's problems
        (`file:line: field: message`; empty when the new policy was taken). Never raise."""

    def on_audit_dropped(self, count: int) -> None:
        """Called when this process's audit retention deleted `count` records (age or size). Never raise."""

    async def escalate(self, case: Escalation) -> Outcome:
        """Turn an escalated answer into an outcome (hold: wait for it; defer: `pending` at once)."""
        raise NotImplementedError(f"{type(self).__name__} does not handle escalations")

    def review_access(self) -> ReviewAccess | None:
        """A review queue other extensions may read (only the review extension provides one)."""
        return None
