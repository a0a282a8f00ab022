"""Carry validator instances over from the serving policy to a reloaded one when nothing about them changed.

A validator may hold expensive state (a model, a registry cache); a reload that did not touch its
settings keeps the instance, so the new policy starts warm. Matched by rule name + validator label +
the validator's name and its `with:` settings.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmvet.policy.loader import CompiledValidator, Policy


def _key(rule: str, cv: CompiledValidator) -> tuple[str, str, str, bytes]:
    settings = orjson.dumps(cv.ref.with_, option=orjson.OPT_SORT_KEYS, default=str)
    return rule, cv.label, cv.ref.use, settings


def reuse_validators(new: Policy, old: Policy) -> list[CompiledValidator]:
    """Swap into `new` the instances of `old` with the same key; returns the validators that are new."""
    kept: dict[tuple[str, str, str, bytes], Any] = {
        _key(rule.name, cv): cv.instance for rule in old.rules for cv in rule.validators
    }
    fresh: list[CompiledValidator] = []
    for rule in new.rules:
        for cv in rule.validators:
            instance = kept.get(_key(rule.name, cv))
            if instance is not None:
                cv.instance = instance
            else:
                fresh.append(cv)
    return fresh
