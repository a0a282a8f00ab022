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


TOOLS = (("pip", "install"), ("poetry", "install"), ("uvadd", "install"), ("requirements.txt", "manifest"))


@settings(max_examples=3000, deadline=None)
@given(requirement_like)
def test_pip_ref_reads_requirement_tokens_as_the_full_path_does(tok):
    """pip_ref takes the pinned and extras forms without the template and path tests: the Ref (span,
    pin, spec) must be the one _pip_ref gives, names with dots and file suffixes included."""
    for tool, kind in TOOLS:
        assert refs.pip_ref(tok, 7, tool, kind) == refs._pip_ref(tok, 7, tool, kind), (tok, tool)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="ab9.-_[], =<>~!*;@:/\\\t\u00e9\u0663", max_size=24))
def test_pip_ref_reads_any_short_token_as_the_full_path_does(tok):
    for tool, kind in TOOLS:
        assert refs.pip_ref(tok, 7, tool, kind) == refs._pip_ref(tok, 7, tool, kind), (tok, tool)


def test_pip_ref_keeps_file_names_and_pins_as_the_full_path_does():
    for tok in ("requirements.txt", "setup.py", "pkg.tar.gz", "x.whl", " zope.interface", "a.b[x]", "a[x]>=1.py"):
        assert refs.pip_ref(tok, 0, "pip") == refs._pip_ref(tok, 0, "pip", "install"), tok
    assert refs.pip_ref("requirements.txt", 0, "pip") is None
    got = refs.pip_ref(" boto3 == 1.34.0 ", 10, "requirements.txt", "manifest")
    assert got is not None and (got.name, got.span, got.version) == ("boto3", (11, 16), "1.34.0")
    got = refs.pip_ref("uvicorn[standard]>=0.29", 0, "pip")
    assert got is not None and (got.name, got.span, got.version, got.spec) == (
        "uvicorn", (0, 7), None, "uvicorn[standard]>=0.29")  # fmt: skip
