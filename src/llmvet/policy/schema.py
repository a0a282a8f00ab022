"""The policy file's schema. Unknown fields are errors, so a typo never silently disables a rule."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Action = Literal["allow", "annotate", "append", "reask", "block", "escalate"]
Route = Literal["chat.completions", "completions", "responses"]
ROUTES: tuple[Route, ...] = ("chat.completions", "completions", "responses")
FailMode = Literal["open", "closed"]

# How strongly an action overrides another when several validators fail: the strictest wins.
SEVERITY: dict[str, int] = {"allow": 0, "annotate": 1, "append": 2, "reask": 3, "escalate": 4, "block": 5}

DEFAULT_REASK_FEEDBACK = (
    "Your previous answer had problems found by an automated review:\n{findings}\n"
    "Please answer again, fixing these problems."
)
DEFAULT_APPEND_TEXT = (
    "\n\nNote (added by llmvet): this answer did not pass automated review; verify it before relying on it."
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ValidatorRef(Strict):
    use: str = Field(description="validator name (built-in or from the llmvet.validators entry point group)")
    id: str | None = Field(None, description="label for this entry in findings; defaults to `use`")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="the validator's own settings")
    timeout: float = Field(10.0, gt=0, le=600, description="seconds before the check counts as an error")
    sample_rate: float = Field(1.0, ge=0, le=1, description="fraction of responses this validator checks")
    on_fail: Action | None = Field(None, description="action when it fails (default: the rule's on_fail)")
    on_error: FailMode | None = Field(None, description="fail open or closed on error (default: the rule's)")

    @property
    def label(self) -> str:
        return self.id or self.use


class Match(Strict):
    keys: list[str] = Field(default_factory=lambda: ["*"], description="key labels (from `keys:`) or globs")
    models: list[str] = Field(default_factory=lambda: ["*"], description="model name globs")
    routes: list[Route] = Field(default_factory=lambda: list(ROUTES))


class ReaskSettings(Strict):
    attempts: int = Field(1, ge=1, le=5)
    feedback: str = DEFAULT_REASK_FEEDBACK
    fallback: Action = "block"

    @field_validator("fallback")
    @classmethod
    def _fallback_not_reask(cls, v: str) -> str:
        if v == "reask":
            raise ValueError("fallback cannot be reask (it applies once re-asks are used up)")
        return v

    @field_validator("feedback")
    @classmethod
    def _feedback_has_findings(cls, v: str) -> str:
        try:
            v.format(findings="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"feedback may only use the placeholder {{findings}} ({exc})") from None
        return v


class BlockSettings(Strict):
    status: int = Field(422, ge=400, le=599)
    message: str = "The response was blocked by policy"


class EscalateSettings(Strict):
    mode: Literal["hold", "defer"] = "hold"
    timeout: float = Field(300.0, gt=0, le=86400)
    on_timeout: Literal["allow", "annotate", "block"] = "block"


class AppendSettings(Strict):
    text: str = DEFAULT_APPEND_TEXT


class StreamSettings(Strict):
    # auto: incremental, unless the rule can reask or escalate (those need the answer held back whole).
    # incremental: release text as it arrives, up to what every segment check has cleared; whole-answer
    #   checks decide at the end (annotate, append, or stop the stream with finish_reason content_filter).
    # buffer: validate before the first byte reaches the client.
    # passthrough: stream as it arrives; validate afterwards for the audit log only.
    mode: Literal["auto", "incremental", "buffer", "passthrough"] = "auto"
    keepalive: float = Field(15.0, gt=0, description="seconds between SSE keep-alive comments while a stream waits")


# Actions that cannot be honoured once part of an answer has gone out to the client.
HELD_ONLY_ACTIONS = frozenset({"reask", "escalate"})


class Rule(Strict):
    name: str
    description: str = ""
    match: Match = Field(default_factory=Match)
    validators: list[ValidatorRef] = Field(default_factory=list)
    on_fail: Action = "annotate"
    on_error: FailMode = "open"
    reask: ReaskSettings = Field(default_factory=ReaskSettings)
    block: BlockSettings = Field(default_factory=BlockSettings)
    escalate: EscalateSettings = Field(default_factory=EscalateSettings)
    append: AppendSettings = Field(default_factory=AppendSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)

    def actions(self) -> set[str]:
        """Every action a failing validator of this rule can lead to (re-ask fallbacks included)."""
        out: set[str] = {self.on_fail, *(v.on_fail for v in self.validators if v.on_fail)}
        return out | {self.reask.fallback} if "reask" in out else out

    def stream_mode(self) -> str:
        """The mode a streamed answer gets: `auto` is incremental unless an action needs the answer held."""
        if self.stream.mode != "auto":
            return self.stream.mode
        return "buffer" if self.actions() & HELD_ONLY_ACTIONS else "incremental"


class KeyEntry(Strict):
    label: str
    key_sha256: list[str] = Field(default_factory=list, description="sha256 hex digests of client API keys")
    key_env: list[str] = Field(default_factory=list, description="environment variables holding client API keys")
    upstream_key_env: str | None = Field(None, description="send this env var's key upstream instead of the client's")


class PolicyFile(Strict):
    version: Literal[1] = 1
    name: str = "policy"
    description: str = ""
    keys: list[KeyEntry] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
