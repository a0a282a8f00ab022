"""The validator contract: what a validator receives, and what it returns.

A validator inspects one answer and returns a `Verdict`. It never chooses an action: the policy
engine turns verdicts into decisions. Validators know no HTTP server; everything they need at run
time (store, HTTP session for lookups, thread pool, embedding model) comes through `ctx.resources`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from llmvet import text as parse
from llmvet.text import CodeBlock, Sentence

if TYPE_CHECKING:  # imported for type hints only; validators never import the proxy
    from llmvet.resources import Resources

Severity = Literal["info", "low", "medium", "high"]


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(slots=True)
class Finding:
    """One thing a validator noticed, pointing at the exact characters of the answer."""

    validator: str
    code: str  # stable machine-readable kind, e.g. "package.missing", "regex.must_not_match"
    message: str  # one line a reviewer can read
    severity: Severity = "medium"
    risk: float = 0.5  # in [0, 1]
    span: tuple[int, int] | None = None  # [start, end) character offsets into ctx.text
    evidence: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # the policy entry's `id` (set by the engine; two instances of one validator differ)

    def to_dict(self) -> dict[str, Any]:
        return {
            "validator": self.validator,
            "id": self.id or self.validator,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "risk": round(self.risk, 4),
            "span": list(self.span) if self.span else None,
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class Verdict:
    status: Status
    risk: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    # Free-form extras for the audit record (e.g. extra tokens a validator spent re-asking).
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def passed(cls, findings: list[Finding] | None = None, risk: float = 0.0, **meta: Any) -> Verdict:
        return cls(Status.PASSED, risk, findings or [], meta)

    @classmethod
    def failed(cls, findings: list[Finding], risk: float | None = None, **meta: Any) -> Verdict:
        if risk is None:
            risk = max((f.risk for f in findings), default=1.0)
        return cls(Status.FAILED, risk, findings, meta)

    @classmethod
    def errored(cls, error: str, **meta: Any) -> Verdict:
        return cls(Status.ERROR, 0.0, [], meta, error)


class ReaskUnavailable(RuntimeError):
    """Raised by `Context.reask` when there is no upstream (e.g. `llmvet scan`)."""


@dataclass(slots=True)
class ReaskResult:
    texts: list[str]
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens / completion_tokens / total_tokens


# A re-ask function the proxy provides: (extra body fields, replacement messages or None, n) -> result.
ReaskFn = Callable[[dict[str, Any], list[dict[str, Any]] | None, int], Awaitable[ReaskResult]]


@dataclass
class Context:
    """Everything a validator may look at for one answer."""

    text: str  # the answer text under test
    request: dict[str, Any] = field(default_factory=dict)  # the (parsed) request body sent upstream
    route: str = "chat.completions"  # chat.completions | completions | responses | scan
    model: str = ""
    key_label: str | None = None  # the policy's label for the client's API key, if any
    key_hash: str | None = None  # short hash of the client's key; never the key itself
    policy: str = ""  # name of the policy deciding this answer (e.g. for per-policy allowlists in the store)
    request_id: str = ""
    resources: Resources | None = None
    reask_fn: ReaskFn | None = None

    async def reask(
        self, body_overrides: dict[str, Any] | None = None, messages: list[dict[str, Any]] | None = None, n: int = 1
    ) -> ReaskResult:
        """Ask the upstream again (the proxy marks these calls so it never validates them)."""
        if self.reask_fn is None:
            raise ReaskUnavailable("no upstream to re-ask in this context")
        return await self.reask_fn(body_overrides or {}, messages, n)

    @property
    def prompt(self) -> str:
        """The user's last message (chat), prompt (completions) or input (responses), as text."""
        return parse.prompt_text(self.request)

    @cached_property
    def _fences(self) -> list[tuple[int, int, str, int, int]]:
        return parse.find_fences(self.text)

    @cached_property
    def code_blocks(self) -> list[CodeBlock]:
        return parse.code_blocks(self.text, self._fences)

    @cached_property
    def prose_spans(self) -> list[tuple[int, int]]:
        """Spans of the text outside fenced code blocks."""
        return parse.prose_spans(self.text, self._fences)

    @cached_property
    def sentences(self) -> list[Sentence]:
        """Sentences of the prose (code blocks skipped), with their spans."""
        return parse.sentences(self.text, self.prose_spans)


class ValidatorConfig(BaseModel):
    """Base for a validator's settings; unknown keys are errors so typos in policies are caught."""

    model_config = ConfigDict(extra="forbid")


ConfigT = TypeVar("ConfigT", bound=ValidatorConfig)


class Validator(Generic[ConfigT]):
    """Subclass this (or match its shape) to add a validator: `class Mine(Validator[MineConfig])`.

    - `name`: how policies refer to it.
    - `Config`: a pydantic model of its settings (`llmvet policy schema` prints its JSON Schema).
    - `check(ctx)`: inspect one answer, return a Verdict. Must not block the event loop: CPU-heavy
      work goes to `ctx.resources.run_cpu(...)`.
    - `prepare_request(body, route)`: optional request-side rule (e.g. add an instruction).
    - `problems()`: optional start-up self-check (e.g. an optional dependency is missing); each string
      is reported by `llmvet policy check` against this validator's entry.
    - `warm_up(resources)`: optional; the proxy calls it once at start-up (beside serving; /readyz
      reports "warming" until it returns) to load expensive shared state such as a model.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[ValidatorConfig]] = ValidatorConfig

    def __init__(self, config: ConfigT) -> None:
        self.config: ConfigT = config

    async def check(self, ctx: Context) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError

    def prepare_request(self, body: dict[str, Any], route: str) -> dict[str, Any]:
        return body

    def problems(self) -> list[str]:
        return []

    async def warm_up(self, resources: Resources) -> None:
        """Load expensive shared state once (default: nothing to load)."""
