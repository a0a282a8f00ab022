"""Validators: the contract in `base`, the built-ins one module each, lookup by name in `registry`."""

from llmvet.validators.base import Context, Finding, Status, Validator, ValidatorConfig, Verdict

__all__ = ["Context", "Finding", "Status", "Validator", "ValidatorConfig", "Verdict"]
