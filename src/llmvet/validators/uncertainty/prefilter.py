"""A cue pattern as Hyperscan patterns that match every string it matches (and more): a gate.

Why: a scanned section is tried at every start its keys give (starts.py), and most of those tries
fail: read once, 400 distinct ~1 KB coding answers tried `statement_exclude` at 9,545 starts for 12
matches, `frame.stale` at 4,786 for 4, the statement lists' entries some 60,000 times for 700. Where
a superset of a pattern has no match anywhere in a view, the pattern has none in any part of it, so
the section (or a statement list's entry) is skipped there without a try. The gates are reported by
the start index's one Hyperscan pass (literals.py), each at most once a view.

What: `superset(pattern)` rewrites the parse tree (`re._parser`, as covers.py reads it) for
Hyperscan: `^` stays (gates are compiled multi-line, as the cue patterns are); a look-behind before
anything is matched becomes what it asks for, matched just before (`(?<=[.!?;:] )` -> `[.!?;:] `; a
negative one on one character, `(?<!\\w)`, becomes the view's or a line's start or a character it
allows); other assertions (`$`, `\\b`, look-aheads, later look-behinds) match the empty string, as
a range's `endpos` may make them hold where the whole view would not; a repeat of more than
one character's pattern becomes its characters' class repeated (`(?: [\\w'-]+){0,4}` -> `[ '-0-9A-Z_a-z?]*`:
small automata, a second's compile, not seven); other bounds are loosened (`{2,9}` -> `{1,9}`, above
_MAX_BOUND -> `+`). Each of these only widens what matches. The view is scanned as ASCII bytes with every
other character "?" (literals.encoded), so whatever can match a character beyond ASCII (a literal,
`\\w`, `\\d`, `\\s`, a negated class, `.`) also matches "?", and a literal beyond ASCII is "?". A
pattern too long for one Hyperscan expression is split at its top-level alternatives. Wherever the
pattern matches in a view, with whatever `pos`/`endpos`, the superset matches in the view (the
characters a look-behind read, then the match or less): tests/validators/uncertainty/test_prefilter.py
checks it on real and generated text. The rule path applies a view's cue set (CueSet.for_text) to that
view only, never to a slice of it (where a look-behind would see less).
None where the tree has what is not rewritten (a back-reference, a case-insensitive group).

A wide repeat (of a class with the space and most letters, unbounded in the gate, `(?: [\\w-]+)*`)
that a short word starts is left out with what stands before it (_cut): `(?:the|my)(?: [\\w-]+)*
(?:rates|dates) (?:is|are) unverified` -> ` (?:rates|dates) (?:is|are) unverified`, a part every match
ends with. Why: "the" is nearly everywhere and the repeat goes on to the sentence's end, so Hyperscan
kept its automaton's states alive on almost every byte: the "this/these figures are from memory"
entries of statement_caveat cost 18 ms each alone, the whole pass ~45 ms for the 1.6 MB of views of
uncertainty_instructions.py. Cut: 362 M instructions a pass -> 229 M (~45 ms -> ~30), sections the
gates open 8,135 -> 8,192, entries 3,413 -> 3,436; the rule path 2,083 M -> 1,992 M. Cut wider (a class
with 17 letters; a start of 4: "this"; a start with no literal, a sentence's: 11 M; little left after
the repeat: statement_exclude opened in 865 views, not 113) the gates open more often than Hyperscan
saves; logical combinations (every part, in any order) lose the order and cost more than they save.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from re import _constants as _sre  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)
from typing import Any

_MAX_BOUND = 16  # a repeat's upper bound kept up to this (above it: unbounded)
_WIDE_LETTERS = 20  # a repeated class with the space and this many of the 26 letters: a wide repeat
_SHORT, _SELECTIVE = 3, 6  # literal characters of a start _cut leaves out (at most), of what is left (least)
_LOWER = frozenset(range(ord("a"), ord("z") + 1))
_CUT = object()  # a node: the match began before it (what stood there is left out of the gate)
_MAX_LENGTH = 8000  # characters of one expression (Hyperscan's limit is about twice that)
_CASE_FLAGS = re.IGNORECASE | re.ASCII | re.LOCALE
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_ONE_CHARACTER = (_sre.IN, _sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY)
_OTHER = ord("?")  # what any character beyond ASCII is in a scanned view
_ASCII = frozenset(range(128))


def _is_word(c: int) -> bool:
    return chr(c).isalnum() or c == 95


# A category: the ASCII characters it matches (each of them also matches characters beyond ASCII).
_CATEGORIES = {
    _sre.CATEGORY_DIGIT: frozenset(c for c in _ASCII if chr(c).isdigit()),
    _sre.CATEGORY_NOT_DIGIT: frozenset(c for c in _ASCII if not chr(c).isdigit()),
    _sre.CATEGORY_SPACE: frozenset(c for c in _ASCII if chr(c).isspace()),
    _sre.CATEGORY_NOT_SPACE: frozenset(c for c in _ASCII if not chr(c).isspace()),
    _sre.CATEGORY_WORD: frozenset(c for c in _ASCII if _is_word(c)),
    _sre.CATEGORY_NOT_WORD: frozenset(c for c in _ASCII if not _is_word(c)),
}


class _Unsupported(Exception):
    pass


def superset(pattern: str, flags: int = 0) -> list[bytes] | None:
    """Hyperscan expressions, one of which matches wherever `pattern` matches (see the module
    docstring); None where the pattern is not rewritten."""
    try:
        tree = _sre_parse.parse(pattern, flags)
        if tree.state.flags & _CASE_FLAGS:
            return None
        expressions = _split(list(tree))
    except (_Unsupported, re.error):
        return None
    return [e.encode() for e in expressions]


def _split(items: list[Any]) -> list[str]:
    """Expressions under _MAX_LENGTH, together matching what `items` does, as few as fit."""
    pieces = _pieces(items)
    if len(pieces) == 1:
        return pieces
    out: list[str] = []
    chunk: list[str] = []
    for expression in pieces:
        if chunk and sum(map(len, chunk)) + len(chunk) * 6 + len(expression) > _MAX_LENGTH:
            out.append(_alternation(chunk))
            chunk = []
        chunk.append(expression)
    return [*out, _alternation(chunk)] if chunk else out


def _alternation(expressions: list[str]) -> str:
    return "(?:" + "|".join(f"(?:{e})" for e in expressions) + ")"


def _pieces(items: list[Any]) -> list[str]:
    """`items` as one expression, or where that is too long, one for each alternative of its first
    alternation (each with what stands before and after it: the parser takes a common prefix out of an
    alternation's branches), split again where still too long."""
    whole = _sequence(_cut(items), [])
    if len(whole) <= _MAX_LENGTH:
        if all(_may_be_empty(op, av) for op, av in items):
            raise _Unsupported("it may match the empty string, everywhere: no gate")
        return [whole]
    items = [(op, av) for op, av in items if not _empty(op, av)]
    for k, (op, av) in enumerate(items):
        alternatives = _alternatives(op, av)
        if len(alternatives) > 1:
            before, after = items[:k], items[k + 1 :]
            return [e for alternative in alternatives for e in _pieces([*before, *alternative, *after])]
    raise _Unsupported("too long, and no alternation to split")


def _alternatives(op: Any, av: Any) -> list[list[Any]]:
    """A node's alternatives, where it is an alternation (a group of one, too), else []."""
    if op is _sre.BRANCH:
        return [list(branch) for branch in av[1]]
    if op is _sre.SUBPATTERN and not av[1] & _CASE_FLAGS:
        body = [(o, a) for o, a in av[3] if not _empty(o, a)]
        if len(body) == 1:
            return _alternatives(*body[0])
    return []


def _may_be_empty(op: Any, av: Any) -> bool:
    """May the node's expression match the empty string? (True where unsure: no gate then.)"""
    if op in _ZERO_WIDTH:
        return True  # (a look-behind turned into what it asks for is not empty: unsure is fine)
    if op in _REPEATS:
        low, high, body = av
        return low == 0 or high == 0 or not (len(body) == 1 and body[0][0] in _ONE_CHARACTER)
    if op is _sre.SUBPATTERN:
        return all(_may_be_empty(o, a) for o, a in av[3])
    if op is _sre.ATOMIC_GROUP:
        return all(_may_be_empty(o, a) for o, a in av)
    if op is _sre.BRANCH:
        return any(all(_may_be_empty(o, a) for o, a in branch) for branch in av[1])
    return False


def _empty(op: Any, av: Any) -> bool:
    """Does the node match only the empty string (assertions, groups of them)?"""
    if op in _ZERO_WIDTH:
        return True
    if op is _sre.SUBPATTERN:
        return all(_empty(o, a) for o, a in av[3])
    if op is _sre.BRANCH:
        return all(_empty(o, a) for branch in av[1] for o, a in branch)
    return False


def _cut(items: list[Any], after: int = 0) -> list[Any]:
    """`items` less what stands before a wide repeat where that needs 1 to _SHORT literal characters
    and what follows (with `after` more, after the sequence) at least _SELECTIVE: the nodes after the
    repeat, behind a _CUT. Where a group holds such a repeat, what stands before the group goes into
    each of its alternatives (`p(?:a|b)` is `(?:pa|pb)`), each cut alone. Each match of `items` ends
    with a match of what is left, so the gate stays a superset."""
    out: list[Any] = []
    for k, (op, av) in enumerate(items):
        start, rest = _needed(out), _needed(items[k + 1 :]) + after
        if _wide(op, av) and start <= _SHORT and rest >= _SELECTIVE:
            if op in _REPEATS and start:  # (none: a sentence's start, the class from there shuts the gate)
                out = [(_CUT, None)]
                continue
            whole = [[*out, *branch] for branch in _branches(op, av)]
            branches = [_cut(b, rest) for b in whole]
            if branches != whole:
                out = [(_sre.BRANCH, (None, branches))]
                continue
        out.append((op, av))
    return out


def _branches(op: Any, av: Any) -> list[list[Any]]:
    """A group's alternatives ([] for another node)."""
    if op is _sre.BRANCH:
        return [list(branch) for branch in av[1]]
    if op is _sre.SUBPATTERN:
        if av[1] & _CASE_FLAGS:
            raise _Unsupported("a case-insensitive group")
        return [list(av[3])]
    if op is _sre.ATOMIC_GROUP:
        return [list(av)]
    return []


def _wide(op: Any, av: Any) -> bool:
    """Does the node hold a wide repeat (one unbounded in the gate: see _node)?"""
    if op in _REPEATS:
        _, high, body = av
        single = len(body) == 1 and body[0][0] in _ONE_CHARACTER
        if high == 0 or (single and high is not _sre.MAXREPEAT and high <= _MAX_BOUND):
            return False
        chars = _characters(list(body))
        return ord(" ") in chars and len(chars & _LOWER) >= _WIDE_LETTERS
    return any(_wide(o, a) for branch in _branches(op, av) for o, a in branch)


def _needed(items: list[Any]) -> int:
    """How many literal characters each match of the sequence holds, at least."""
    total = 0
    for op, av in items:
        if op is _sre.LITERAL:
            total += 1
        elif op in _REPEATS:
            low, _, body = av
            if low and len(body) == 1 and body[0][0] in _ONE_CHARACTER:
                total += _needed(list(body))  # (a gate loosens a repeat's lower bound to 1)
        elif op is _sre.BRANCH:
            total += min(_needed(b) for b in _branches(op, av))
        elif op in (_sre.SUBPATTERN, _sre.ATOMIC_GROUP):
            total += _needed(_branches(op, av)[0])
    return total


def _sequence(items: list[Any], lead: list[str] | None = None) -> str:
    """The expression for a sequence. `lead`: the sequence begins the match (nothing matched before
    it), with what stands for the negative look-behinds met so far (see _leading); None: it does not."""
    out: list[str] = []
    for op, av in items:
        if op is _CUT:
            lead = None  # (what follows does not begin the match)
            continue
        if lead is None:
            out.append(_node(op, av))
            continue
        if op is _sre.AT and av is _sre.AT_BEGINNING:
            out.append("^")  # (a line start: no word character before it, whatever the look-behinds said)
            lead = []
        elif op is _sre.ASSERT and av[0] < 0:
            out.append("(?:" + _sequence(list(av[1])) + ")")  # what must stand before the match, matched
            lead = None
        elif op is _sre.ASSERT_NOT and av[0] < 0:
            lead = lead or _not_behind(list(av[1]))
        elif op in _ZERO_WIDTH:
            continue
        elif op is _sre.SUBPATTERN and not av[1] & _CASE_FLAGS:
            out.append("(?:" + _sequence(list(av[3]), list(lead)) + ")")
            lead = None
        elif op is _sre.BRANCH:
            out.append("(?:" + "|".join(_sequence(list(branch), list(lead)) for branch in av[1]) + ")")
            lead = None
        else:
            out += [*lead[:1], _node(op, av)]
            lead = None
    return "".join(out)


def _not_behind(body: list[Any]) -> list[str]:
    """`(?<!x)` for one character x at the start of a match, as what the match may begin with instead:
    the view's start, a line start or a character x does not match ("?" always: it stands for any
    character beyond ASCII). [] where x is not one character."""
    if len(body) != 1 or body[0][0] not in _ONE_CHARACTER:
        return []
    allowed = (_ASCII - _characters(body)) | {_OTHER}
    return ["(?:^|" + _class(allowed) + ")"]


def _node(op: Any, av: Any) -> str:
    if op is _sre.LITERAL:
        return _literal(av if av < 128 else _OTHER)
    if op in (_sre.NOT_LITERAL, _sre.ANY, _sre.IN):
        return _class(_characters([(op, av)]))
    if op is _sre.BRANCH:
        return "(?:" + "|".join(_sequence(list(branch)) for branch in av[1]) + ")"
    if op is _sre.SUBPATTERN:
        if av[1] & _CASE_FLAGS:
            raise _Unsupported("a case-insensitive group")
        return "(?:" + _sequence(list(av[3])) + ")"
    if op is _sre.ATOMIC_GROUP:
        return "(?:" + _sequence(list(av)) + ")"
    if op in _REPEATS:
        low, high, body = av
        if not (len(body) == 1 and body[0][0] in _ONE_CHARACTER):
            return _class(_characters(list(body))) + "*"
        low = min(low, 1)
        if high == 0:
            return ""
        if high is _sre.MAXREPEAT or high > _MAX_BOUND:
            return _sequence(list(body)) + ("*" if low == 0 else "+")
        return _sequence(list(body)) + f"{{{low},{high}}}"
    if op is _sre.AT and av is _sre.AT_BEGINNING:
        return "^"  # (gates are compiled multi-line: a line start, as in the cue patterns)
    if op in _ZERO_WIDTH:
        return ""
    raise _Unsupported(str(op))


def _characters(items: list[Any]) -> set[int]:
    """The bytes a match of the sequence `items` may hold in a scanned view."""
    out: set[int] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            out.add(av if av < 128 else _OTHER)
        elif op is _sre.NOT_LITERAL:
            out |= _ASCII
        elif op is _sre.ANY:
            out |= _ASCII  # with the newline: under re.S (a policy's extra cue may ask for it) `.` matches it
        elif op is _sre.IN:
            out |= _in(av)
        elif op is _sre.BRANCH:
            for branch in av[1]:
                out |= _characters(list(branch))
        elif op is _sre.SUBPATTERN:
            out |= _characters(list(av[3]))
        elif op is _sre.ATOMIC_GROUP:
            out |= _characters(list(av))
        elif op in _REPEATS:
            out |= _characters(list(av[2]))
        elif op not in _ZERO_WIDTH:
            raise _Unsupported(str(op))
    return out


def _in(items: list[Any]) -> set[int]:
    """The bytes a character class matches in a scanned view."""
    negated = bool(items) and items[0][0] is _sre.NEGATE
    codes: set[int] = set()
    wide = False  # it matches a character beyond ASCII
    for op, av in items[1:] if negated else items:
        if op is _sre.LITERAL and av < 128:
            codes.add(av)
        elif op is _sre.LITERAL:
            wide = True
        elif op is _sre.RANGE:
            codes.update(range(av[0], min(av[1], 127) + 1))
            wide = wide or av[1] >= 128
        elif op is _sre.CATEGORY and av in _CATEGORIES:
            codes |= _CATEGORIES[av]
            wide = True
        else:
            raise _Unsupported(str(op))
    if negated:
        codes, wide = set(_ASCII - codes), True
    return codes | {_OTHER} if wide else codes


def _literal(c: int) -> str:
    return chr(c) if chr(c).isalnum() else f"\\x{c:02x}"


def _class(codes: set[int] | frozenset[int]) -> str:
    if not codes:
        raise _Unsupported("a class that matches nothing")
    ordered = sorted(codes)
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(_literal(ordered[i]) if i == j else f"{_literal(ordered[i])}-{_literal(ordered[j])}")
        i = j + 1
    return "[" + "".join(parts) + "]"


Gate = tuple[bytes, tuple[Hashable, ...]]  # an expression, and the labels a view it matches in opens


def gates(
    patterns: Mapping[str, re.Pattern[str]], entries: Mapping[str, Sequence[list[bytes] | None]]
) -> tuple[list[Gate], frozenset[str]]:
    """The gates of the scanned sections `patterns`, and the names of those gated (a view none of whose
    gates match cannot match them). A section with its entries known (`entries`: the supersets of each,
    alternatives.Alternatives.gates) has a gate per entry, labelled (section, entry number) and the
    section: the section is gated where every entry is."""
    out: list[Gate] = []
    gated: set[str] = set()
    for name, rx in patterns.items():
        listed = entries.get(name)
        if listed is None:
            found = superset(rx.pattern, rx.flags)
            out += [(e, (name,)) for e in found or ()]
            if found:
                gated.add(name)
            continue
        for i, found in enumerate(listed):
            out += [(e, ((name, i), name)) for e in found or ()]
        if all(listed):
            gated.add(name)
    return out, frozenset(gated)
