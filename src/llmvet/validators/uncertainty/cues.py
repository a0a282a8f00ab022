"""Cue lists: load the shipped YAML for a language, merge a policy's extra files/entries, compile once.

Each list section compiles to one alternation regex (one scan of the text per section keeps the rule
path well under a millisecond for typical answers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from functools import cached_property, lru_cache
from importlib import resources as importlib_resources
from itertools import chain
from pathlib import Path
from typing import Any

import yaml

from llmvet.validators.uncertainty import frames
from llmvet.validators.uncertainty.alternatives import WRAP, Alternatives, Present, any_of, required
from llmvet.validators.uncertainty.firsts import by_first
from llmvet.validators.uncertainty.frames import FRAME_PREFIX
from llmvet.validators.uncertainty.grouping import grouped_body, groups
from llmvet.validators.uncertainty.keywords import Keywords
from llmvet.validators.uncertainty.literals import available
from llmvet.validators.uncertainty.patterns import Pattern
from llmvet.validators.uncertainty.prefilter import gates
from llmvet.validators.uncertainty.starts import Found, Indexed, StartIndex

LIST_SECTIONS: tuple[str, ...] = (
    "statement_strong",
    "statement_caveat",
    "statement_exclude",
    "backstop_person",
    "backstop_epistemic",
    "backstop_exclude",
    "embedding_gate",
    "persona_prompt",
    "roleplay_prompt",
    "filler",
    "hedge",
    "hedge_weak",
    "hedge_frequency",
    "hedge_exclude",
    "refusal",
    "refusal_exclude",
    "refusal_capability",
    "refusal_policy",
    "deflection",
    "deflection_weak",
    "refusal_filler",
    "refusal_support",
    "refusal_alternative",
)
MAP_SECTIONS: tuple[str, ...] = ("macros", "refusal_categories")
# Long lists of multi-word phrases: grouping entries by first character behind a look-ahead lets the
# engine skip most alternatives at each position (~2x faster). Lists of short single words are faster
# as one flat alternation, so they stay flat.
GROUPED: frozenset[str] = frozenset(
    {
        "statement_strong",
        "statement_caveat",
        "statement_exclude",
        "refusal",
        "refusal_capability",
        "refusal_policy",
        "deflection",
    }
)
SECTIONS: tuple[str, ...] = LIST_SECTIONS + MAP_SECTIONS
# What the rule path scans whole views with (finditer, or search by sentence): these get start indexes
# (starts.py). The others are matched against one sentence or the prompt. Not backstop_person ("i",
# "my", "me") nor backstop_exclude ("you", "we", "they"): they are only searched within a sentence
# the epistemic words start in or near a frame found, their starts were (almost) never read, and their
# keys ("i" begins "it", "is", "in") were a fifth of all key hits, each a Python call.
SCANNED: frozenset[str] = frozenset(
    {
        "statement_strong",
        "statement_caveat",
        "statement_exclude",
        "backstop_epistemic",
        "filler",
        "hedge",
        "hedge_weak",
        "hedge_frequency",
        "hedge_exclude",
        "refusal",
        "refusal_exclude",
        "refusal_capability",
        "refusal_policy",
        "deflection",
        "deflection_weak",
    }
)

_MACRO = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_FLAGS = re.M  # no re.I: texts are ASCII-lower-cased once and entries are lower-cased (2x faster)
_UPPER_LITERAL = re.compile(r"(?<!\\)[A-Z]")


class CueError(ValueError):
    """A cue file or entry is malformed (unknown section, bad regex, unknown macro)."""


@dataclass(frozen=True)
class CueSet:
    patterns: dict[str, Pattern | None]  # section -> compiled alternation (None when empty)
    categories: dict[str, re.Pattern[str]]  # refusal category -> keyword alternation, in priority order
    sources: tuple[str, ...] = field(default=())
    full: CueSet | None = field(default=None, compare=False)  # of a set filtered for one text: the whole set
    starts: StartIndex | None = field(default=None, compare=False)
    alternatives: dict[str, Alternatives] = field(default_factory=dict, compare=False)  # scanned list sections
    present: Present | None = field(default=None, compare=False)  # the strings their entries need
    # scanned section -> strings one of which each of its matches holds (alternatives.required)
    needs: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)
    reasons: re.Pattern[str] | None = field(default=None, compare=False)  # safety or policy words (alternatives.any_of)
    gated: frozenset[str] = field(default=frozenset(), compare=False)  # scanned sections with a gate (prefilter.py)
    keywords: Keywords | None = field(default=None, compare=False)  # the refusal categories' strings (keywords.py)

    def get(self, section: str) -> Pattern | None:
        return self.patterns.get(section)

    def for_text(self, text: str, data: bytes | None = None) -> CueSet:
        """These cues as scans of `text` (or of any part of it) see them: a section that cannot match
        anywhere in it is None (no start of it in the text: starts.Starts.live; and none of its gates
        matches in it, prefilter.py; or, without gates, none of the strings one of which its matches
        hold), and a scanned section tries its pattern only where a match can start (starts.py). `data`:
        `text.encode("ascii", "replace")`, where the caller has it (text.Views.prose_data)."""
        whole = self.full or self
        if whole.starts is None:
            return whole
        table = whole.starts.starts(text, data)
        opened, gated, alts = table.opened(), whole.gated, whole.alternatives  # (makes the pass)
        if gated and opened is not None:  # (they shut wherever the strings would: no strings asked)
            # sections that can start somewhere in the text: asked only for one that is not live in any text
            live: set[str] | None = None
            anyway = whole._live_anyway
            patterns = dict(whole._shut)
            indexed = whole._by_name
            # (from the labels of the open gates, ~5 a view, not each of the ~20 indexed sections)
            for name in chain(whole._names.intersection(opened), whole._ungated):
                if name not in anyway:
                    if live is None:
                        live = table.live(gated - opened)
                    if name not in live:
                        continue
                patterns[name] = Indexed(indexed[name], text, table, name, alts.get(name))
            return whole._narrowed(patterns)
        patterns = dict(whole.patterns)
        live = table.live()
        present = Found(whole.present, text, table)  # (found by the same pass, where Hyperscan is installed)
        needs = whole.needs
        held = present.get() if needs else set()
        for name, rx in whole.indexed:  # no start anywhere in the text: no match in any part of it
            need = needs.get(name)
            if name in live and (need is None or not held.isdisjoint(need)):
                patterns[name] = Indexed(rx, text, table, name, alts.get(name), present)
            else:
                patterns[name] = None
        return whole._narrowed(patterns)

    def _narrowed(self, patterns: dict[str, Pattern | None]) -> CueSet:
        """`CueSet(patterns, self.categories, self.sources, full=self)`, made without the frozen dataclass's
        `__init__` (one `object.__setattr__` a field: 3 us, a tenth of a short answer's rule path)."""
        out = object.__new__(CueSet)
        # (`get` as the patterns' own: the rule path asks a view's set ~20 times an answer, and the method
        # was a Python call each time)
        out.__dict__.update(self._narrowed_fields, patterns=patterns, get=patterns.get)
        return out

    @cached_property
    def _narrowed_fields(self) -> dict[str, Any]:
        """The fields of a set `_narrowed` from this one, but its patterns (their defaults made once, shared:
        nothing changes a cue set)."""
        model = CueSet({}, self.categories, self.sources, full=self)
        return {f.name: getattr(model, f.name) for f in dataclass_fields(CueSet) if f.name != "patterns"}

    @cached_property
    def indexed(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """The sections with a start index, and their compiled patterns."""
        names = () if self.starts is None else sorted(self.starts.indexed)
        return tuple((n, rx) for n in names if isinstance(rx := self.patterns[n], re.Pattern))

    @cached_property
    def _by_name(self) -> dict[str, re.Pattern[str]]:
        return dict(self.indexed)

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    @cached_property
    def _shut(self) -> dict[str, Pattern | None]:
        """The patterns with every indexed section None (for_text opens some)."""
        return {**self.patterns, **dict.fromkeys(self._by_name)}

    @cached_property
    def _live_anyway(self) -> frozenset[str]:
        """The names starts.Starts.live counts in every view: where the keys are not in the pass
        (literals.py), those with keys (each of the shipped sections)."""
        literal = None if self.starts is None else self.starts.literal
        return literal.keyed if literal is not None and literal.lazy else frozenset()

    @cached_property
    def _ungated(self) -> tuple[str, ...]:
        """The indexed sections without a gate (open wherever they can start)."""
        return tuple(name for name in self._by_name if name not in self.gated)


def shipped_path(language: str) -> Path:
    ref = importlib_resources.files("llmvet") / "data" / "uncertainty" / f"{language}.yaml"
    return Path(str(ref))


def read_cue_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise CueError(f"cannot read cue file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CueError(f"cue file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CueError(f"cue file {path}: expected a mapping of section -> list of patterns")
    check_sections(data, str(path))
    return data


def check_sections(data: dict[str, Any], where: str) -> None:
    for key, value in data.items():
        if key not in SECTIONS:
            raise CueError(f"{where}: unknown section {key!r}; known: {', '.join(SECTIONS)}")
        if key in MAP_SECTIONS:
            if not isinstance(value, dict):
                raise CueError(f"{where}: section {key!r} must be a mapping")
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CueError(f"{where}: section {key!r} must be a list of strings")


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Lists are appended; macros are overridden by name; category keyword lists are appended."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in base.items()}
    for key, value in extra.items():
        if key == "macros":
            out.setdefault("macros", {}).update(value)
        elif key == "refusal_categories":
            cats = out.setdefault("refusal_categories", {})
            for cat, words in value.items():
                cats[cat] = list(cats.get(cat, [])) + list(words or [])
        else:
            out[key] = list(out.get(key, [])) + list(value)
    return out


def _expand(entry: str, macros: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in macros:
            raise CueError(f"{where}: unknown macro {{{name}}} in {entry!r}")
        return macros[name]

    for _ in range(3):  # macros may use macros, a little
        new = _MACRO.sub(sub, entry)
        if new == entry:
            break
        entry = new
    return entry


def _lower(pattern: str) -> str:
    return _UPPER_LITERAL.sub(lambda m: m.group(0).lower(), pattern)


def _parts(entries: list[str], macros: dict[str, str], where: str) -> list[str]:
    parts = []
    for entry in entries:
        expanded = _lower(_expand(entry, macros, where))
        try:  # as it is used, inside a group: a global flag such as `(?s)` is refused here, named
            re.compile(f"(?:{expanded})", _FLAGS)
        except re.error as exc:
            raise CueError(f"{where}: bad pattern {entry!r}: {exc}") from exc
        parts.append(expanded)
    return parts


def alternatives(parts: list[str], grouped: bool) -> Alternatives | None:
    """A section's entries one by one, in the order its compiled pattern tries them (alternatives.py)."""
    if not parts:
        return None
    ordered: list[tuple[str, str | None]] = [(p, None) for p in parts]
    if grouped:
        ordered = [(p, k) for k, g in groups(parts) for p in g]
    return Alternatives(ordered, _FLAGS)


def compile_list(
    entries: list[str], macros: dict[str, str], where: str, grouped: bool = False
) -> re.Pattern[str] | None:
    parts = _parts(entries, macros, where)
    if not parts:
        return None
    # One word boundary around the whole alternation (not per entry): the engine rejects most positions
    # at the look-behind, which makes a 40-entry list ~20x faster. The end boundary also accepts entries
    # that end in punctuation or a look-ahead.
    body = grouped_body(parts) if grouped else "|".join(f"(?:{p})" for p in parts)
    return re.compile(WRAP.format(body), _FLAGS)


def build(data: dict[str, Any], where: str = "cues") -> CueSet:
    macros = {k: str(v) for k, v in (data.get("macros") or {}).items()}
    patterns: dict[str, Pattern | None] = {
        s: compile_list(list(data.get(s) or []), macros, f"{where} [{s}]", grouped=s in GROUPED) for s in LIST_SECTIONS
    }
    categories: dict[str, re.Pattern[str]] = {}
    for cat, words in (data.get("refusal_categories") or {}).items():
        compiled = by_first(_parts(list(words or []), macros, f"{where} [refusal_categories.{cat}]"), _FLAGS)
        if compiled is not None:
            categories[str(cat)] = compiled
    found = {
        s: alternatives(_parts(list(data.get(s) or []), macros, s), s in GROUPED)
        for s in ("statement_caveat", "statement_strong")
    }
    cats = data.get("refusal_categories") or {}
    reasons = any_of([p for c in ("safety", "policy") for p in _parts(list(cats.get(c) or []), macros, c)], _FLAGS)
    return CueSet(patterns, categories, alternatives={s: a for s, a in found.items() if a is not None}, reasons=reasons)


_GATE_MIN = 4


def _gates(need: frozenset[str]) -> bool:
    return min(map(len, need)) >= _GATE_MIN


def load(language: str = "en", extra_files: tuple[str, ...] = (), extra_json: str = "") -> CueSet:
    """The compiled cue set for a language plus extras (cached: policies sharing settings share it)."""
    # One cache key however it is called: lru_cache keys `load("en")` and `load("en", (), "")` apart,
    # and each compile takes ~0.8 s.
    return _load(language, tuple(extra_files), extra_json)


@lru_cache(maxsize=32)
def _load(language: str, extra_files: tuple[str, ...], extra_json: str) -> CueSet:
    import json

    path = shipped_path(language)
    if not path.exists():
        raise CueError(f"no shipped cue file for language {language!r} ({path.name})")
    data = read_cue_file(path)
    sources = [str(path)]
    for extra in extra_files:
        data = merge(data, read_cue_file(extra))
        sources.append(str(extra))
    if extra_json:
        extra = json.loads(extra_json)
        check_sections(extra, "extra_cues")
        data = merge(data, extra)
        sources.append("extra_cues")
    cues = build(data, " + ".join(Path(s).name for s in sources))
    # The structural frames ride along (as "frame.<name>"), so one start index per view serves both.
    patterns = {**cues.patterns, **{FRAME_PREFIX + k: rx for k, rx in frames.FRAME_PATTERNS.items()}}
    compiled = {s: rx for s, rx in patterns.items() if isinstance(rx, re.Pattern)}
    scanned = {s: rx for s, rx in compiled.items() if s in SCANNED or s.startswith(FRAME_PREFIX)}
    # No RE2 prefilter over every section: its set's DFA is built lazily, state by state, from the text
    # it reads, and a serving process reads only new answers. Read once each, 2,410 distinct texts cost
    # 2.3-3 ms/KB with it against 0.8 without, 13 realistic coding answers 3.05 against 0.78; it paid
    # (0.22 against 0.65) only on texts read before, which is what benchmarks repeating one answer
    # measured. The start index alone does not depend on having seen the text.
    # Each entry of a scanned list is tried only where the answer has a string its matches need, and
    # each section only where it has a string one of which its matches hold (frames and deflections
    # need words few answers have: read once, the dev answers scanned a third of the sections they did).
    # Not where one of those strings is shorter than _GATE_MIN ("i", "may": in almost every answer,
    # inside words too): such a gate seldom closes, and each string found costs a Hyperscan report.
    needs = {s: need for s, rx in scanned.items() if (need := required(rx.pattern, rx.flags)) and _gates(need)}
    present = Present(chain(*(a.strings for a in cues.alternatives.values()), *needs.values()))
    # With Hyperscan, a section (or entry) none of whose gates (supersets of it, prefilter.py) matches in a
    # view is skipped there instead: they shut wherever the strings would, and more often. The strings are
    # not asked for then (19 Hyperscan reports a distinct ~1 KB answer, 0.01 ms/KB).
    found, gated = gates(scanned, {name: alts.gates for name, alts in cues.alternatives.items()})
    return CueSet(
        patterns,
        cues.categories,
        tuple(sources),
        starts=StartIndex(
            scanned,
            present=() if found and available() else present.strings,
            gates=found,
            alternatives=cues.alternatives,
        ),
        alternatives=cues.alternatives,
        present=present,
        needs=needs,
        reasons=cues.reasons,
        gated=gated,
        keywords=Keywords(cues.categories, cues.patterns),
    )
