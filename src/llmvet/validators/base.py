"""The validator contract: what a validator receives, and what it returns.

A validator inspects one answer and returns a `Verdict`. It never chooses an action: the policy
engine turns verdicts into decisions. Validators know no HTTP server; everything they need at run
time (store, HTTP session for lookups, thread pool, embedding model) comes through `ctx.resources`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from llmvet import text as parse
from llmvet.json_escapes import Unescaped, unescape
from llmvet.text import CodeBlock, Sentence

if TYPE_CHECKING:  # imported for type hints only; validators never import the proxy
    from llmvet.resources import Resources

Severity = Literal["info", "low", "medium", "high"]

# The kinds of part an answer has (see llmvet.proxy.wires): a validator reads the kinds in `reads`.
# "error": an upstream error's text (4xx/5xx body), which the SDKs put in the exception an app shows.
# "extra": keys the format does not define (a vendor's, or a hostile upstream's), as JSON text.
PartKind = Literal["content", "refusal", "reasoning", "tool_name", "tool_arguments", "error", "extra"]
ALL_PARTS: frozenset[PartKind] = frozenset(
    ("content", "refusal", "reasoning", "tool_name", "tool_arguments", "error", "extra")
)
PROSE: frozenset[PartKind] = frozenset(("content",))

# How a validator checks a stream released incrementally (stream.mode: incremental):
#   segment  checks complete segments as they arrive; text is released once every segment check cleared it
#   whole    lets text through and decides at the end (annotate, append, or stop the stream)
#   buffer   needs the whole answer before any of it is released (the default for plug-ins)
StreamMode = Literal["segment", "whole", "buffer"]
# A segment validator whose next window may start before its release point (to re-read a code block's
# fence) puts that position in its stream state under this key, so the proxy keeps the text from there.
KEEP_FROM = "keep_from"


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
    # Evidence for the audit log only (e.g. the pattern that matched, or an opted-in full match):
    # never in client bodies, headers or the review queue, which get `to_dict()`.
    audit_evidence: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # the policy entry's `id` (set by the engine; two instances of one validator differ)

    def to_dict(self, *, audit: bool = False) -> dict[str, Any]:
        """The finding as JSON; `audit=True` (the audit log's form) adds `audit_evidence`."""
        evidence = {**self.evidence, **self.audit_evidence} if audit and self.audit_evidence else self.evidence
        return {
            "validator": self.validator,
            "id": self.id or self.validator,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "risk": round(self.risk, 4),
            "span": list(self.span) if self.span else None,
            "evidence": evidence,
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


def at_raw_spans(findings: list[Finding], view: Unescaped) -> list[Finding]:
    """`findings` with their spans in `view.text` (`Context.unescaped`, or a validator's own view of
    JSON text) mapped back into the raw text the client receives."""
    if view.starts is None:
        return findings
    return [f if f.span is None else dataclasses.replace(f, span=view.raw_span(*f.span)) for f in findings]


class ReaskUnavailable(RuntimeError):
    """Raised by `Context.reask` when there is no upstream (e.g. `llmvet scan`)."""


@dataclass(slots=True)
class ReaskResult:
    texts: list[str]
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens / completion_tokens / total_tokens


# A re-ask function the proxy provides: (extra body fields, replacement messages or None, n) -> result.
ReaskFn = Callable[[dict[str, Any], list[dict[str, Any]] | None, int], Awaitable[ReaskResult]]


T = TypeVar("T")


class _read_once(Generic[T]):
    """`functools.cached_property` without the lock Python 3.11 takes on each first read: about
    0.4 us a property, and a packages check reads two. A Context is read by the task checking it
    (two threads computing one value at once would store equal values)."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute, self.name = compute, compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _read_once[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | _read_once[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)  # (later reads find it there, not here)
        return value


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
    part: str = "content"  # which part of the answer `text` is: content, refusal, tool_call:NAME...
    part_kind: PartKind = "content"
    choice: int = 0  # which choice (`n`) it belongs to
    # `text` is what a stream has sent so far (a segment check): a code fence still open runs to its end.
    partial: bool = False
    # Segment checks of a stream: this validator's state for the part (the dict `stream_window` keeps),
    # e.g. for what earlier text said that a window needs (a file the answer defines).
    stream_state: dict[str, Any] | None = None
    # What this validator's `stream_start` began when the request arrived (an awaitable), if anything.
    early: Any = None

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

    @_read_once
    def unescaped(self) -> Unescaped:
        """The text as the app's JSON parser will read it: tool-call arguments with their string
        escapes undone (`raw_span` maps a span back into `text`); any other part as it is."""
        return unescape(self.text) if self.part_kind == "tool_arguments" else Unescaped(self.text)

    @_read_once
    def _fences(self) -> list[tuple[int, int, str, int, int]]:
        return parse.find_fences(self.text, open_ended=self.partial)

    @_read_once
    def code_blocks(self) -> list[CodeBlock]:
        return parse.code_blocks(self.text, self._fences)

    @_read_once
    def prose_spans(self) -> list[tuple[int, int]]:
        """Spans of the text outside fenced code blocks."""
        return parse.prose_spans(self.text, self._fences)

    @_read_once
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
    - `reads`: the kinds of answer part it is shown (message content, refusals, reasoning, tool-call
      names and arguments); each part is checked on its own, with `ctx.part` naming it.
      `whole_in_streams`: the kinds a segment validator checks only whole in a stream (held to the end).
    - `stream_mode()` and, for "segment" validators, `stream_boundary(text, state)`: how the
      validator checks a stream released as it arrives (see StreamMode). A segment validator returns
      the end of the last complete segment of the text so far; `check` then sees each new run of
      complete segments on its own, so a segment must never need text beyond its own boundary.
      Optional: `stream_ahead(text, state, resources)`, called as text arrives, starts slow work (e.g.
      registry lookups) for what is already complete in the segment still being written.
    - `stream_start(ctx)`: optional, for "whole" validators: work that needs only the request (e.g.
      re-asks), begun when an incremental stream starts so it runs beside the stream; its awaitable
      reaches `check` as `ctx.early` (the proxy cancels it if the stream ends first).
    - `warm_up(resources)`: optional; the proxy calls it once at start-up (beside serving; /readyz
      reports "warming" until it returns) to load expensive shared state such as a model.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[ValidatorConfig]] = ValidatorConfig
    # Which parts of an answer the validator reads. Every part by default: text a validator never sees
    # would reach the client unvetted. Prose-only validators (uncertainty) narrow it.
    reads: ClassVar[frozenset[PartKind]] = ALL_PARTS
    # Kinds of part a segment validator checks once, whole, when a stream's part ends (its windows
    # make no sense there: tool-call arguments are JSON text the app reads only once it is complete).
    whole_in_streams: ClassVar[frozenset[PartKind]] = frozenset()

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

    def stream_mode(self) -> StreamMode:
        """How this validator checks an incremental stream (safe default: hold everything)."""
        return "buffer"

    def stream_start(self, ctx: Context) -> Awaitable[Any] | None:
        """Whole-answer validators: start request-only work now (ctx.text is empty); None: nothing to start."""
        return None

    def stream_boundary(self, text: str, state: dict[str, Any]) -> int:
        """Segment validators: the end of the last complete segment in `text` (which only grows
        between calls; `state` is this stream-and-part's scratch space, for linear-time scans)."""
        return 0

    def stream_clean(self, text: str) -> bool:
        """Segment validators may answer cheaply that nothing in a window can fail (then `check` is
        not called for it): a stream is checked window by window, often word by word."""
        return False

    def stream_window(self, text: str, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
        """Segment validators: (check from, check to, release up to). The proxy checks
        `text[from:to]` on its own, keeps the findings that start before `release` (each once), and
        lets the client have text up to `release`. By default segments end at `stream_boundary`; a
        validator whose matches may run past a boundary checks further than it releases."""
        end = len(text) if final else self.stream_boundary(text, state)
        return cleared, end, end
