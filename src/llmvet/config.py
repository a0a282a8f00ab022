"""Settings: command-line flags override LLMVET_* environment variables, which override defaults."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmvet.logs import LogFormat
from llmvet.policy.loader import DEFAULT_POLICY

__all__ = ["DEFAULT_POLICY", "DEFAULT_STORE", "Settings"]
DEFAULT_STORE = "sqlite:///.llmvet/llmvet.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMVET_", extra="ignore")

    upstream: str = Field("", description="base URL of the real OpenAI-compatible API, e.g. https://host/v1")
    policy: Path = Field(DEFAULT_POLICY, description="policy YAML file")
    store: str = Field(DEFAULT_STORE, description="sqlite:///path or redis://host:port/db")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="larger request bodies get HTTP 413")
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="larger request headers (all of them together) get HTTP 431"
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        description="proxies in front of llmvet whose X-Forwarded-For entries are kept; the client's own are dropped",
    )
    upstream_connect_timeout: float = Field(10.0, gt=0)
    upstream_read_timeout: float = Field(600.0, gt=0, description="seconds of upstream silence before HTTP 504")
    upstream_total_timeout: float | None = Field(
        None,
        gt=0,
        description="seconds for a whole upstream answer, streamed or not (unset: no limit; an upstream that "
        "trickles a byte now and then is bounded only by upstream_read_timeout per silence)",
    )
    upstream_max_connections: int = Field(512, ge=1)
    upstream_max_body_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="larger upstream answers (and stream events) llmvet reads whole get HTTP 502",
    )
    internal_token: str = Field(
        default_factory=lambda: secrets.token_hex(16),
        description="marks llmvet's own re-asks; set the same value on chained proxies so they skip them",
    )
    admin_token: str = Field(
        "",
        description="bearer token for the admin endpoints (policy reload); empty: those endpoints answer 404",
    )
    shadow_policy: Path | None = Field(
        None, description="candidate policy run beside the enforced one on the same answers, never enforced"
    )
    shadow_max_pending: int = Field(
        64, ge=1, description="shadow checks waiting or running at once; more are dropped (and counted)"
    )
    policy_watch: float = Field(
        0.0, ge=0, description="seconds between checks of the policy files for changes, reloading on one (0: off)"
    )
    policy_heartbeat_interval: float = Field(
        5.0, gt=0, description="seconds between publishing the policy this replica serves to the store"
    )
    policy_disagree_warn: float = Field(
        120.0, ge=0, description="`llmvet report` warns when live replicas serve different policies longer than this"
    )
    audit: bool = Field(True, description="write an audit record for every vetted response")
    audit_journal: str = Field(
        "",
        description="folder of the write-ahead audit journal, kept across restarts (a local volume; the "
        "processes of one machine may share it); default: <user state folder>/llmvet/journal; `off`: no "
        "journal (a crash loses the records of the last 0.2 s)",
    )
    audit_journal_fsync: bool = Field(
        False, description="fdatasync the journal after every record: survives a power loss, costs a disk flush each"
    )
    audit_keep_days: float = Field(0.0, ge=0, description="delete audit records older than this (0: keep all)")
    audit_max_records: int = Field(0, ge=0, description="keep only the newest N audit records (0: no limit)")
    audit_retention_interval: float = Field(600.0, gt=0, description="seconds between audit retention runs")
    audit_keep_text: str = Field(
        "off",
        description="keep answer text for `llmvet policy replay`: `off`, or `sample RATE` (0 < RATE <= 1), "
        "secrets found by regex rules redacted first",
    )
    audit_text_keep_days: float = Field(7.0, gt=0, description="days a kept answer text lives in the store")
    drain_timeout: float = Field(
        30.0,
        ge=0,
        description="on SIGTERM, seconds in-flight requests get to finish; held ones get a pending answer sooner",
    )
    log_level: str = "info"
    log_format: LogFormat = Field("text", description="text, or json: one JSON object per log line (uvicorn's too)")
    access_log: bool = Field(False, description="one log line per HTTP request (uvicorn's access log)")

    @field_validator("upstream")
    @classmethod
    def _upstream_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {v!r}")
        return v

    @field_validator("audit_keep_text")
    @classmethod
    def _keep_text(cls, v: str) -> str:
        keep_text_rate(v)  # raises ValueError with the accepted forms
        return v.strip()

    @property
    def journal_folder(self) -> Path | None:
        """The audit journal's folder, None when it is off."""
        value = self.audit_journal.strip()
        if value.lower() == "off":
            return None
        if value:
            return Path(value)
        import platformdirs

        return platformdirs.user_state_path("llmvet") / "journal"

    @property
    def upstream_base(self) -> str:
        """The upstream's API root; a bare host gets the usual /v1 suffix."""
        from urllib.parse import urlparse

        return self.upstream if urlparse(self.upstream).path not in ("", "/") else self.upstream + "/v1"


def keep_text_rate(value: str) -> float:
    """The share of answers whose text the audit keeps: `off` is 0, `sample RATE` is RATE."""
    words = value.strip().lower().split()
    if words == ["off"] or not words:
        return 0.0
    if len(words) == 2 and words[0] == "sample":
        try:
            rate = float(words[1])
        except ValueError:
            rate = -1.0
        if 0 < rate <= 1:
            return rate
    raise ValueError(f"audit_keep_text must be `off` or `sample RATE` with 0 < RATE <= 1, got {value!r}")
