"""The packages validator's finding codes, and how loud each is: one table, read by judge and config."""

from __future__ import annotations

from llmvet.validators.base import Severity

# (finding code, case) -> (severity, risk). Case "" is the code's only or usual grade.
# The order of first appearance of each code is the order of CODES (and of error messages).
GRADES: dict[tuple[str, str], tuple[Severity, float]] = {
    ("package.missing", ""): ("high", 0.9),
    ("package.version_missing", ""): ("high", 0.75),
    ("package.placeholder", ""): ("high", 0.85),
    ("package.recent", "young"): ("medium", 0.6),
    ("package.recent", "registered_after_missing"): ("high", 0.85),
    ("package.lookalike", ""): ("high", 0.8),
    ("package.unknown_import", ""): ("low", 0.35),
    ("package.unknown_import", "optional"): ("low", 0.2),  # try/except ImportError: often a fallback
    ("package.not_checked", ""): ("info", 0.05),
    ("package.denied", ""): ("high", 0.95),
    ("package.private_unresolved", ""): ("high", 0.9),
    ("package.unverified", "max_references"): ("low", 0.1),
    ("package.unverified", "unreachable"): ("low", 0.1),  # registry_unreachable: open
    ("package.unverified", "unreachable_closed"): ("high", 0.7),
    ("package.unverified", "other_index"): ("low", 0.2),
}
CODES: tuple[str, ...] = tuple(dict.fromkeys(code for code, _ in GRADES))
DEFAULT_FAIL_ON = [
    "package.missing",
    "package.version_missing",
    "package.placeholder",
    "package.lookalike",
    "package.denied",
    "package.private_unresolved",
]

__all__ = ["CODES", "DEFAULT_FAIL_ON", "GRADES"]
