"""The answer views are built with string methods and numpy where a regex was slow; each fast path must
give exactly what its plain regex definition gives, on real answers and on generated adversarial text."""

from __future__ import annotations

import random
import re
from bisect import bisect_right

import pytest

from llmvet.text import find_fences
from llmvet.validators.uncertainty import compact as compact_module
from llmvet.validators.uncertainty import text as views_text
from llmvet.validators.uncertainty.lowering import ASCII_LOWER
from llmvet.validators.uncertainty.marks import quote_starts, sub_at
from llmvet.validators.uncertainty.standin import stand_in
from tests.support.corpus import corpus_texts as all_corpus_texts

# The definitions the fast paths replace.
FENCE = re.compile(r"^[ \t]*(```|~~~)([^\n`]*)\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
FENCE_OPEN = re.compile(r"^[ \t]*(```|~~~)([^\n`]*)\n", re.M)
FENCE_CLOSE = re.compile(r"^[ \t]*(```|~~~)[ \t]*$", re.M)
RUN = re.compile(r"[ \t]{2,}")
RUN_TAIL = re.compile(r"(?<=[ \t])[ \t]+")
WRAPPED = re.compile(r"[\w,;(-][ \t]*\n(?=[ \t]*[a-zA-Z(])")
COMMENT_MARKER = re.compile(r"(?m)#|//|/\*|\*/|\"\"\"|\'\'\'|<!--|-->|^\s*--")

PIECES = [
    "```", "~~~", "```python\n", "  ```\n", "\t~~~ \n", "````\n", "x```\n", "``` ```\n", "~~~~\n", "```\r\n",
    "\n", "\n\n", "a\n", " ", "   ", "\t", " \t ", "`", "~",
    "# I'm not sure,\n", "  # wrapped\n", "// check this\n", "-- sql note\n", "/* block\n   more */", '"""doc\nstring"""',
    "<!-- c -->", "x = 1  # so\n", "foo,\n", "bar(\n", "  baz\n", "(qux)\n", "_\n",
    "word", "I'm not sure about this", "\u2019", "\u00a0", "\u2011", "\u00e9", "\u0130", "\ud800", "\x0b",
]  # fmt: skip


def generated(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(n)]


def corpus_texts() -> list[str]:
    return all_corpus_texts()[::3]  # (a third: these tests run many generated texts too)


def reference_fences(text: str, open_ended: bool) -> list[tuple[int, int, str, int, int]]:
    """The fences by the regexes alone (the quadratic-safe two-pass form find_fences had)."""
    closers: dict[str, list[tuple[int, int]]] = {"```": [], "~~~": []}
    for m in FENCE_CLOSE.finditer(text):
        closers[m.group(1)].append(m.span())
    out, pos = [], 0
    for m in FENCE_OPEN.finditer(text):
        if m.start() < pos:
            continue
        later = [c for c in closers[m.group(1)] if c[0] >= m.end()]
        if not later:
            if open_ended:
                out.append((m.start(), len(text), m.group(2), m.end(), len(text)))
                break
            continue
        out.append((m.start(), later[0][1], m.group(2), m.end(), later[0][0]))
        pos = later[0][1]
    return out


def reference_orig(source: str, pos: int) -> int:
    cps, offs, removed = [0], [0], 0
    for m in RUN.finditer(source):
        cps.append(m.start() + 1 - removed)
        removed += m.end() - m.start() - 1
        offs.append(removed)
    return pos + offs[bisect_right(cps, pos) - 1]


@pytest.mark.parametrize("seed", [1, 2])
def test_fences_match_their_regex_definition(seed):
    texts = generated(seed, 3000) + corpus_texts()
    assert sum(bool(find_fences(t)) for t in texts) > 500  # the generator makes plenty of blocks
    for text in texts:
        for open_ended in (False, True):
            assert find_fences(text, open_ended) == reference_fences(text, open_ended), (text, open_ended)
        # the uncertainty views read an unclosed fence as running to the end: the single regex's reading
        assert [f[3:5] for f in find_fences(text, open_ended=True)] == [m.span(3) for m in FENCE.finditer(text)]


@pytest.mark.parametrize(("seed", "numpy_from", "mapped"), [(3, 0, False), (4, 10**9, False), (5, 10**9, True)])
def test_squeezed_views_and_their_offsets_match_the_regex_squeeze(seed, numpy_from, mapped, monkeypatch):
    monkeypatch.setattr(compact_module, "_NUMPY_FROM", numpy_from)  # every way of squeezing, on every text
    texts = generated(seed, 2000) + corpus_texts()[:300]
    for source in texts:
        compact = views_text.Compact(source, mapped)
        assert compact.text == RUN_TAIL.sub("", source), source
        for pos in range(len(compact.text) + 1):
            assert compact.orig(pos) == reference_orig(source, pos), (source, pos)


@pytest.mark.parametrize("seed", [5, 6])
def test_comment_view_unwraps_lines_as_the_regex_does(seed):
    checked = 0
    for text in generated(seed, 4000) + corpus_texts():
        views = views_text.build_views(text)
        if not views.has_code:
            continue
        # the comment view is built from the comments alone; the regex runs over the whole view
        code_spans = [f[3:5] for f in find_fences(views.text, open_ended=True)] or [(0, len(views.text))]
        blank = views_text._blank_text(views.text)
        comments = views_text._comments(views.text, blank, code_spans)
        found = [m.span() for a, b in code_spans for m in views_text._COMMENTS.finditer(views.text, a, b)]
        if not found:
            continue
        spliced = views_text._spliced(blank, views.text, found)
        markers = COMMENT_MARKER if "--" in spliced else views_text._COMMENT_MARKER_NO_DASHES
        unmarked = markers.sub(lambda m: " " * len(m.group()), spliced)
        expected = WRAPPED.sub(lambda m: m.group()[0] + " " * (len(m.group()) - 1), unmarked)
        assert comments == views_text._lower(expected), text
        checked += expected != unmarked
    assert checked > 100  # many texts had wrapped comment lines to join


WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")  # what count_words counts


@pytest.mark.parametrize("seed", [1, 2])
def test_word_counts_match_the_word_regex(seed):
    rng = random.Random(seed)
    pieces = [*PIECES, "-", "'", "--", "'-'", "a-", "-b", "it's", "x'", "\u00e9t\u00e9", "\u2014", "9", "_a", "A"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(400)]
    for text in texts + corpus_texts()[:200]:
        assert views_text.count_words(text) == len(WORD.findall(text)), text
        for _ in range(5):  # any range, cutting words at either end
            a = rng.randrange(len(text) + 1)
            b = rng.randrange(a, len(text) + 1)
            assert views_text.count_words(text, a, b) == len(WORD.findall(text, a, b)), (text, a, b)


@pytest.mark.parametrize("seed", [1, 2])
def test_lower_is_str_lower_where_that_keeps_the_length(seed):
    """_lower lowers the ASCII letters on UTF-8 bytes where no other character changes: the same text as
    str.lower (or, where that changes the length, the ASCII letters lowered), characters that change
    ("É", "Σ" with its final form, "İ", "ǅ") and those that do not (dashes, emoji, lone surrogates) mixed."""
    rng = random.Random(seed)
    pieces = [*PIECES, "A", "Z", "\u00c9", "\u03a3", "\u03a3A", "A\u03a3 ", "\u01c5", "\u2014", "\u2192", "\U0001f600"]
    pieces += ["\ud83d\ude00", "\udfff", "\u00df", "\u1e9e", "\u2126", "\u212a", "\uff21", "\U00010400"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    for text in texts + corpus_texts()[:300]:
        lowered = text.lower()
        expected = lowered if len(lowered) == len(text) else text.translate(ASCII_LOWER)
        assert views_text._lower(text) == expected, repr(text)


@pytest.mark.parametrize("seed", [1, 2])
def test_views_share_the_prose_as_ascii_bytes(seed):
    """build_views encodes the prose once (`prose_data`), for its word count and for its cue set's start
    pass and digit runs (CueSet.for_text): it must be what literals.encoded gives and count what the word
    regex does."""
    from llmvet.validators.uncertainty.literals import encoded

    for text in generated(seed, 300) + corpus_texts()[:200]:
        views = views_text.build_views(text)
        assert views.prose_data == encoded(views.prose), text
        assert views.prose_words == len(WORD.findall(views.prose)), text


@pytest.mark.parametrize("seed", [3, 4])
def test_comment_markers_blank_as_their_regex_does(seed):
    rng = random.Random(seed)
    pieces = ["--", "-->", "<!--", "#", "//", "/*", "*/", "'''", '"""', "-", "x", "a b", " ", "\t", "\r", "\n"]
    pieces += [
        "\n\n",
        "    \n",
        " \t\n",
        "\x0b",
        "\x1c",
        "\u2028",
        "\u00a0",
        "-- note\n",
        "  -- x",
        "\n--",
        "y\n  \n  --z",
    ]
    for _ in range(10000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        expected = COMMENT_MARKER.sub(lambda m: " " * len(m.group()), text)
        assert views_text._COMMENT_MARKER.sub(views_text._marker_blank, text) == expected, repr(text)
        # and tried only where a match can start (marks.sub_at), same text
        assert views_text._blank_comment_markers(text) == expected, repr(text)


@pytest.mark.parametrize("seed", [5, 6])
def test_emphasis_blanks_as_its_regex_does(seed):
    """`_blank_emphasis` tries the pattern only at `*` and `_`: the same text as `sub` over every position."""
    rng = random.Random(seed)
    pieces = ["*", "**", "***", "_", "__", "___", "a", "word", "I'm", " ", "\n", ".", ",", ")", "(", "_a", "a_",
              "\u00e9", "\u2014", "9", "*_", "_*", "**bold**", "_it_", "snake_case", "\t"]  # fmt: skip
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for text in texts + corpus_texts()[:400]:
        expected = views_text._EMPHASIS.sub(views_text._blanked, text)
        assert views_text._blank_emphasis(text) == expected, repr(text)


def test_comment_markers_blank_from_their_starts_on_real_code():
    """Code answers with comments, their text blanked outside the comments as the comment view is built."""
    seen = 0
    for text in corpus_texts():
        if "--" not in text:
            continue
        for view in (text, views_text._blank_text(text)[: len(text) // 2] + text[len(text) // 2 :]):
            expected = COMMENT_MARKER.sub(lambda m: " " * len(m.group()), view)
            assert views_text._blank_comment_markers(view) == expected, view
            seen += 1
    assert seen > 20


def reference_blank_letters(text: str) -> str:
    """The definition: the first letter start that a letter end follows, blanked (no word looked for first)."""
    for start in views_text._LETTER_START.finditer(text):
        end = views_text._LETTER_END.search(text, start.end())
        if end is not None:
            a, b = start.start(), end.end()
            return text[:a] + views_text._blank_text(text[a:b]) + text[b:]
    return text


@pytest.mark.parametrize("seed", [7, 8])
def test_letters_blank_as_their_regexes_do(seed):
    """`_blank_letters` looks for the words a letter start needs first: the same text where it finds none."""
    rng = random.Random(seed)
    pieces = ["Subject: x\n", "Dear Ann,\n", "To whom it may concern,\n", "Hi Bo,\n", "Hello Cy,\n", "**", "  ",
              "Hi  Bo,", "Dear", "dear ", "Hello,\n", "body text.\n", "\n", "Best,\n", "Regards\n", "Sam\n",
              "Thanks for reading\n", "\u2014", "\u00e9", "I'm not sure.\n", "Cheers!\n"]  # fmt: skip
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(4000)]
    blanked = 0
    for text in texts + corpus_texts():
        expected = reference_blank_letters(text)
        assert views_text._blank_letters(text) == expected, text
        blanked += expected != text
    assert blanked > 1000


def test_blanking_keeps_only_newlines_at_their_offsets():
    """`_blank_text` (ASCII bytes translated in C) equals blanking each line, on real and non-ASCII text."""
    texts = corpus_texts()[:300] + ["", "\n", "a\r\nb", "caf\u00e9\n\u2014 x\n", "\U0001f600\nab\n\n", "\u0130\u00df\n"]
    for text in texts:
        expected = "\n".join(" " * len(line) for line in text.split("\n"))
        assert views_text._blank_text(text) == expected


SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*[ \t]+|\n+")
BREAK_PIECES = [
    ". ", ".\" ", "!) ", "?')]\t ", "?\n", "\n\n", "\n", "word", "two words", " ", "\t", "...", "e.g", "3.5", ".",
    "\"", ")", " \n ", "x" * 300, "y " * 200,
]  # fmt: skip


def reference_bounds(prose: str, pos: int) -> tuple[int, int]:
    """The definition: the end of the last break found by a scan of the 600 characters before `pos`."""
    while pos < len(prose) and prose[pos].isspace():
        pos += 1
    start = 0
    for m in SENTENCE_BREAK.finditer(prose, max(0, pos - 600), pos):
        start = m.end()
    nxt = SENTENCE_BREAK.search(prose, pos)
    return start, nxt.start() if nxt else len(prose)


@pytest.mark.parametrize("seed", range(3))
def test_sentence_bounds_match_a_scan_of_the_breaks_before(seed):
    rng = random.Random(seed)
    texts = ["".join(rng.choice(BREAK_PIECES) for _ in range(rng.randint(1, 40))) for _ in range(60)]
    for text in [*texts, *corpus_texts()[::10]]:
        views = views_text.build_views(text)
        step = max(1, len(views.prose) // 200)
        for pos in range(0, len(views.prose) + 1, step):
            assert views.sentence_bounds(pos) == reference_bounds(views.prose, pos), (text, pos)


QUOTE_START = re.compile(r"[\"\u201c\u2018]|'(?<![\w']')")  # where an alternative of _QUOTES may begin
QUOTE_PIECES = [
    "'", "''", '"', "\u201c", "\u201d", "\u2018", "\u2019", "\u00e9", "\u2014", "\U0001f600", "?", "_", "1", "a", "it",
    " ", "\n", "\t", "(", "-", ".", "don't", "'quoted'", '"said"', "\u00e9'x'", "?'y'", "\"'z'\"", "x' ", "'\u00e9'",
]  # fmt: skip


@pytest.mark.parametrize("seed", [21, 22])
def test_quotes_blank_as_their_regex_does(seed):
    """`_QUOTES` is tried only where `marks.quote_starts` says a match may start: every start of a match of
    its scan is one of them, and blanking there gives the text `_QUOTES.sub` gives."""
    rng = random.Random(seed)
    texts = ["".join(rng.choice(QUOTE_PIECES) for _ in range(rng.randint(0, 24))) for _ in range(6000)]
    blanked = 0
    for text in texts + corpus_texts():
        starts = set(quote_starts(text))
        assert starts == {m.start() for m in QUOTE_START.finditer(text)}, text
        assert {m.start() for m in views_text._QUOTES.finditer(text)} <= starts, text
        expected = views_text._QUOTES.sub(views_text._blanked, text)
        assert sub_at(views_text._QUOTES, text, starts, views_text._blanked) == expected, text
        blanked += expected != text
    assert blanked > 2000


STAND_IN_PIECES = [
    "```python\n", "```\n", "  # not sure \u2014 maybe\n", "x = 1  # so \u2013 ok\n", "def f():\n", "    return 1\n",
    "/* \u2026 */", "-- q \u00b0\n", "\n", "\n\n", " ", "   ", "\t", "`a\u2014b`", "> q \u2014\n", "'q\u2014'", '"d\u2192"',
    "*em\u2014*", "_it_", "Dear Ann,\n", "Best,\n", "Sam\u2014\n", "I'm not sure \u2014 it may be.", "word", "?", "\u2014?",
    "\u2014", "\u2013", "\u00d7", "\u2212", "\U0001f680", "\ud800", "\u00e9", "\u00c9", "\u0131", "\u017f", "\u212a",
    "\u03a3", "\u00df", "\u2003", "\u201c", "\u201d", "\u2018", "\x01", "0", "\x85", "\u2028", "\u00bd", "\u24b6",
    "\u2019", "\u00a0", "  " * 20,
]  # fmt: skip


@pytest.mark.parametrize("seed", [31, 32])
def test_views_built_on_a_stand_in_are_the_views_of_the_text(seed, monkeypatch):
    """Views built on the ASCII stand-in, with the kept characters put back, are those built from the text
    (every field, and offsets mapped back), on real answers and on text with characters of every kind."""
    rng = random.Random(seed)
    texts = ["".join(rng.choice(STAND_IN_PIECES) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    texts += ["".join(rng.choice(STAND_IN_PIECES) for _ in range(600)) for _ in range(20)]  # (numpy squeeze)
    texts += ["I'm not sure it will work, so check the result. " * 4 + t for t in texts[:3000]]  # (sparse: stand-ins)
    texts = [t for t in [*texts, *corpus_texts()] if not t.isascii()]

    def seen(views: views_text.Views) -> tuple[object, ...]:
        maps = [
            [views.maps[w].orig(i) for i in range(len(v) + 1)]
            for w, v in (("prose", views.prose), ("comment", views.comments))
        ]
        return (
            views.text,
            views.prose,
            views.comments,
            views.prose_words,
            views.code_only,
            views.has_code,
            views.prose_data,
            maps,
        )

    built = [seen(views_text.build_views(t)) for t in texts]
    monkeypatch.setattr(views_text, "stand_in", lambda text: None)
    assert built == [seen(views_text.build_views(t)) for t in texts]
    swapped = sum(stand_in(t) is not None for t in texts)
    assert swapped > 500


CODE_LINE = re.compile(
    r"^\s*(?:import |from \S+ import|def |class |async def |@\w|#include|package |func |fn |let |const |var |"
    r"public |private |return |if ?\(|for ?\(|while ?\(|SELECT |INSERT |CREATE |<\?php|\$ |>>> |"
    r"\w+(?:\.\w+)*\(.*\)\s*;?\s*$|[\w.\[\]]+ ?[+\-*/]?= ?.+$|[{}()\[\];]+\s*$|.*[;{]\s*$)"
)
CODE_PIECES = [
    "x = 1", "f(a)", "return x;", "int main() {", "}", "  ", "\t", ";", "{", " ;  ", "{\u2003", "word", "I think so.",
    "\n", "\n\n", "def f():", "import os", "a.b(c)", "(", ")", "\u00e9", "\u2014", "\r", "\x0c", "\u2028",
]  # fmt: skip


@pytest.mark.parametrize("seed", [41, 42])
def test_code_detection_matches_its_line_regex(seed):
    """`_looks_like_code`: ";"/"{" line ends tested with `str.endswith` and a stop once too few lines are
    left to reach 60 %, as counting the lines the one regex matches does."""
    rng = random.Random(seed)
    texts = ["".join(rng.choice(CODE_PIECES) for _ in range(rng.randint(1, 30))) for _ in range(6000)]
    hits = 0
    for text in texts + corpus_texts():
        lines = [ln for ln in text.splitlines() if ln.strip()]
        expected = len(lines) >= 2 and sum(1 for ln in lines if CODE_LINE.match(ln)) / len(lines) >= 0.6
        assert views_text._looks_like_code(text) == expected, text
        hits += expected
    assert hits > 1000


def test_no_stand_in_where_other_characters_are_dense():
    """Emoji- or symbol-dense text is built from itself: finding each character would cost more than the
    stand-in saves (past one in 16 characters)."""
    assert stand_in("\U0001f680" * 200) is None
    assert stand_in("ok \u2014 " * 200) is None  # one in five
    sparse = stand_in(("word " * 4 + "\u2014 ") * 50)  # one in 22
    assert sparse is not None and sparse.text.count("\x01") == 50
