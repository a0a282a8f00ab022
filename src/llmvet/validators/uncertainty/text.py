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
    r"\"[^\"\n]{1,500}\"|\u201c[^\u201d]{1,500}\u201d|\u2018.{1,300}?\u2019(?!\w)|(?<![\w'])'[^'\n]{1,300}?'(?![\w'])"
)
# Markdown emphasis markers, incl. single-underscore italics ("_I'm unsure..._"), which would otherwise glue
# to the first word and hide it from word-boundary cues.
_EMPHASIS = re.compile(r"\*+|(?<!\w)__|__(?!\w)|(?<![\w_])_(?=[A-Za-z])|(?<=[\w.!?,;:)])_(?![\w_])")
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
_COMMENTS = re.compile(
    r"(?:^|(?<=\s))#(?!include|!|define|pragma|if|endif|\[)[^\n]*"  # Python, shell, Ruby, YAML, R
    r"|(?:^|(?<=[\s;{}]))//[^\n]*"  # C family, JS, Go, Rust
    r"|/\*.*?\*/"  # block comments
    r"|(?:^|(?<=\s))--[ \t][^\n]*"  # SQL, Lua, Haskell
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


@dataclass(slots=True)
class Compact:
    """A view with runs of blanks squeezed to one space (cue lists use single spaces), and the way back."""

    text: str
    _cps: list[int]  # compact positions where a new offset starts
    _offs: list[int]  # characters removed before that position

    @classmethod
    def of(cls, s: str) -> Compact:
        parts: list[str] = []
        cps, offs = [0], [0]
        last = removed = 0
        for m in _RUN.finditer(s):
            parts.append(s[last : m.start() + 1])
            cps.append(m.start() + 1 - removed)
            removed += m.end() - m.start() - 1
            offs.append(removed)
            last = m.end()
        parts.append(s[last:])
        return cls("".join(parts), cps, offs)

    def orig(self, pos: int) -> int:
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


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _looks_like_code(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return False
    code = sum(1 for ln in lines if _CODE_LINE.match(ln))
    return code / len(lines) >= 0.6


def build_views(raw: str) -> Views:
    text = raw if raw.isascii() else _normalise(raw)
    prose = list(text)
    code_spans: list[tuple[int, int]] = []
    for m in _FENCE.finditer(text):
        code_spans.append((m.start(3), m.end(3)))
        _blank(prose, m.start(), m.end())
    unfenced_code = not code_spans and _looks_like_code(text)
    if unfenced_code:
        code_spans.append((0, len(text)))
        _blank(prose, 0, len(text))
    joined = "".join(prose)
    for rx in (_INLINE_CODE, _BLOCKQUOTE, _QUOTES):
        for m in rx.finditer(joined):
            _blank(prose, m.start(), m.end())
        joined = "".join(prose)
    _blank_letters(prose, joined)
    joined = "".join(prose)
    for m in _EMPHASIS.finditer(joined):
        _blank(prose, m.start(), m.end())
    prose_text = _lower("".join(prose))

    if code_spans:
        comments = [" " if c != "\n" else "\n" for c in text]
        for start, end in code_spans:
            for m in _COMMENTS.finditer(text, start, end):
                comments[m.start() : m.end()] = text[m.start() : m.end()]
        comment_text = _comment_view("".join(comments))
    else:
        comment_text = ""
    words = len(_WORD.findall(prose_text))
    prose_c, comments_c = Compact.of(prose_text), Compact.of(comment_text)
    return Views(
        text=text,
        prose=prose_c.text,
        comments=comments_c.text,
        maps={"prose": prose_c, "comment": comments_c},
        prose_words=words,
        code_only=bool(code_spans) and words < 5,
        has_code=bool(code_spans),
    )


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
    comment_text = re.sub(
        r"(?m)#|//|/\*|\*/|\"\"\"|\'\'\'|<!--|-->|^\s*--", lambda m: " " * len(m.group(0)), comment_text
    )
    # A comment sentence wrapped over several lines reads as one line (same length: newline -> blank).
    comment_text = re.sub(r"(?<=[\w,;(-])[ \t]*\n(?=[ \t]*[a-zA-Z(])", lambda m: " " * len(m.group(0)), comment_text)
    return _lower(comment_text)


def _blank_letters(chars: list[str], text: str) -> None:
    """Blank drafted letters/emails: their first person is the user's, not the model's."""
    for start in _LETTER_START.finditer(text):
        end = _LETTER_END.search(text, start.end())
        if end is not None:
            _blank(chars, start.start(), end.end())
            return


def count_words(text: str, start: int = 0, end: int | None = None) -> int:
    return len(_WORD.findall(text, start, len(text) if end is None else end))
