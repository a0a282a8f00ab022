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
Without the `pyperscan` package (multipattern.py: no wheel for the platform) `marks` returns None and extraction
searches as before.
"""

from __future__ import annotations

import re
import threading

from llmvet.validators import multipattern
from llmvet.validators.multipattern import CASELESS, SOM_LEFTMOST
from llmvet.validators.packages import extract_commands, extract_imports, scan
from llmvet.validators.packages.manifest_names import FILENAME_WORDS

# every form of every kind of command, in one order (ids 0 .. _COMMANDS - 1)
COMMAND_FORMS = tuple(form for forms in extract_commands.COMMAND_FORMS.values() for form in forms)


def _relaxed(form: str) -> bytes:
    """A command form as scan.relaxed reads it: Python's \\s and \\d over the ASCII view."""
    return form.replace(r"\s", scan.SPACE).replace(r"\d", scan.DIGIT).encode()


class _Database:
    """The compiled database, on first use (~10 ms)."""

    def __init__(self) -> None:
        self._db: multipattern.Database | None = None
        self._lock = threading.Lock()

    def get(self) -> multipattern.Database:
        db = self._db
        if db is None:
            with self._lock:
                if self._db is None:
                    self._db = _compile()
                db = self._db
        return db


_COMMANDS = len(COMMAND_FORMS)  # ids below it are command forms, then file words, then the folder form
_LIST = (0,) * _COMMANDS + (1,) * len(FILENAME_WORDS) + (2,)  # which list an id's starts go to


def _compile() -> multipattern.Database:
    expressions = [_relaxed(f) for f in COMMAND_FORMS] + [re.escape(w).encode() for w in FILENAME_WORDS]
    expressions.append(_relaxed(extract_imports.CREATED_FORM))
    flags = [SOM_LEFTMOST] * _COMMANDS + [SOM_LEFTMOST | CASELESS] * len(FILENAME_WORDS) + [SOM_LEFTMOST]
    return multipattern.Database(expressions, flags)


_DATABASE = _Database()


def available() -> bool:
    return multipattern.available()


def marks(text: str) -> tuple[list[int], list[int], list[int]] | None:
    """(the places an install command may start, the starts of file words, the places a command making a
    folder may start: extract_imports.created), each ascending and without repeats; None without Hyperscan."""
    if not multipattern.available():
        return None
    commands: list[int] = []
    words: list[int] = []
    made: list[int] = []
    add = (commands.append, words.append, made.append)

    def hit(i: int, start: int, _end: int) -> None:
        add[_LIST[i]](start)

    _DATABASE.get().scan(scan.ascii_view(text), hit)
    # (a form may end at several places from one start, `npm i` and `npm install`; two forms may start
    # at one place: the lists are short, most are empty)
    if len(commands) > 1:
        commands = sorted(set(commands))
    if len(words) > 1:
        words = sorted(set(words))
    if len(made) > 1:
        made = sorted(set(made))
    return commands, words, made
