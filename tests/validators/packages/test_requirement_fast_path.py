"""`parse_requirement` reads the usual requirement forms with one regex and sends the rest to packaging's
parser; on every string both must agree (packaging_requirement is the definition)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llmvet.validators.packages import refs

DATA = Path(__file__).resolve().parents[2] / "data"

NAMES = ["requests", "uvicorn", "a", "A9", "x.y", "x-y_z", "-x", "x-", "_x", "9", "é", "x y", "Flask", "zope.interface"]
OPS = ["==", "===", "!=", ">=", "<=", ">", "<", "~=", "=", "=>", " ==", "== ", "@", ""]
VERSIONS = ["1", "1.0", "0.110", "01.2", "1.2.3.4", "1.*", "1.0a1", "1.0.post1", "v1", "1.", ".1", "\u0663", "1+x", ""]
EXTRAS = ["", "[standard]", "[a,b]", "[ a , b ]", "[]", "[a b]", "[-a]", "[a,]", "[é]", " [x]"]
TAILS = ["", " ", "\t", ";python_version<'3.9'", ",<2", ", <2", " # c", "\n", "\u00a0", " x", "]", "=="]
WS = ["", " ", "\t", "  "]

piece = st.sampled_from
requirement_like = st.builds(
    lambda *parts: "".join(parts),
    piece(WS),
    piece(NAMES),
    piece(WS),
    piece(EXTRAS),
    piece(WS),
    piece(OPS),
    piece(WS),
    piece(VERSIONS),
    piece(TAILS),
)


def fast_path_taken(body: str) -> bool:
    return refs._SIMPLE_REQUIREMENT.fullmatch(body) is not None


@settings(max_examples=3000, deadline=None)
@given(requirement_like)
def test_generated_requirements_read_as_packaging_reads_them(body):
    assert refs.parse_requirement(body) == refs.packaging_requirement(body), body


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="ab9.-_[], =<>~!*;@\t\u00e9\u0663", max_size=24))
def test_any_short_string_reads_as_packaging_reads_it(body):
    assert refs.parse_requirement(body) == refs.packaging_requirement(body), body


def test_every_token_and_line_of_the_corpora_reads_as_packaging_reads_it():
    seen, fast = set(), 0
    for path in sorted(DATA.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text") if line.strip() else None
            if isinstance(text, str):
                seen.update(text.split())
                seen.update(ln.strip() for ln in text.splitlines())
                seen.update(q for ln in text.splitlines() for q in ln.split('"')[1::2])
    for body in seen:
        assert refs.parse_requirement(body) == refs.packaging_requirement(body), body
        fast += fast_path_taken(body) and refs.packaging_requirement(body) is not None
    assert fast > 1000  # the fast path is what most of them take


def test_the_fast_path_covers_the_usual_forms():
    for body in ("fastapi>=0.110", "boto3==1.34.0", "uvicorn[standard]>=0.29", "requests", "numpy ~= 1.26"):
        assert fast_path_taken(body), body
    assert refs.parse_requirement("boto3==1.34.0") == ("boto3", "1.34.0")
    for body in ("foo~=1", "foo==1.*", "a; python_version < '3'", "x @ https://e/x.whl", "x==1.0a1"):
        assert not fast_path_taken(body), body
