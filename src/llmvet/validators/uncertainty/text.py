"""Views of an answer with the same character offsets as the original text.

- `prose`: what the answer's author says in their own voice. Code, inline code, quoted passages,
  blockquotes and drafted letters/emails are blanked (their words belong to someone else or to the
  program), so cues found here can be attributed to the answer itself.
- `comments`: only the comments inside code, where a code-only answer may state its uncertainty.
Blanking keeps newlines, so line-anchored cues ("Uncertainty: ...") still work and spans map 1:1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llmvet.text import find_fences
from llmvet.validators.uncertainty.breaks import last_break_end, next_break
from llmvet.validators.uncertainty.compact import Compact
from llmvet.validators.uncertainty.lowering import lower as _lower
from llmvet.validators.uncertainty.marks import positions, quote_starts, sub_at
from llmvet.validators.uncertainty.standin import MARK_BYTE, stand_in

_APOSTROPHE_PAIRS = (("\u2019", "'"), ("\u02bc", "'"), ("\u00b4", "'"), ("\u00a0", " "), ("\u2011", "-"))

_INLINE_CODE = re.compile(r"`[^`\n]+`")
# Blockquotes are someone else's words, except labelled call-outs ("> **Confidence:** ...", "> [!NOTE]"),
# which answers use for their own notes.
_BLOCKQUOTE = re.compile(
    r"^[ \t]*>(?![ \t]*(?:\*\*|__|\*|_)?(?:\[!\w+\]|(?:my )?(?:confidence|uncertainty|certainty|caveat|note|warning)\b))[^\n]*",
    re.M | re.I,
)
_QUOTES = re.compile(
    r"\"[^\"\n]{1,500}\"|\u201c[^\u201d]{1,500}\u201d|\u2018.{1,300}?\u2019(?!\w)|'(?<![\w']')[^'\n]{1,300}?'(?![\w'])"
)
# Markdown emphasis markers, incl. single-underscore italics ("_I'm unsure..._"), which would otherwise glue
# to the first word and hide it from word-boundary cues.
# Every alternative starts with its marker (look-behinds after it), so the engine skips to the next `*`/`_`.
_EMPHASIS = re.compile(r"\*+|__(?<!\w__)|__(?!\w)|_(?<![\w_]_)(?=[A-Za-z])|_(?<=[\w.!?,;:)]_)(?![\w_])")
_LETTER_START = re.compile(
    r"^[ \t]*(?:\*\*)?(?:Subject:|Dear\b|To whom it may concern|Hi [A-Z]\w*,|Hello [A-Z]\w*,)", re.M
)
_LETTER_END = re.compile(
    r"^[ \t]*(?:Best|Regards|Kind regards|Best regards|Warm regards|Warmly|Sincerely|Yours(?: \w+)?|Thanks|"
    r"Thank you|Many thanks|Cheers|Respectfully|All the best|With love|Love|Best wishes|Warmest(?: \w+)?|Take care|"
    r"Talk soon|With thanks|With gratitude|Hugs|Speak soon|(?:Thanks|Thank you|Many thanks) (?:so much )?for [^\n]{1,40}|"
    r"Looking forward to [^\n]{1,40})[ \t]*[,!.]?[ \t]*\n(?:[^\n]{0,60}\n?){0,2}",
    re.M,
)
# Each alternative starts with its marker, the "at a line start or after a blank" test behind it.
_COMMENTS = re.compile(
    r"#(?<!\S#)(?!include|!|define|pragma|if|endif|\[)[^\n]*"  # Python, shell, Ruby, YAML, R
    r"|//(?<![^\s;{}]//)[^\n]*"  # C family, JS, Go, Rust
    r"|/\*.*?\*/"  # block comments
    r"|--(?<!\S--)[ \t][^\n]*"  # SQL, Lua, Haskell
    r"|\"\"\".*?\"\"\"|'''.*?'''"  # Python docstrings
    r"|<!--.*?-->",  # HTML, XML, Markdown
    re.S | re.M,
)
# A code line: one `_CODE_LINE` matches, or one that ends in ";" or "{" (blanks after), which the pattern's
# last alternative `.*[;{]\s*$` was: backing off from the end of each prose line, 32 M instructions on the
# benchmark pass (dev answers are often one long line) against 12 with `str.endswith` first.
_CODE_LINE = re.compile(
    r"^\s*(?:import |from \S+ import|def |class |async def |@\w|#include|package |func |fn |let |const |var |"
    r"public |private |return |if ?\(|for ?\(|while ?\(|SELECT |INSERT |CREATE |<\?php|\$ |>>> |"
    r"\w+(?:\.\w+)*\(.*\)\s*;?\s*$|[\w.\[\]]+ ?[+\-*/]?= ?.+$|[{}()\[\];]+\s*$)"
)
_CODE_ENDS = (";", "{")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_BLANKS = bytes(10 if c == 10 else 32 for c in range(256))  # every byte but "\n" to a blank (_blank_text)
_LETTERS = bytes(97 if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))  # see count_words


_COMMENT_START = re.compile(r"#|//|/\*|--|\"\"\"|\'\'\'|<!--")  # what every _COMMENTS match begins with
# What `(?m)#|//|/\*|\*/|\"\"\"|\'\'\'|<!--|-->|^\s*--` matches, with `_marker_blank`. That last alternative,
# tried from every line start, read each run of blank lines once per line in it (80 KB of them: 1.2 s).
# A match of it starts at the first line start of a blank run and ends at the "--" after the run, so it
# is found from the run's start instead (`(?<!\s)`: once per run), with the part before that line start
# (the previous line's trailing blanks and its newline) kept as it is; where "-->" stands at that line
# start, the earlier alternative takes it there, as before.
_COMMENT_MARKER = re.compile(r"(?m)#|//|/\*|\*/|\"\"\"|\'\'\'|<!--|-->|(?<!\s)(?:^|([^\S\n]*\n)(?!-->))\s*--")
# The same without its last alternative, for text with no "--": from every line start, `^\s*` ran
# through all the blank lines below (a comment view is mostly blank lines), quadratic in the length.
_BEFORE_DASHES = re.compile(r"\S(?=\s+--)")  # (one character: the next may start another)
_COMMENT_MARKER_NO_DASHES = re.compile(r"#|//|/\*|\*/|\"\"\"|\'\'\'|<!--")
# A comment sentence wrapped over several lines, `[\w,;(-][ \t]*\n(?=[ \t]*[a-zA-Z(])`, is found from
# its line break: a pattern starting with a character class is tried at every position of the (mostly
# blank) comment view, one starting with "\n" jumps from line break to line break.
_WRAP_BREAK = re.compile(r"\n(?=[ \t]*[a-zA-Z(])")
_LETTER_WORDS = ("Subject:", "Dear", "To whom it may concern", "Hi ", "Hello ")  # each _LETTER_START needs one


@dataclass(slots=True)
class Views:
    text: str  # normalised original (same length as the answer)
    prose: str  # lower-cased (ASCII letters at least), blanked as described above, blank runs squeezed (see `maps`)
    comments: str  # lower-cased likewise, squeezed likewise
    maps: dict[str, Compact]  # "prose" / "comment" -> mapping back to offsets in `text`
    prose_words: int
    code_only: bool
    has_code: bool
    # `prose` as literals.encoded reads it (ASCII bytes, each other character "?"): encoded once, for its
    # word count here and for the start pass and digit runs of its cue set (CueSet.for_text)
    prose_data: bytes | None = None

    def span(self, where: str, a: int, b: int) -> tuple[int, int]:
        """Offsets in the answer of a span found in the `where` view."""
        return self.maps[where].span(a, b)

    def original(self, where: str, a: int, b: int) -> str:
        s, e = self.maps[where].span(a, b)
        return self.text[s:e]

    def sentence_bounds(self, pos: int) -> tuple[int, int]:
        """Start and end of the prose sentence around `pos`."""
        prose = self.prose
        while pos < len(prose) and prose[pos].isspace():
            pos += 1
        return last_break_end(prose, max(0, pos - 600), pos), next_break(prose, pos)


def _blank_text(s: str) -> str:
    """`s` with everything but its newlines turned to blanks (offsets do not move): as ASCII bytes (each
    other character one "?", blanked like the rest), translated in C (a blank string per line, joined,
    cost 4x as much on a 5 KB coding answer)."""
    if "\n" not in s:
        return " " * len(s)
    return s.encode("ascii", "replace").translate(_BLANKS).decode("ascii")


def _blanked(m: re.Match[str]) -> str:
    return _blank_text(m.group())


def _looks_like_code(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    n = len(lines)
    if n < 2:
        return False
    code = 0
    for i, ln in enumerate(lines, 1):
        if ln.rstrip().endswith(_CODE_ENDS) or _CODE_LINE.match(ln):
            code += 1
        elif (n - (i - code)) / n < 0.6:  # too few even if every line left is code
            return False
    return code / n >= 0.6


def build_views(raw: str) -> Views:
    text = raw if raw.isascii() else _normalise(raw)
    swap = None if text.isascii() else stand_in(text)  # (see standin: the views are built on ASCII)
    prose, comments, has_code = _views_of(text if swap is None else swap.text)
    # (the prose view's hits are mapped back on almost every answer: 2,000 of 2,000 distinct ~1 KB ones; the
    # comment view's on few)
    prose_c = Compact(prose, mapped=True)
    comments_c = Compact(comments)
    data = prose_c.text.encode("ascii", "replace")
    if swap is not None:  # (each character a view kept is its MARK in the squeezed text)
        data = data.replace(MARK_BYTE, b"?")
        prose_c.text = swap.put_back(prose, prose_c.text)
        comments_c.text = swap.put_back(comments, comments_c.text)
    words = count_encoded_words(data)  # (squeezing blanks joins no words)
    return Views(
        text=text,
        prose=prose_c.text,
        comments=comments_c.text,
        maps={"prose": prose_c, "comment": comments_c},
        prose_words=words,
        code_only=has_code and words < 5,
        has_code=has_code,
        prose_data=data,
    )


def _views_of(text: str) -> tuple[str, str, bool]:
    """The prose and comment views of `text`, lower-cased, before their blanks are squeezed; and whether
    it has code."""
    # (an unclosed fence runs to the end of the text)
    fences = find_fences(text, open_ended=True) if "```" in text or "~~~" in text else []
    code_spans = [(a, b) for _, _, _, a, b in fences]
    blank = _blank_text(text) if fences else ""  # the text blanked: its slices blank any part of it
    prose = _spliced(text, blank, [(a, b) for a, b, _, _, _ in fences]) if fences else text
    if not code_spans and _looks_like_code(text):
        code_spans.append((0, len(text)))
        prose = blank = _blank_text(text)
    prose = _INLINE_CODE.sub(_blanked, prose)  # each on what the one before left
    if ">" in prose:  # (the pattern's `^` made the engine try it at every position)
        prose = _BLOCKQUOTE.sub(_blanked, prose)
    prose = sub_at(_QUOTES, prose, quote_starts(prose), _blanked)  # (the same as _QUOTES.sub, ~4x cheaper)
    prose = _blank_letters(prose)
    if "*" in prose or "_" in prose:  # every emphasis marker has one
        prose = _blank_emphasis(prose)
    return _lower(prose), _comments(text, blank, code_spans) if code_spans else "", bool(code_spans)


def _blank_emphasis(s: str) -> str:
    """`_EMPHASIS.sub(_blanked, s)` (a scan tried every position: 0.15 ms on 10 KB for a handful of
    markers); every alternative starts with `*` or `_`."""
    return sub_at(_EMPHASIS, s, positions(s, "*_"), _blanked)


def _blank_comment_markers(view: str) -> str:
    """`_COMMENT_MARKER.sub(_marker_blank, view)` (its last alternative, tried at every position of a
    mostly blank view, cost 0.27 ms on 10 KB). Its literal alternatives start with one of `#/*"'<-`;
    the last one at the string's start, or just after a non-blank followed by blanks then "--"."""
    starts = [0, *positions(view, "#/*\"'<-"), *(m.end() for m in _BEFORE_DASHES.finditer(view))]
    return sub_at(_COMMENT_MARKER, view, starts, _marker_blank)


def _spliced(text: str, other: str, spans: list[tuple[int, int]], fix: Callable[[str], str] | None = None) -> str:
    """`text` with the characters of `spans` (in order, not overlapping) taken from `other` instead
    (passed through `fix`, which keeps their length)."""
    pieces: list[str] = []
    last = 0
    for a, b in spans:
        pieces += (text[last:a], other[a:b] if fix is None else fix(other[a:b]))
        last = b
    pieces.append(text[last:])
    return "".join(pieces)


def _comments(text: str, blank: str, code_spans: list[tuple[int, int]]) -> str:
    """The comments inside the code spans, everything else blanked (same offsets), comment markers
    blanked too so "# I'm not sure" reads as a sentence."""
    found = []
    for start, end in code_spans:
        if _COMMENT_START.search(text, start, end) is None:
            continue  # no comment can start here: skip the scan
        found += [m.span() for m in _COMMENTS.finditer(text, start, end)]
    if not found:
        return blank
    if any("--" in text[a:b] for a, b in found):
        view = _blank_comment_markers(_spliced(blank, text, found))  # (`^\s*--` may span lines)
    else:  # every marker is inside a comment: blank them there (the rest of the view is blank)
        view = _spliced(blank, text, found, _blank_markers)
    return _lower(_unwrapped(view, found))


def _marker_blank(m: re.Match[str]) -> str:
    kept = m.group(1) or ""  # (before the first line start of a blank run)
    return kept + " " * (m.end() - m.start() - len(kept))


def _blank_markers(comment: str) -> str:
    return _COMMENT_MARKER_NO_DASHES.sub(_all_blank, comment)


def _normalise(s: str) -> str:
    """Curly apostrophes, no-break spaces and hyphens to ASCII (same length; str.replace beats translate)."""
    for old, new in _APOSTROPHE_PAIRS:
        if old in s:
            s = s.replace(old, new)
    return s


def _unwrapped(view: str, comments: list[tuple[int, int]]) -> str:
    """A comment sentence wrapped over several lines reads as one line: the line break after a word
    character or [,;(-] (and any blanks between) becomes blanks when a letter or "(" starts the next
    line. That letter is in a comment, so only the line breaks from the one before each comment up to
    its end are looked at."""
    pieces: list[str] = []
    last, seen = 0, -1
    for a, b in comments:
        for m in _WRAP_BREAK.finditer(view, max(view.rfind("\n", 0, a), 0), b):
            br = m.start()
            if br <= seen:
                continue
            seen = br
            start = view.rfind("\n", 0, br) + 1
            line = view[start:br].rstrip(" \t")
            if line and (line[-1].isalnum() or line[-1] in "_,;(-"):  # (what \w and [,;(-] match)
                keep = start + len(line)  # the blanks after the line's last character, and the break
                pieces += (view[last:keep], " " * (br + 1 - keep))
                last = br + 1
    if not pieces:
        return view
    pieces.append(view[last:])
    return "".join(pieces)


def _all_blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def _blank_letters(text: str) -> str:
    """Blank drafted letters/emails: their first person is the user's, not the model's."""
    if not any(map(text.__contains__, _LETTER_WORDS)):  # (in C: no generator)
        return text
    for start in _LETTER_START.finditer(text):
        end = _LETTER_END.search(text, start.end())
        if end is not None:
            a, b = start.start(), end.end()
            return text[:a] + _blank_text(text[a:b]) + text[b:]
    return text


def count_words(text: str, start: int = 0, end: int | None = None) -> int:
    """How many times `_WORD` matches in text[start:end]: the runs of [A-Za-z'-] with a letter in them.
    Counted in C without a match object: as ASCII bytes (any other character, one "?", is no part of a
    word), "'" and "-" deleted (a run without a letter vanishes, none joins another), every letter turned
    to "a" and every other byte to a blank: a word is an "a" after a blank or at the start (counted in C,
    where splitting made a bytes object per word: 6.7 us against 3.7 on a 1 KB answer's prose)."""
    return count_encoded_words(text[start:end].encode("ascii", "replace"))


def count_encoded_words(data: bytes) -> int:
    """`count_words` of a text given as `text.encode("ascii", "replace")`."""
    part = data.translate(_LETTERS, b"'-")
    return part.count(b" a") + part.startswith(b"a")
