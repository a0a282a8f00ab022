"""Validators by name: the built-ins, plus any registered under the entry-point group `llmvet.validators`."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from llmvet.validators.base import Validator

ENTRY_POINT_GROUP = "llmvet.validators"

# Imported lazily so a validator with heavy optional dependencies costs nothing until a policy uses it.
BUILTINS: dict[str, str] = {
    "regex": "llmvet.validators.regex:RegexValidator",
    "packages": "llmvet.validators.packages:PackagesValidator",
    "consistency": "llmvet.validators.consistency:ConsistencyValidator",
    "uncertainty": "llmvet.validators.uncertainty:UncertaintyValidator",
}


class UnknownValidator(LookupError):
    pass


@cache
def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    return sorted(set(BUILTINS) | set(_plugins()))


def load(name: str) -> type[Validator[Any]]:
    """The validator class registered as `name`; raises UnknownValidator with the known names."""
    if name in BUILTINS:
        module, _, attr = BUILTINS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    ep = _plugins().get(name)
    if ep is None:
        raise UnknownValidator(f"unknown validator {name!r}; known: {', '.join(available())}")
    cls: type[Validator[Any]] = ep.load()  # a plugin's class is trusted to follow the contract
    return cls
