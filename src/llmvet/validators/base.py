"""The validator contract: what a validator receives, and what it returns.

A validator inspects one answer and returns a `Verdict`. It never chooses an action: the policy
engine turns verdicts into decisions. Validators know no HTTP server; everything they need at run
time (store, HTTP session for lookups, thread pool, embedding model) comes through `ctx.resources`.
"""

from __future__ import annotations

import enum
import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "validator": self.validator,
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

# Fences are found in two linear passes: a single regex re-scanned to the end of the text for every
# unclosed opener (quadratic: 40 KB of "```a" lines held the event loop for 5 s).
_FENCE_OPEN = re.compile(r"^[ \t]*(```|~~~)([^\n`]*)\n", re.M)
_FENCE_CLOSE = re.compile(r"^[ \t]*(```|~~~)[ \t]*$", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])|\n{2,}|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


@dataclass(slots=True)
class CodeBlock:
    language: str  # fence info string, lower-cased, may be ""
    code: str
    span: tuple[int, int]  # span of `code` inside the answer text


@dataclass(slots=True)
class Sentence:
    text: str
    span: tuple[int, int]


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
        return prompt_text(self.request)

    @cached_property
    def _fences(self) -> list[tuple[int, int, str, int, int]]:
        return _find_fences(self.text)

    @cached_property
    def code_blocks(self) -> list[CodeBlock]:
        return [CodeBlock(info.strip().lower(), self.text[a:b], (a, b)) for _, _, info, a, b in self._fences]

    @cached_property
    def prose_spans(self) -> list[tuple[int, int]]:
        """Spans of the text outside fenced code blocks."""
        spans, pos = [], 0
        for start, end, _, _, _ in self._fences:
            if start > pos:
                spans.append((pos, start))
            pos = end
        if pos < len(self.text):
            spans.append((pos, len(self.text)))
        return spans

    @cached_property
    def sentences(self) -> list[Sentence]:
        """Sentences of the prose (code blocks skipped), with their spans."""
        out: list[Sentence] = []
        for start, end in self.prose_spans:
            chunk = self.text[start:end]
            pos = 0
            for m in _SENTENCE_END.finditer(chunk):
                _add_sentence(out, chunk, pos, m.start(), start)
                pos = m.end()
            _add_sentence(out, chunk, pos, len(chunk), start)
        return out


def _find_fences(text: str) -> list[tuple[int, int, str, int, int]]:
    """(block start, block end, info string, code start, code end) per fenced block, in linear time.

    An opener that is never closed is not a block (its lines stay prose).
    """
    closers: dict[str, list[tuple[int, int]]] = {"```": [], "~~~": []}
    for m in _FENCE_CLOSE.finditer(text):
        closers[m.group(1)].append((m.start(), m.end()))
    starts = {k: [s for s, _ in v] for k, v in closers.items()}
    out: list[tuple[int, int, str, int, int]] = []
    pos = 0
    for m in _FENCE_OPEN.finditer(text):
        if m.start() < pos:
            continue  # inside the block just found
        marker = m.group(1)
        i = bisect_left(starts[marker], m.end())
        if i == len(starts[marker]):
            continue
        close_start, close_end = closers[marker][i]
        out.append((m.start(), close_end, m.group(2), m.end(), close_start))
        pos = close_end
    return out


def _add_sentence(out: list[Sentence], chunk: str, a: int, b: int, offset: int) -> None:
    piece = chunk[a:b]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        s = offset + a + lead
        out.append(Sentence(stripped, (s, s + len(stripped))))


def prompt_text(request: dict[str, Any]) -> str:
    if "messages" in request:
        for msg in reversed(request.get("messages") or []):
            if msg.get("role") == "user":
                return content_text(msg.get("content"))
        return ""
    if "input" in request:
        inp = request["input"]
        if isinstance(inp, str):
            return inp
        for item in reversed(inp or []):
            if isinstance(item, dict) and item.get("role", "user") == "user":
                return content_text(item.get("content"))
        return ""
    p = request.get("prompt", "")
    return p if isinstance(p, str) else " ".join(map(str, p))


def content_text(content: Any) -> str:
    """Text of an OpenAI message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class ValidatorConfig(BaseModel):
    """Base for a validator's settings; unknown keys are errors so typos in policies are caught."""

    model_config = ConfigDict(extra="forbid")


class Validator:
    """Subclass this (or match its shape) to add a validator.

    - `name`: how policies refer to it.
    - `Config`: a pydantic model of its settings (`llmvet policy schema` prints its JSON Schema).
    - `check(ctx)`: inspect one answer, return a Verdict. Must not block the event loop: CPU-heavy
      work goes to `ctx.resources.run_cpu(...)`.
    - `prepare_request(body, route)`: optional request-side rule (e.g. add an instruction).
    - `problems()`: optional start-up self-check (e.g. an optional dependency is missing); each string
      is reported by `llmvet policy check` against this validator's entry.
    - `async warm_up(resources)`: optional; the proxy calls it once at start-up (beside serving; /readyz
      reports "warming" until it returns) to load expensive shared state such as a model.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[ValidatorConfig]] = ValidatorConfig

    def __init__(self, config: ValidatorConfig) -> None:
        self.config = config

    async def check(self, ctx: Context) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError

    def prepare_request(self, body: dict[str, Any], route: str) -> dict[str, Any]:
        return body

    def problems(self) -> list[str]:
        return []
