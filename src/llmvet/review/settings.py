"""The review queue's settings: LLMVET_REVIEW_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMVET_REVIEW_", extra="ignore")
    webhook_url: str = Field("", description="POSTed (signed) on every decision; empty = no webhook")
    webhook_secret: str = Field("", description="HMAC-SHA256 key for the x-llmvet-signature header")
    lease_seconds: float = Field(300.0, gt=0, description="how long a reviewer holds an item they opened")
    poll_interval: float = Field(
        2.0, gt=0, description="how often a held request reads the store for a decision it was not told of (fallback)"
    )
    wake_ups: bool = Field(
        True, description="decisions wake held requests on every replica (Redis pub/sub); off: polling only"
    )
    session_hours: float = Field(12.0, gt=0)
    keep_days: float = Field(30.0, gt=0, description="decided items stay in the history this long (audit: for good)")
