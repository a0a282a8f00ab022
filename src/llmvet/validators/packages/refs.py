"""What extraction produces (`Ref`, `Extraction`) and the name parsing shared by commands and manifests.

A pip requirement or an npm spec token becomes a `Ref` whose span covers just the package name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement

Ecosystem = str  # "pypi" | "npm" | "conda"


@dataclass(slots=True)
class Ref:
    ecosystem: Ecosystem
    name: str  # as written: a distribution / npm package name, or for imports the top module
    span: tuple[int, int]
    kind: str  # "install" | "manifest" | "import"
    tool: str = ""  # pip, npm, requirements.txt, python-import…
    version: str | None = None  # an exact pinned version (==1.2 / @1.2.3), checked to exist
    spec: str = ""  # the requirement as written, for evidence
    optional: bool = False  # import inside try/except ImportError
    module: str = ""  # imports: the full dotted module path
    index_url: str = ""  # the command installs from another index (--index-url, --registry)
    extra_index: bool = False  # ... in addition to the public one (--extra-index-url): still checked there


# Everything about a reference but where it stands: two refs equal in these are judged alike
# (Judge.judge_all reads them inline, in this order; a test keeps the two in step).
REF_KEY_FIELDS = tuple(f.name for f in fields(Ref) if f.name != "span")


@dataclass(slots=True)
class Extraction:
    refs: list[Ref] = field(default_factory=list)
    local_modules: set[str] = field(default_factory=set)
    own: set[str] = field(default_factory=set)  # project names the answer's manifests declare (setup.py name=)


# template placeholders: <package>, {pkg}, $PKG, %pkg%, *
TEMPLATE = re.compile(r"[{}$%*]")
_DIRECT_REF = re.compile(r"\s@\s")  # PEP 508 `name @ url`
NPM_NAME = re.compile(r"^(?:@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*$", re.I)
PY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
NPM_EXACT = re.compile(r"^v?=?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")


# every test below needs one of these characters (str.lower makes no punctuation)
_PATH_CHARS = re.compile(r"[:/\\.~+@]")


def looks_like_path_or_url(tok: str) -> bool:
    return _PATH_CHARS.search(tok) is not None and _path_or_url(tok)  # (most tokens are plain names)


def _path_or_url(tok: str) -> bool:
    low = tok.lower()
    return (
        "://" in tok
        or low.startswith(
            ("git+", "hg+", "svn+", "bzr+", "file:", "github:", "gitlab:", "bitbucket:", "git@", "link:", "workspace:")
        )
        or tok.startswith((".", "/", "~", "\\"))
        or ("/" in tok.split("@", 1)[-1] and not tok.startswith("@"))
        or "\\" in tok
        or low.endswith(
            (
                ".whl",
                ".tar.gz",
                ".tgz",
                ".zip",
                ".txt",
                ".toml",
                ".cfg",
                ".py",
                ".in",
                ".lock",
                ".json",
                ".yml",
                ".yaml",
            )
        )
        or (len(tok) > 1 and tok[1] == ":" and tok[0].isalpha())  # C:\…
    )


# The usual requirement forms, read without packaging's parser (~10 us a call, every call of a new
# answer): a name, extras, and one comparison with a plain release version, all of which that parser
# accepts as written. Anything else (markers, URLs, wildcards, several specifiers...) goes to it.
_NAME_RE = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SIMPLE_REQUIREMENT = re.compile(
    rf"[ \t]*({_NAME_RE})[ \t]*(?:\[[ \t]*{_NAME_RE}(?:[ \t]*,[ \t]*{_NAME_RE})*[ \t]*\][ \t]*)?"
    r"(?:(?:(==|!=|>=|<=|>|<)[ \t]*[0-9]+|~=[ \t]*[0-9]+\.[0-9]+)((?:\.[0-9]+)*)[ \t]*)?"
)


def parse_requirement(body: str) -> tuple[str, str | None] | None:
    """(name, exact pinned version) of a PEP 508 requirement, or None (what `packaging_requirement` says)."""
    m = _SIMPLE_REQUIREMENT.fullmatch(body)
    if m is None:
        return packaging_requirement(body)
    return m.group(1), _simple_pin(body, m)


def _simple_pin(s: str, m: re.Match[str]) -> str | None:
    """The version a `_SIMPLE_REQUIREMENT` match of `s` pins with `==`, or None."""
    return s[s.index("==") + 2 : m.end(3)].strip(" \t") if m.group(2) == "==" else None


@lru_cache(maxsize=8192)
def packaging_requirement(body: str) -> tuple[str, str | None] | None:
    """(name, exact pinned version) of a PEP 508 requirement, or None, by packaging's parser; memoised."""
    try:
        req = Requirement(body)
    except InvalidRequirement:
        return None
    specs = list(req.specifier)
    pin = None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        pin = specs[0].version
    return req.name, pin


# A bare distribution name without dots: a requirement naming just itself (no template, path or pin)
_BARE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")


def pip_ref(tok: str, off: int, tool: str, kind: str = "install") -> Ref | None:
    """A requirement token (pip syntax, or poetry's name@constraint) -> Ref, or None to skip it."""
    if _BARE_NAME.fullmatch(tok):  # most tokens: what _pip_ref makes of them, without its tests
        return Ref("pypi", tok, (off, off + len(tok)), kind, tool, None, tok)
    # the usual pinned or extras forms (`fastapi>=0.110`, `uvicorn[standard]`): no template, "@" or path
    # character can stand in them, and with a comparison they end in a digit (no file suffix)
    m = _SIMPLE_REQUIREMENT.fullmatch(tok)
    if m is not None and (m.lastindex == 3 or "." not in tok):
        return Ref("pypi", m.group(1), (off + m.start(1), off + m.end(1)), kind, tool, _simple_pin(tok, m), tok)
    return _pip_ref(tok, off, tool, kind)


def _pip_ref(tok: str, off: int, tool: str, kind: str) -> Ref | None:
    if not tok or TEMPLATE.search(tok) or tok.startswith("<") or (tok.endswith(">") and "=" not in tok):
        return None  # template placeholders: <package>, {pkg}, $PKG, %pkg%
    if "@" in tok and _DIRECT_REF.search(tok):  # PEP 508 direct reference: the name is still a name
        tok = tok.split("@", 1)[0].rstrip()
    if looks_like_path_or_url(tok) or tok in ("...", "…"):
        return None
    body = tok
    if "@" in body and tool in ("poetry", "uvadd"):
        name_part, _, constraint = body.partition("@")
        body = name_part
        pin = constraint.lstrip("=") if re.fullmatch(r"=?=?\d[\w.+!-]*", constraint) else None
        if not PY_NAME.match(name_part):
            return None
        return Ref("pypi", name_part, (off, off + len(name_part)), kind, tool, pin, tok)
    if " @ " in body or body.endswith("@"):
        body = body.split("@", 1)[0].strip()
    parsed = parse_requirement(body)
    if parsed is None:
        return None
    name, pin = parsed
    i = tok.find(name)
    if i < 0:
        return None
    return Ref("pypi", name, (off + i, off + i + len(name)), kind, tool, pin, tok)


def npm_ref(tok: str, off: int, tool: str, kind: str = "install") -> Ref | None:
    """An npm spec token (name, name@version, alias@npm:real) -> Ref, or None to skip it."""
    if _BARE_NAME.fullmatch(tok):  # most tokens: what _npm_ref makes of them, without its tests
        return Ref("npm", tok, (off, off + len(tok)), kind, tool, None, tok)
    return _npm_ref(tok, off, tool, kind)


def _npm_ref(tok: str, off: int, tool: str, kind: str) -> Ref | None:
    if not tok or TEMPLATE.search(tok) or "<" in tok or ">" in tok or looks_like_path_or_url(tok):
        return None
    if "@npm:" in tok:  # alias@npm:real@1.2.3 installs `real`
        a = tok.index("@npm:") + 5
        return npm_ref(tok[a:], off + a, tool, kind)
    if tok.startswith("npm:"):
        return npm_ref(tok[4:], off + 4, tool, kind)
    at = tok.find("@", 1)
    name, version = (tok[:at], tok[at + 1 :]) if at > 0 else (tok, "")
    if not NPM_NAME.match(name) or name.startswith("-"):
        return None
    m = NPM_EXACT.match(version)
    return Ref("npm", name, (off, off + len(name)), kind, tool, m.group(1) if m else None, tok)
