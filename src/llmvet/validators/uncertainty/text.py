"""Views of an answer with the same character offsets as the original text.

- `prose`: what the answer's author says in their own voice. Code, inline code, quoted passages,
  blockquotes and drafted letters/emails are blanked (their words belong to someone else or to the
  program), so cues found here can be attributed to the answer itself.
- `comments`: only the comments inside code, where a code-only answer may state its uncertainty.
Blanking keeps newlines, so line-anchored cues ("Uncertainty: ...") still work and spans map 1:1.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})  # length-preserving, unlike str.lower
_APOSTROPHE_PAIRS = (("\u2019", "'"), ("\u02bc", "'"), ("\u00b4", "'"), ("\u00a0", " "), ("\u2011", "-"))

_FENCE = re.compile(r"^[ \t]*(```|~~~)([^\n`]*)\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
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
_CODE_LINE = re.compile(
    r"^\s*(?:import |from \S+ import|def |class |async def |@\w|#include|package |func |fn |let |const |var |"
    r"public |private |return |if ?\(|for ?\(|while ?\(|SELECT |INSERT |CREATE |<\?php|\$ |>>> |"
    r"\w+(?:\.\w+)*\(.*\)\s*;?\s*$|[\w.\[\]]+ ?[+\-*/]?= ?.+$|[{}()\[\];]+\s*$|.*[;{]\s*$)"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*[ \t]+|\n+")


_RUN = re.compile(r"[ \t]{2,}")
_RUN_TAIL = re.compile(r"(?<=[ \t])[ \t]+")  # a run squeezed to its first character: the rest goes
_COMMENT_STARTS = ("#", "//", "/*", "--", '"""', "'''", "<!--")  # what every _COMMENTS match begins with
_COMMENT_MARKER = re.compile(r"(?m)#|//|/\*|\*/|\"\"\"|\'\'\'|<!--|-->|^\s*--")
# The same without its last alternative, for text with no "--": from every line start, `^\s*` ran
# through all the blank lines below (a comment view is mostly blank lines), quadratic in the length.
_COMMENT_MARKER_NO_DASHES = re.compile(r"#|//|/\*|\*/|\"\"\"|\'\'\'|<!--")
# The character before the line break is matched (not looked behind for), so the scan jumps between candidates.
_WRAPPED_COMMENT = re.compile(r"[\w,;(-][ \t]*\n(?=[ \t]*[a-zA-Z(])")


class Compact:
    """A view with runs of blanks squeezed to one space (cue lists use single spaces), and the way back.

    The way back is worked out on first use: most answers need it for a few hits, many for none."""

    __slots__ = ("_cps", "_offs", "_source", "text")

    def __init__(self, source: str) -> None:
        self.text = _RUN_TAIL.sub("", source)
        self._source = source
        self._cps: list[int] = []  # compact positions where a new offset starts
        self._offs: list[int] = []  # characters removed before that position

    @classmethod
    def of(cls, s: str) -> Compact:
        return cls(s)

    def _map(self) -> None:
        cps, offs = [0], [0]
        removed = 0
        for m in _RUN.finditer(self._source):
            cps.append(m.start() + 1 - removed)
            removed += m.end() - m.start() - 1
            offs.append(removed)
        self._cps, self._offs = cps, offs

    def orig(self, pos: int) -> int:
        if not self._cps:
            self._map()
        return pos + self._offs[bisect_right(self._cps, pos) - 1]

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.orig(a), self.orig(b - 1) + 1 if b > a else self.orig(a)


@dataclass(slots=True)
class Views:
    text: str  # normalised original (same length as the answer)
    prose: str  # lower-cased ASCII, blanked as described above, blank runs squeezed (see `maps`)
    comments: str  # lower-cased ASCII, squeezed likewise
    maps: dict[str, Compact]  # "prose" / "comment" -> mapping back to offsets in `text`
    prose_words: int
    code_only: bool
    has_code: bool

    def span(self, where: str, a: int, b: int) -> tuple[int, int]:
        """Offsets in the answer of a span found in the `where` view."""
        return self.maps[where].span(a, b)

    def original(self, where: str, a: int, b: int) -> str:
        s, e = self.span(where, a, b)
        return self.text[s:e]

    def sentence_bounds(self, pos: int) -> tuple[int, int]:
        """Start and end of the prose sentence around `pos`."""
        prose = self.prose
        while pos < len(prose) and prose[pos].isspace():
            pos += 1
        start = 0
        for m in _SENTENCE_BREAK.finditer(prose, max(0, pos - 600), pos):
            start = m.end()
        nxt = _SENTENCE_BREAK.search(prose, pos)
        end = nxt.start() if nxt else len(prose)
        return start, end


def _blank_text(s: str) -> str:
    """`s` with everything but its newlines turned to blanks (offsets do not move)."""
    return "\n".join(" " * len(line) for line in s.split("\n")) if "\n" in s else " " * len(s)


def _blanked(m: re.Match[str]) -> str:
    return _blank_text(m.group())


def _looks_like_code(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return False
    code = sum(1 for ln in lines if _CODE_LINE.match(ln))
    return code / len(lines) >= 0.6


def build_views(raw: str) -> Views:
    text = raw if raw.isascii() else _normalise(raw)
    code_spans = [m.span(3) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub(_blanked, text) if code_spans else text
    if not code_spans and _looks_like_code(text):
        code_spans.append((0, len(text)))
        prose = _blank_text(text)
    for rx in (_INLINE_CODE, _BLOCKQUOTE, _QUOTES):  # each on what the one before left
        prose = rx.sub(_blanked, prose)
    prose = _blank_letters(prose)
    if "*" in prose or "_" in prose:  # every emphasis marker has one
        prose = _EMPHASIS.sub(_blanked, prose)
    prose_text = _lower(prose)
    comment_text = _comments(text, code_spans) if code_spans else ""
    words = len(_WORD.findall(prose_text))
    prose_c, comments_c = Compact(prose_text), Compact(comment_text)
    return Views(
        text=text,
        prose=prose_c.text,
        comments=comments_c.text,
        maps={"prose": prose_c, "comment": comments_c},
        prose_words=words,
        code_only=bool(code_spans) and words < 5,
        has_code=bool(code_spans),
    )


def _comments(text: str, code_spans: list[tuple[int, int]]) -> str:
    """The comments inside the code spans, everything else blanked (same offsets)."""
    pieces, last = [], 0
    for start, end in code_spans:
        if not any(marker in text[start:end] for marker in _COMMENT_STARTS):
            continue  # no comment can start here: skip the scan
        for m in _COMMENTS.finditer(text, start, end):
            pieces.append(_blank_text(text[last : m.start()]))
            pieces.append(m.group())
            last = m.end()
    pieces.append(_blank_text(text[last:]))
    return _comment_view("".join(pieces)) if last else pieces[0]


def _lower(s: str) -> str:
    # str.lower is fast but may change the length of non-ASCII text (e.g. "İ"); offsets must not move.
    if s.isascii():
        return s.lower()
    lowered = s.lower()  # lower() never maps a character to nothing, so equal length means aligned offsets
    return lowered if len(lowered) == len(s) else s.translate(_ASCII_LOWER)


def _normalise(s: str) -> str:
    """Curly apostrophes, no-break spaces and hyphens to ASCII (same length; str.replace beats translate)."""
    for old, new in _APOSTROPHE_PAIRS:
        if old in s:
            s = s.replace(old, new)
    return s


def _comment_view(comment_text: str) -> str:
    # Comment markers become blanks so "# I'm not sure" reads as a sentence.
    markers = _COMMENT_MARKER if "--" in comment_text else _COMMENT_MARKER_NO_DASHES
    comment_text = markers.sub(_all_blank, comment_text)  # (`^\s*--` may span lines)
    # A comment sentence wrapped over several lines reads as one line (same length: newline -> blank).
    comment_text = _WRAPPED_COMMENT.sub(_keep_first, comment_text)
    return _lower(comment_text)


def _all_blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def _keep_first(m: re.Match[str]) -> str:
    return m.group()[0] + " " * (m.end() - m.start() - 1)


def _blank_letters(text: str) -> str:
    """Blank drafted letters/emails: their first person is the user's, not the model's."""
    for start in _LETTER_START.finditer(text):
        end = _LETTER_END.search(text, start.end())
        if end is not None:
            a, b = start.start(), end.end()
            return text[:a] + _blank_text(text[a:b]) + text[b:]
    return text


def count_words(text: str, start: int = 0, end: int | None = None) -> int:
    return len(_WORD.findall(text, start, len(text) if end is None else end))
