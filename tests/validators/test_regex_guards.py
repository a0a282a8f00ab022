"""The regex validator under attack: linear-time patterns, refused constructs, no secret in findings."""

import hashlib
import re

import pytest

from llmvet.policy.loader import BUNDLED_POLICIES, PolicyError, load_policy, parse_policy
from llmvet.validators.base import Context, Status
from llmvet.validators.regex import RegexValidator


async def check(text, **config):
    return await RegexValidator(RegexValidator.Config(**config)).check(Context(text=text))


async def test_catastrophic_backtracking_pattern_runs_in_linear_time():
    # Python's re needs ~8 s on the 54-character answer and doubles per extra character: the
    # 80-character one would take days. RE2 answers both at once (a hang fails the suite's timeout).
    for text in ["a" * 53 + "!", "word " * 15 + "the end!", "x" * 200_000 + "!"]:
        verdict = await check(text, must_not_match=[r"^(\w+\s?)+$"], must_match=[r"^(\w+\s?)+$"])
        assert verdict.status is Status.FAILED
        assert [f.code for f in verdict.findings] == ["regex.must_match"]  # no match, as re would say
    verdict = await check("a" * 53, must_not_match=[r"^(\w+\s?)+$"])
    assert verdict.findings[0].span == (0, 53)


CASES = [
    (r"SECRET-[0-9]+", "a SECRET-1 b SECRET-22 c", False),
    (r"(?i)\bguaranteed\b", "Results GUARANTEED, guaranteedly, guaranteed.", False),
    (r"guaranteed", "GuArAnTeEd and guaranteed", True),
    (r"AKIA[0-9A-Z]{16}", "key=AKIAABCDEFGHIJKLMNOP; é AKIA0000000000000000", False),
    (r"é+", "café ééé e", False),
    (r"^\s*#.*$", "# only line", False),
    (r"(?m)^- .+$", "- one\ntext\n- two", False),
    (r"[a-z]+@[a-z]+\.com", "mail bob@example.com or ann@test.com", False),
    # \w \d \s mean what they mean in Python (Unicode), in and out of [...]
    (r"password:\s*\w+", "password:\u3000пароль123 and password: naïve_1", False),
    (r"\d+", "order ١٢٣ and ४५ and 67", False),
    (r"[\w.-]+@[\w.-]+", "écrire à josé.garcía@correo.es", False),
    (r"\W+", "café-ümlaut\u00a0b", False),
    (r"\S+", "x\u2028y\x0bz", False),
    (r"[^\s]+\D", "ab٣٣\u3000cd", False),
    (r"a\\w[]x]", r"a\w] a\wx", False),  # an escaped backslash, "]" first in a class
]


@pytest.mark.parametrize("pattern,text,ignore_case", CASES)
async def test_findings_and_spans_are_those_pythons_re_finds(pattern, text, ignore_case):
    flags = re.IGNORECASE if ignore_case else 0
    expected = [(m.start(), m.end()) for m in re.finditer(pattern, text, flags)]
    verdict = await check(text, must_not_match=[pattern], ignore_case=ignore_case)
    assert expected and [f.span for f in verdict.findings] == expected


@pytest.mark.parametrize(
    "pattern,construct",
    [(r"(a)\1", r"\1"), (r"(?=secret)", "(?="), (r"(?<!x)key", "(?<!"), (r"(?P<n>a)(?P=n)", "(?P")],
)
def test_constructs_re2_refuses_are_policy_errors_with_file_line_field(pattern, construct):
    policy = f"""version: 1
rules:
  - name: r
    validators:
      - use: regex
        with:
          must_not_match:
            - "ok"
            - '{pattern}'
"""
    with pytest.raises(PolicyError) as info:
        parse_policy(policy, "p.yaml")
    (problem,) = info.value.problems
    line = str(problem)
    assert line.startswith("p.yaml:9: rules[0].validators[0].with.must_not_match[1]: ")
    assert construct in line and "RE2" in line and "lookaround" in line


def test_bundled_policies_still_load():
    files = sorted(BUNDLED_POLICIES.glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        assert load_policy(path).rules


def _redacted(secret: str) -> str:
    shown = secret[: min(4, len(secret) // 4)]
    return f"{shown}…[{len(secret)} chars, sha256:{hashlib.sha256(secret.encode()).hexdigest()[:8]}]"


async def test_findings_quote_no_secret_and_no_pattern():
    key = "AKIAIOSFODNN7EXAMPLE"
    verdict = await check(f"use {key} now", must_not_match=[r"AKIA[0-9A-Z]{16}"], must_match=["SAFE-[0-9]+"])
    forbidden, required = verdict.findings
    client_view = repr([f.to_dict() for f in verdict.findings])
    assert key not in client_view and "AKIA[0-9A-Z]" not in client_view and "SAFE-" not in client_view
    assert forbidden.evidence["match"] == _redacted(key) and _redacted(key).startswith("AKIA…[20 chars, sha256:")
    assert forbidden.message == f"matches forbidden pattern must_not_match[0]: {_redacted(key)}"
    assert required.message == "does not match required pattern must_match[0]"
    # The audit log's form names the pattern, still not the secret.
    audit = forbidden.to_dict(audit=True)["evidence"]
    assert audit["pattern"] == r"AKIA[0-9A-Z]{16}" and key not in repr(audit)


async def test_short_matches_show_at_most_a_quarter_of_themselves():
    verdict = await check("pin 4821", must_not_match=[r"\d{4}"])
    assert verdict.findings[0].evidence["match"].startswith("4…[4 chars")
    verdict = await check("a-b", must_not_match=["a-b"])
    assert verdict.findings[0].evidence["match"].startswith("…[3 chars")


async def test_audit_full_match_keeps_the_match_in_the_audit_form_only():
    key = "ghp_" + "x" * 36
    verdict = await check(f"token {key}", must_not_match=["ghp_[a-z]+"], audit_full_match=True)
    (finding,) = verdict.findings
    assert key not in repr(finding.to_dict()) and key not in finding.message
    assert finding.to_dict(audit=True)["evidence"]["match"] == key
