"""`unescape` reads JSON string escapes as a JSON parser does, and maps every character back."""

from __future__ import annotations

import json
import random

import pytest

from llmvet.json_escapes import unescape


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (r"AKIA\u0049OSF", "AKIAIOSF"),
        (r"pip install a\nls", "pip install a\nls"),
        (r"\"q\" C:\\new \/ \t", '"q" C:\\new / \t'),
        (r"\ud83d\ude80!", "\U0001f680!"),  # a surrogate pair: one character
        (r"\ud83c x \udf00", "\ufffd x \ufffd"),  # halves without a partner
        (r"cut \u20", r"cut \u20"),  # a window may end inside an escape: left as written
        ("no escapes", "no escapes"),
    ],
)
def test_escapes_read_as_a_json_parser_reads_them(raw, text):
    assert unescape(raw).text == text


def test_every_character_maps_back_to_the_raw_text_that_wrote_it():
    """Against the standard library's parser, on strings of awkward characters (seeded, 3,000)."""
    alphabet = 'ab "\\/\n\t\u2014\U0001f680\ud83c\udf00\x01'
    rng = random.Random(7)
    escaped = 0
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        for ensure_ascii in (True, False):
            raw = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
            if not ensure_ascii and any(0xD800 <= ord(c) <= 0xDFFF for c in raw):
                continue  # (a lone half written unescaped is not JSON an upstream can send)
            parsed = json.loads(f'"{raw}"').encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            view = unescape(raw)
            assert view.text == parsed, raw
            if view.starts is None:
                assert "\\" not in raw
                continue
            escaped += 1
            assert len(view.starts) == len(view.text) + 1 and view.starts[-1] == len(raw)
            for i, char in enumerate(view.text):
                written = raw[slice(*view.raw_span(i, i + 1))]
                assert char == "\ufffd" or json.loads(f'"{written}"') == char, (raw, i)
    assert escaped > 2000  # (most strings held an escape: the map was exercised)


def test_with_quotes_as_breaks_each_string_stands_alone_and_is_found():
    """Keys and values of random objects (seeded, 2,000): `strings` holds each as the parser reads it."""
    alphabet = 'ab "\\/\n\t\u2014\U0001f680:,{}[]'
    rng = random.Random(11)
    for _ in range(2000):
        obj = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))): [
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))) for _ in range(rng.randint(0, 3))
            ]
            for _ in range(rng.randint(1, 3))
        }
        raw = json.dumps(obj, indent=rng.choice([None, 2]), ensure_ascii=rng.choice([True, False]))
        view = unescape(raw, quotes_as_breaks=True)
        assert [view.text[s:e] for s, e in view.strings] == [x for k, v in obj.items() for x in (k, *v)], raw
        for i, char in enumerate(view.text):
            written = raw[slice(*view.raw_span(i, i + 1))]
            assert written == char or (char, written) == ("\n", '"') or json.loads(f'"{written}"') == char


def test_text_that_is_not_json_keeps_its_quotes():
    assert unescape('pip install "requests"', quotes_as_breaks=True).text == 'pip install "requests"'
