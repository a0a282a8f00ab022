"""`regex`: the answer must (not) match given patterns. Simple, fast, and the default policy's check.

Patterns compile with RE2 (google-re2): matching takes time linear in the answer's length, so no
pattern, however written, can stall the event loop (Python's `re` backtracks: `^(\\w+\\s?)+$` took
seconds on a 54-character answer). RE2 refuses the few constructs that need backtracking
(backreferences, lookaround); the policy check names the pattern and the reason.

What a finding quotes is redacted (see `redact`): a forbidden match is often a secret, and findings
travel to clients, reviewers and logs.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import re2
from pydantic import AfterValidator, Field

from llmvet.json_escapes import unescape
from llmvet.validators.base import (
    Context,
    Finding,
    Severity,
    StreamMode,
    Validator,
    ValidatorConfig,
    Verdict,
    at_raw_spans,
)
from llmvet.validators.re2_raw import UNANCHORED, raw_match
from llmvet.validators.segments import WHITESPACE, line_boundary, token_boundary

# Characters scanned on the event loop; longer answers go to the thread pool (RE2 releases the GIL).
# RE2 is linear, but its Python binding costs ~6 us per match: a 4 KiB answer that is all matches
# holds the loop ~25 ms, a 64 KiB one would hold it ~400 ms.
_INLINE_LIMIT = 4 * 1024
_MAX_QUOTED = 200  # characters of a match kept in the audit with audit_full_match


def _options(ignore_case: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported once, by the policy check
    options.case_sensitive = not ignore_case
    return options


# Python's `re` reads \w, \d and \s as Unicode classes, RE2 as ASCII ones: spelled out, a pattern
# finds what it found before in any script (`password:\s*\w+` still catches "password: пароль").
_WORD, _DIGIT = r"\p{L}\p{N}_", r"\p{Nd}"
_SPACE = r"\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_OUTSIDE = {"w": f"[{_WORD}]", "W": f"[^{_WORD}]", "d": _DIGIT, "D": r"\P{Nd}", "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]"}
_INSIDE = {"w": _WORD, "d": _DIGIT, "s": _SPACE}  # \W \D \S inside [...] stay ASCII (rare)


def unicode_classes(pattern: str) -> str:
    r"""`pattern` with Python's Unicode meaning of \w \W \d \D \s \S spelled out for RE2."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(nxt, c + nxt))
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            # "]" right after "[" or "[^" is a literal, not the end of the class
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            if pattern[j : j + 1] == "]":
                out.append(pattern[i : j + 1])
                i = j + 1
                continue
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _re2_compiles(pattern: str) -> str:
    try:
        re2.compile(unicode_classes(pattern), _options(False))
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        try:
            re.compile(pattern)  # compiling only (never matching) with Python's re is safe
        except re.error:
            raise ValueError(f"invalid regular expression {pattern!r}: {reason}") from None
        raise ValueError(
            f"pattern {pattern!r} is not supported by RE2: {reason} "
            "(RE2 runs in linear time: it refuses backreferences, lookaround, atomic groups and possessive "
            "quantifiers, and spells a few escapes differently, e.g. \\z for \\Z)"
        ) from None
    return pattern


Pattern = Annotated[str, AfterValidator(_re2_compiles)]


def _finds_any(pattern: Any) -> Callable[[str], bool]:
    """Whether `pattern` matches anywhere in a text: RE2 itself over the UTF-8 bytes, as the wrapper's
    `search` does, less its generator, offset mapping and match object (~2 us of a 10 us check)."""
    match = raw_match(pattern)

    def finds(text: str) -> bool:
        data = text.encode("utf-8")
        return bool(match(UNANCHORED, data, 0, len(data))[0][0] >= 0)

    return finds


def redact(matched: str) -> str:
    """A form of `matched` that identifies it without disclosing it: a few first characters, the
    length and a short hash (equal matches share it, so a reviewer can tell repeats apart).

    At most 4 characters and at most a quarter of the match are shown. The hash is unkeyed: a short,
    guessable match (a 4-digit PIN) can be confirmed from it, a real key or token cannot.
    """
    shown = matched[: min(4, len(matched) // 4)]
    digest = hashlib.sha256(matched.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{shown}…[{len(matched)} chars, sha256:{digest}]"


class RegexConfig(ValidatorConfig):
    must_match: list[Pattern] = Field(default_factory=list, description="each pattern must occur in the answer")
    must_not_match: list[Pattern] = Field(default_factory=list, description="no pattern may occur in the answer")
    ignore_case: bool = False
    max_findings: int = Field(20, ge=1, le=1000, description="findings per pattern at most (the rest are counted)")
    severity: Severity = Field("medium", description="severity of each finding")
    audit_full_match: bool = Field(
        False,
        description="also keep each forbidden match in clear (up to 200 characters) in the audit log; "
        "client bodies, headers and the review queue always get the redacted form",
    )


class RegexValidator(Validator[RegexConfig]):
    name: ClassVar[str] = "regex"
    Config: ClassVar[type[RegexConfig]] = RegexConfig

    def __init__(self, config: RegexConfig) -> None:
        super().__init__(config)
        options = _options(config.ignore_case)
        self._must = [(p, re2.compile(unicode_classes(p), options)) for p in config.must_match]
        self._must_not = [(p, re2.compile(unicode_classes(p), options)) for p in config.must_not_match]
        self._segment, self._spaces, first = stream_segment(config.must_not_match)
        # A match in tool-call arguments may start with an escape (`\u002d----BEGIN`).
        self._first = None if first is None else first | {"\\"}
        # One pass over the text for all forbidden patterns: most answers match none of them.
        combined = "|".join(f"(?:{unicode_classes(p)})" for p in config.must_not_match)
        self._any_forbidden = re2.compile(combined, options) if combined else None
        self._forbidden_in = _finds_any(self._any_forbidden) if self._any_forbidden else None
        self._shortest = shortest_match(config.must_not_match)
        self._severity = config.severity

    async def check(self, ctx: Context) -> Verdict:
        # Tool-call arguments are matched as the app will read them: `AKIA\u0049...` is a key too.
        # (other parts skip building the view: this check runs on every answer of the default policy)
        view = ctx.unescaped if ctx.part_kind == "tool_arguments" else None
        text = ctx.text if view is None else view.text
        if len(text) > _INLINE_LIMIT and ctx.resources is not None:
            findings = await ctx.resources.run_cpu(self._scan, text)  # big answers: off the event loop
        else:
            findings = self._scan(text)
        if view is not None:
            findings = at_raw_spans(findings, view)
        return Verdict.failed(findings) if findings else Verdict.passed()

    def _scan(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        limit = self.config.max_findings
        forbidden = self._must_not if self._forbidden_in and self._forbidden_in(text) else []
        for index, (source, pattern) in enumerate(forbidden):
            matches = pattern.finditer(text)
            for n, m in enumerate(matches):
                if n == limit:
                    more = 1 + sum(1 for _ in matches)
                    findings[-1].evidence["more_matches"] = more  # counted, not listed
                    break
                findings.append(self._forbidden(index, source, m.group(0), (m.start(), m.end())))
        for index, (source, pattern) in enumerate(self._must):
            if pattern.search(text) is None:
                findings.append(
                    Finding(
                        "regex",
                        "regex.must_match",
                        f"does not match required pattern must_match[{index}]",
                        self._severity,
                        0.6,
                        None,
                        {"pattern_index": index},
                        {"pattern": source},
                    )
                )
        return findings

    def _forbidden(self, index: int, source: str, matched: str, span: tuple[int, int]) -> Finding:
        # Messages and evidence name the pattern by its place in the policy, never its text: both
        # reach the client, and the patterns say what the policy looks for.
        audit: dict[str, Any] = {"pattern": source}
        if self.config.audit_full_match:
            audit["match"] = matched[:_MAX_QUOTED]
        quoted = redact(matched)
        return Finding(
            "regex",
            "regex.must_not_match",
            f"matches forbidden pattern must_not_match[{index}]: {quoted}",
            self._severity,
            0.8,
            span,
            {"pattern_index": index, "match": quoted},
            audit,
        )

    # ---- streams ---------------------------------------------------------------------------------
    def stream_mode(self) -> StreamMode:
        # A required pattern can only be judged on the whole answer; a forbidden one segment by segment.
        return "buffer" if self._must or self._segment is None else "segment"

    def stream_boundary(self, text: str, state: dict[str, Any]) -> int:
        return line_boundary(text, state) if self._segment == "line" else token_boundary(text, state)

    def stream_clean(self, text: str) -> bool:
        # Most windows are a word: shorter than any forbidden match can be, so RE2 is not asked (in a
        # serving process a word's RE2 call cost ~12 us of CPU, about a sixth of a streamed event's).
        # RE2 matches UTF-8 bytes: given str, the binding encodes it and maps offsets back to
        # characters, which a yes/no answer does not need.
        if self._any_forbidden is None or len(text) < self._shortest:
            return True
        if self._any_forbidden.search(text.encode()) is not None:
            return False
        # (a window of tool-call arguments may hide a match behind JSON escapes; `check` reads them undone)
        return "\\" not in text or self._any_forbidden.search(unescape(text).text.encode()) is None

    def stream_window(self, text: str, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
        if self._segment != "tokens" or final:
            return super().stream_window(text, state, cleared, final)
        # Matches hold at most `_spaces` spaces: check every complete token, but hold back the last
        # few tokens that a match could still run through, from the first one holding a character
        # a match can start with (prose rarely has one, so it flows word by word).
        scan = state.get("tokens")
        if scan is None:
            scan = state["tokens"] = _TokenScan(self._spaces)
        end, release = scan.advance(text, self._first)
        if not end:  # no token complete yet
            return cleared, cleared, cleared
        return cleared, end, max(release, cleared)


class _TokenScan:
    """The last few complete tokens of a stream's text, each looked at once, as it completes."""

    __slots__ = ("risky", "seen", "spaces", "starts")

    def __init__(self, spaces: int) -> None:
        self.spaces = spaces
        self.seen = 0  # text read so far
        # where each of the last tokens begins (only the last `spaces + 1` complete ones are ever needed)
        self.starts: deque[int] = deque([0], maxlen=spaces + 2)
        self.risky: deque[bool] = deque(maxlen=spaces + 1)  # per complete token: may a match begin in it?

    def advance(self, text: Any, first: frozenset[str] | None) -> tuple[int, int]:
        """(the end of the last complete token, where text may be released up to)."""
        seen, starts, risky = self.seen, self.starts, self.risky
        new = text[seen:]
        self.seen = seen + len(new)
        for m in _WHITESPACE_RUN.finditer(new):
            end = seen + m.end()
            risky.append(first is None or not first.isdisjoint(text[starts[-1] : end]))
            starts.append(end)
        if len(starts) < 2:
            return 0, 0
        if True in risky:  # from the oldest of the last `spaces` tokens a match may begin in
            for i in range(max(len(risky) - self.spaces, 0), len(risky)):
                if risky[i]:
                    return starts[-1], starts[i]
        return starts[-1], starts[-1]  # the token being written is always held


# Conservative reading of a pattern's source: could it match whitespace, a line break, or only a
# bounded number of literal spaces? Anchors are judged on whole answers only.
_MAY_MATCH_SPACE = re.compile(r"\\[sWDHVhvnrtfxuUN0-7pP]|(?<!\\)\.|\[\^|\(\?[a-zA-Z]*[xs]")
_MAY_MATCH_NEWLINE = re.compile(r"\\[sWDVvnrfxuUN0-7pP]|\[\^|\(\?[a-zA-Z]*s|[$^]|\\[AzZ]")
_UNBOUNDED_SPACE = re.compile(r"[ )][*+{]")
_WHITESPACE_RUN = re.compile(f"[{re.escape(WHITESPACE)}]")


def stream_segment(patterns: list[str]) -> tuple[str | None, int, frozenset[str] | None]:
    """The unit no forbidden match runs across, how many spaces a match may hold, and the characters
    a match with spaces can start with: ("token", 0, _), ("tokens", n, chars or None: any), "line",
    or None (the stream is held to the end)."""
    if any(_MAY_MATCH_NEWLINE.search(p) for p in patterns):
        return None, 0, None
    if any(_MAY_MATCH_SPACE.search(p) or _UNBOUNDED_SPACE.search(p) for p in patterns):
        return "line", 0, None
    counts = [max_spaces(p) for p in patterns]
    if any(c is None for c in counts):
        return "line", 0, None
    spaced = [p for p, c in zip(patterns, counts, strict=True) if c]
    if not spaced:
        return "token", 0, None
    firsts = [first_chars(p) for p in spaced]
    union = None if any(f is None for f in firsts) else frozenset().union(*(f for f in firsts if f is not None))
    return "tokens", max(c for c in counts if c is not None), union


def shortest_match(patterns: list[str]) -> int:
    """A lower bound, in characters, on the length of any match of any of `patterns` (0: unknown).

    Read with Python's parser, which RE2 syntax it lacks (\\p{..}, \\x{..}, \\C) makes fail: 0 then.
    POSIX classes (`[[:digit:]]`) parse in Python as a set and a literal `]`, a character too long:
    patterns with `[:` get 0 too. Elsewhere both engines give each item the same width.
    """
    widths = []
    for pattern in patterns:
        if "[:" in pattern:
            return 0
        tree = _python_parse(pattern)
        if tree is None:
            return 0
        widths.append(tree.getwidth()[0])
    return min(widths, default=0)


def _python_parse(pattern: str) -> Any | None:
    """Python's parse tree of a policy pattern, or None where Python's parser cannot read it. Its
    FutureWarnings ("possible nested set" for a POSIX class) speak of Python's syntax, not RE2's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re._parser.parse(pattern)  # type: ignore[attr-defined]
    except Exception:
        return None


def first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of `pattern` can start with (None: any, or not understood)."""
    tree = _python_parse(pattern)
    return None if tree is None else _first_of(list(tree))


def _first_of(items: list[Any]) -> frozenset[str] | None:
    for op, arg in items:
        name = str(op)
        if name == "AT":  # \b, ^: take no character
            continue
        if name == "LITERAL":
            return frozenset({chr(arg)})
        if name == "SUBPATTERN":
            return _first_of(list(arg[-1]))
        if name == "BRANCH":
            firsts = [_first_of(list(b)) for b in arg[1]]
            return None if any(f is None for f in firsts) else frozenset().union(*(f for f in firsts if f))
        if name == "IN" and all(str(o) == "LITERAL" for o, _ in arg):
            return frozenset(chr(a) for _, a in arg)
        return None  # classes with ranges, repeats, anything else: assume any character
    return None


def max_spaces(pattern: str) -> int | None:
    """The most spaces one match of `pattern` can hold (None: unbounded, or not understood). Read
    from Python's own parse of the pattern, which accepts the RE2 subset policies use."""
    tree = _python_parse(pattern)
    return None if tree is None else _spaces_in(list(tree))


def _spaces_in(items: list[Any]) -> int | None:
    total = 0
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            n: int | None = 1 if arg == 32 else 0
        elif name == "SUBPATTERN":
            n = _spaces_in(list(arg[-1]))
        elif name == "BRANCH":
            branches = [_spaces_in(list(b)) for b in arg[1]]
            n = None if None in branches else max((b for b in branches if b is not None), default=0)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _low, high, sub = arg
            inner = _spaces_in(list(sub))
            n = None if inner is None or (inner and high == re._parser.MAXREPEAT) else (inner or 0) * high  # type: ignore[attr-defined]
        elif name == "IN":
            n = 1 if any(str(o) == "LITERAL" and a == 32 for o, a in arg) else 0
        else:
            n = 0
        if n is None:
            return None
        total += n
    return total
