"""The start keys of every cue pattern with a start index, found in a view by one Hyperscan pass.

Why: starts.py's pass over a view looked up each word start's first characters in a table, one
Python step per word (a memo of those characters helps only for words seen before, and a serving
process reads new answers): 0.2-0.4 ms per KB read once, about a third of the rule path. Hyperscan
finds every occurrence of thousands of literal strings in one linear pass in C, without a DFA built
lazily from the text it reads, so a text read once costs what a text read again does.

What: the keys (short literal strings one of which begins every match of a pattern that can start only
after a non-word character, see covers.py) as one literal database, compiled once per cue set. A key
that adds no pattern to those of its shorter prefixes is left out (a start of it is a start of them).
A view is scanned as ASCII bytes with every other character as "?" (one byte a character, so offsets
are the view's), keys likewise: "?" in a key stands for any character that is not ASCII, and a view's
"?" matches it too, so the starts found are a superset of the keys' real occurrences (the pattern is
then tried there and decides). An occurrence counts where the character before it is not a word
character (or at the view's start), as in starts.py's pass; the cover strings of a pattern that may
start inside a word count wherever they occur (starts.py found those with `str.find`). Names per key
are disjoint from those of its shorter prefixes, so no start is listed twice for a name. The same
pass reports the cue set's gates (prefilter.py: regular expressions, each once a view) and, where it
has none, the strings alternatives.Present asks for. The database then takes ~1.4 s to compile, not
~0.2 (once per process and cue set: cues.load keeps it); Hyperscan rejecting a gate compiles it
without them (the strings are then found with `str.find`: slower, the same findings).

Where the gates are in the pass, the keys are not (`lazy`): every indexed section of the shipped set
has a gate, and a section is scanned only where its gates open (~4 of some 20 a view), so most key
reports went to names no scan asked for (a distinct ~1 KB answer had ~50 reports, each a Python call,
and the keys' starts were read for ~1 in 3). The pass reports the gates only, and each name's starts
come from its own database of its keys (`starts_of`), when the name is first scanned in the view.
Liveness then comes from the gates: a name with keys counts as live (starts.Starts.live), a superset
as before (the gates opened a section with no key start in it 4 times in 5,727 on the benchmark's
texts; it is then scanned from no start and finds nothing, as a skipped one would).

Without the `pyperscan` package (multipattern.py; e.g. Windows, where it has no wheel) `LiteralScan.build` returns
None and starts.py makes its own pass; tests/validators/uncertainty/test_starts.py runs both.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from llmvet.validators.uncertainty.covers import LONG, MAX_KEY, cover

if TYPE_CHECKING:
    from llmvet.validators.uncertainty.alternatives import Alternatives, Entry

from llmvet.validators import multipattern
from llmvet.validators.multipattern import MULTILINE, PREFILTER, SINGLEMATCH


def available() -> bool:
    return multipattern.available()


def encoded(s: str) -> bytes:
    """`s` as ASCII bytes, each other character "?" (same offsets)."""
    return s.encode("ascii", "replace")


_BOUNDARY_MAX = 4  # keys up to this long are asked for behind a word boundary (see LiteralScan)


def _expression(literal: bytes, anchored: bool) -> bytes:
    """`literal` as a Hyperscan pattern: each byte but a letter or digit as `\\xHH`; `\\b` before one that
    begins with a word character and counts only after a non-word character."""
    body = b"".join(bytes((c,)) if chr(c).isalnum() else b"\\x%02x" % c for c in literal)
    return (b"\\b" + body) if anchored and (chr(literal[0]).isalnum() or literal[0] == 95) else body


class LiteralScan:
    """Where each key occurs after a non-word character in a view, grouped by the names it starts."""

    def __init__(
        self,
        keys: Mapping[str, set[str]],
        anywhere: Mapping[str, set[str]] | None = None,
        present: Iterable[str] = (),
        gates: Sequence[tuple[bytes, tuple[Hashable, ...]]] = (),
    ) -> None:
        """`keys`: start key -> names, counted after a non-word character; `anywhere`: the same for
        patterns that may start inside a word (their cover strings count wherever they occur);
        `present`: strings asked only whether they occur (alternatives.Present's, in the same pass);
        `gates`: Hyperscan expressions (prefilter.py), each with the labels a view it matches in opens."""
        literals: list[bytes] = []
        self._names: list[tuple[str, ...]] = []  # key id -> the names it adds to its prefixes'
        for group in (keys, anywhere or {}):
            merged: dict[bytes, set[str]] = {}
            for key, names in group.items():
                merged.setdefault(encoded(key), set()).update(names)
            for lit in sorted(merged):  # (one order in every process)
                before = set().union(*(merged.get(lit[:i], ()) for i in range(1, len(lit))))
                new = merged[lit] - before
                if new:
                    literals.append(lit)
                    self._names.append(tuple(sorted(new)))
            if group is keys:
                self._anchored = len(literals)  # ids from here on: found anywhere
        self._lengths = [len(lit) for lit in literals]
        self._keyed = frozenset(name for names in self._names for name in names)
        self._keys = len(literals)  # ids from here on: the `present` strings, each reported once a view
        self.present = sorted(set(present))
        self._db: multipattern.Database  # (compiled below, with or without the gates)
        # A short key that begins with a word character and counts only after a non-word one is asked for
        # behind `\b` (its start is then at the text's start or after a non-word byte): Hyperscan drops
        # its occurrences inside a word, half of all hits on the dev answers, before a Python call is made
        # for them. Only keys of up to _BOUNDARY_MAX characters ("i", "it", "may" occur inside words;
        # longer keys seldom do): with every key behind `\b` the database took 0.35 s to compile, not
        # 0.09, for 111 hits per KB instead of 113. `hit` still checks the character before, which `\b`
        # cannot: a "?" byte stands for any non-ASCII character, a word character to Python or not.
        expressions = [
            _expression(lit, i < self._anchored and len(lit) <= _BOUNDARY_MAX) for i, lit in enumerate(literals)
        ]
        strings = [b"".join(b"\\x%02x" % c for c in encoded(s)) for s in self.present]
        self._labels = [labels for _, labels in gates]
        # name -> (its database, the lengths of its keys there, how many of them count after a non-word
        # character only): where the gates are in the pass, the keys are not (see `starts_of`)
        self._by_name: dict[str, tuple[multipattern.Database, list[int], int]] = {}
        self._own_keys: dict[str, list[bytes]] = {}  # name -> its keys there (encoded), by id
        if gates:
            try:
                self._compile_lazy(literals, expressions, strings, [e for e, _ in gates])
                return
            except multipattern.CompileError:  # (a gate Hyperscan does not take: none, the cue patterns decide)
                self._by_name = {}
        self._labels = []
        self._gates = len(expressions) + len(strings)  # (no gates: ids from here on are none)
        self._db = multipattern.Database(expressions + strings, [0] * self._keys + [SINGLEMATCH] * len(strings))

    def _compile_lazy(self, literals: list[bytes], keys: list[bytes], strings: list[bytes], gates: list[bytes]) -> None:
        """The pass's database without the keys (the `present` strings and the gates), and one database
        of its keys for each name: its starts are asked for only where its gates open, most often none."""
        # (a gate: once a view; prefilter mode lets Hyperscan widen what it cannot build, as the gate may)
        gate = SINGLEMATCH | PREFILTER | MULTILINE
        first = strings + gates
        flags = [SINGLEMATCH] * len(strings) + [gate] * len(gates)
        own: dict[str, list[int]] = {}  # name -> its key ids, those counted after a non-word character first
        for i, started in enumerate(self._names):
            for name in started:
                own.setdefault(name, []).append(i)
        order = sorted(own)
        self._db = multipattern.Database(first, flags)
        self._keys, self._gates = 0, len(strings)  # (ids in the pass: the strings, then the gates)
        for name in order:
            ids = own[name]
            db = multipattern.Database([keys[i] for i in ids], [0] * len(ids))
            self._own_keys[name] = [literals[i] for i in ids]
            self._by_name[name] = (db, [self._lengths[i] for i in ids], sum(i < self._anchored for i in ids))

    @classmethod
    def build(
        cls,
        keys: Mapping[str, set[str]],
        anywhere: Mapping[str, set[str]],
        present: Iterable[str] = (),
        gates: Sequence[tuple[bytes, tuple[Hashable, ...]]] = (),
    ) -> LiteralScan | None:
        return cls(keys, anywhere, present, gates) if multipattern.available() and (keys or anywhere) else None

    @property
    def gated(self) -> bool:
        """Are the gates in the database (a view's `opened` labels mean something)?"""
        return bool(self._labels)

    @property
    def lazy(self) -> bool:
        """Are the keys left out of the pass (found for one name at a time, `starts_of`)?"""
        return bool(self._by_name)

    @property
    def keyed(self) -> frozenset[str]:
        """The names with a key."""
        return self._keyed

    def grouped(self, view: str) -> dict[str, list[list[int]]]:
        """For each name with a start in `view`, the lists (each ascending) of its starts."""
        if not self._by_name:
            return self.scan(view)[0]
        data = encoded(view)
        return {name: [found] for name in self._by_name if (found := self.starts_of(name, view, data))}

    def scan(self, view: str, data: bytes | None = None) -> tuple[dict[str, list[list[int]]], set[str], set[Hashable]]:
        """`grouped(view)` (empty where the keys are not in the pass: `lazy`), the `present` strings that
        occur in `view` (what alternatives.Present returns for them: one pass for both, not two), and the
        labels of the gates that match in it. `data`: `encoded(view)`, where the caller has it."""
        found: dict[int, list[int]] = {}
        present: set[str] = set()
        opened: set[Hashable] = set()
        lengths, anchored, keys, strings = self._lengths, self._anchored, self._keys, self.present
        gates, labels = self._gates, self._labels
        known = found.get

        def hit(i: int, _start: int, end: int) -> None:
            if i >= keys:
                if i >= gates:
                    opened.update(labels[i - gates])
                else:
                    present.add(strings[i - keys])
                return
            p = end - lengths[i]
            if p and i < anchored:
                c = view[p - 1]
                if c.isalnum() or c == "_":
                    return
            starts = known(i)
            if starts is None:
                found[i] = [p]
            else:
                starts.append(p)

        self._db.scan(encoded(view) if data is None else data, hit)
        out: dict[str, list[list[int]]] = {}
        names = self._names
        for i, starts in found.items():
            for name in names[i]:
                lists = out.get(name)
                if lists is None:
                    out[name] = [starts]
                else:
                    lists.append(starts)
        return out, present, opened

    def keys_of(self, name: str) -> list[bytes]:
        """The keys of `name`'s own database (`lazy`), in the order `starts_of`'s `masks` give them."""
        return self._own_keys.get(name, [])

    def starts_of(
        self, name: str, view: str, data: bytes, masks: Sequence[int] | None = None, kept: int = -1
    ) -> list[int]:
        """Where `name`'s keys occur in `view` (`data`: `encoded(view)`), ascending, as `grouped` lists
        them, from a pass of the name's own database: where the keys are `lazy`, a view's pass reports the
        gates only (~5 reports a distinct ~1 KB answer, not ~50), and a name's starts are found only where
        its gates open (~4 names a view of some 20). Its keys start no position twice (none is a prefix of
        another: `__init__`). With `masks` (a bit mask for each key, in `keys_of(name)` order) and `kept`
        (not -1), only the starts of the keys whose mask shares a bit with `kept`."""
        entry = self._by_name.get(name)
        if entry is None:
            return []
        db, lengths, anchored = entry
        out: list[int] = []
        add = out.append

        # Two callbacks, not one with an all-ones mask: this runs once a reported key, and the plain one
        # serves every list but the statement lists.
        if masks is None or kept == -1:

            def hit(i: int, _start: int, end: int) -> None:
                p = end - lengths[i]
                if p and i < anchored:
                    c = view[p - 1]
                    if c.isalnum() or c == "_":
                        return
                add(p)

        else:
            key_masks = masks

            def hit(i: int, _start: int, end: int) -> None:
                if not key_masks[i] & kept:
                    return
                p = end - lengths[i]
                if p and i < anchored:
                    c = view[p - 1]
                    if c.isalnum() or c == "_":
                        return
                add(p)

        db.scan(data, hit)
        out.sort()  # (reported by where they end: a longer key's start may come after a shorter one's)
        return out


def entry_masks(literal: LiteralScan | None, alternatives: Mapping[str, Alternatives]) -> dict[str, list[int]]:
    """For each section of `alternatives` with keys in `literal`'s own databases (`lazy`), `_masks` of them."""
    if literal is None or not literal.lazy:
        return {}
    return {name: _masks(own, alts.entries) for name, alts in alternatives.items() if (own := literal.keys_of(name))}


def _masks(keys: list[bytes], entries: Sequence[Entry]) -> list[int]:
    """For each key (as literals.encoded reads it) the entries (bit i: entry i) a match of which may begin
    where the key occurs: those with a cover string that begins with the key or that the key begins with
    (as encoded too: "?" for any character beyond ASCII, so a superset), and those without a cover. An
    entry's digit and word markers are no key's: their starts come from the section's runs (`_make`).

    Why: a statement list's section was tried at every start of any of its entries' keys, and a view keeps
    ~2 of statement_strong's 66 entries (their gates, prefilter.py). On the 1,556 views of
    uncertainty_instructions.py statement_strong's starts went from 6,601 to 2,864 (its tries, ranged
    scans too, from 11,675 to 7,938), statement_caveat's from 3,623 to 793 (tries 5,188 to 2,389)."""
    starting: dict[bytes, int] = {}  # a string -> the entries one of whose cover strings begins with it
    whole: dict[bytes, int] = {}  # a cover string -> the entries it is one of
    uncovered = 0  # the entries without a cover
    for i, (rx, _) in enumerate(entries):
        strings = cover(rx, LONG)
        if strings is None:
            uncovered |= 1 << i
            continue
        for s in strings:
            if len(s) <= MAX_KEY:  # (longer: a marker)
                e = encoded(s)
                whole[e] = whole.get(e, 0) | 1 << i
                for n in range(1, len(e) + 1):
                    starting[e[:n]] = starting.get(e[:n], 0) | 1 << i
    masks = []
    for key in keys:
        mask = uncovered | starting.get(key, 0)
        for n in range(1, len(key)):  # (the cover strings the key begins with)
            mask |= whole.get(key[:n], 0)
        masks.append(mask)
    return masks
