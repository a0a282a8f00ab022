"""One Hyperscan pass over an answer for the places extraction reads further: where an install command
may start, where a manifest file word stands, and where a command making a folder may start.

Without it, extraction found the first with one RE2 call per candidate (scan.finditer: ~8 k instructions a
call, one per command and one more per answer) and the second with a search per file word; one call of a
Hyperscan database of both reports every place, and costs about what one RE2 call did.

What it gives must equal what those searches give, as extraction reads it:
- command starts: a superset of the places `_CMD` (extract_commands.py) matches. Each alternative of the
  command pattern is a pattern of its own, relaxed as scan.relaxed relaxes it (no look-arounds, `\\s` and
  `\\d` as Python reads them over the ASCII view), reported with its leftmost start. No two starts of one
  of them end at the same place (each opens with a word that does not recur in it), so every place one
  matches at is reported; `_CMD` is tried at each, in order, as scan.finditer tries RE2's candidates.
- file-word starts: every start of a manifest file word (manifest_names.FILENAME_WORDS) ignoring ASCII
  case, overlapping ones too: what FileWords finds without it.
- folder-command starts: every start of extract_imports.CREATED_FORM (the relaxed form RE2 reads for
  `created`, relaxed the same way): no two starts end at one place (the blanks before the name follow
  a word ending in a letter, so they are all of the blanks there, and no two of its words end alike), so
  every start is reported; `created` tries its pattern at each, as scan.finditer tries RE2's candidates
  (for a long answer with imports, an RE2 pass over the text and a second ASCII view of it saved).

All are read over the ASCII view of the text ("?" for every other character: the same offsets).
Without the `hyperscan` package (no wheel for the platform) `marks` returns None and extraction
searches as before.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from llmvet.validators.packages import extract_commands, extract_imports, scan
from llmvet.validators.packages.manifest_names import FILENAME_WORDS

try:
    import hyperscan
except ImportError:  # pragma: no cover - the package is a dependency where it has a wheel
    hyperscan = None  # type: ignore[assignment]

# every form of every kind of command, in one order (ids 0 .. _COMMANDS - 1)
COMMAND_FORMS = tuple(form for forms in extract_commands.COMMAND_FORMS.values() for form in forms)


def _relaxed(form: str) -> bytes:
    """A command form as scan.relaxed reads it: Python's \\s and \\d over the ASCII view."""
    return form.replace(r"\s", scan.SPACE).replace(r"\d", scan.DIGIT).encode()


class _Database:
    """The compiled database (on first use: ~10 ms) and a scratch per thread (extraction of a long answer
    runs in the thread pool)."""

    def __init__(self) -> None:
        self._db: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def scratch(self) -> tuple[Any, Any]:
        db = self._db
        if db is None:
            with self._lock:
                if self._db is None:
                    self._db = _compile()
                db = self._db
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(db)
        return db, scratch


_COMMANDS = len(COMMAND_FORMS)  # ids below it are command forms, then file words, then the folder form
_LIST = (0,) * _COMMANDS + (1,) * len(FILENAME_WORDS) + (2,)  # which list an id's starts go to


def _compile() -> Any:
    expressions = [_relaxed(f) for f in COMMAND_FORMS] + [re.escape(w).encode() for w in FILENAME_WORDS]
    expressions.append(_relaxed(extract_imports.CREATED_FORM))
    som = hyperscan.HS_FLAG_SOM_LEFTMOST
    flags = [som] * _COMMANDS + [som | hyperscan.HS_FLAG_CASELESS] * len(FILENAME_WORDS) + [som]
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags)
    return db


_DATABASE = _Database()


def _hit(i: int, start: int, _end: int, _flags: int, add: tuple[Any, Any, Any]) -> None:
    add[_LIST[i]](start)  # (a function of the module, its lists passed in: no closure made per answer)


def available() -> bool:
    return hyperscan is not None


def marks(text: str) -> tuple[list[int], list[int], list[int]] | None:
    """(the places an install command may start, the starts of file words, the places a command making a
    folder may start: extract_imports.created), each ascending and without repeats; None without Hyperscan."""
    if hyperscan is None:
        return None
    commands: list[int] = []
    words: list[int] = []
    made: list[int] = []
    db, scratch = _DATABASE.scratch()
    # (positional: the binding parsed the keywords for ~3.5 k instructions, a quarter of a short answer's scan)
    db.scan(scan.ascii_view(text), _hit, 0, (commands.append, words.append, made.append), scratch)
    # (a form may end at several places from one start, `npm i` and `npm install`; two forms may start
    # at one place: the lists are short, most are empty)
    if len(commands) > 1:
        commands = sorted(set(commands))
    if len(words) > 1:
        words = sorted(set(words))
    if len(made) > 1:
        made = sorted(set(made))
    return commands, words, made
