"""Manifests shown in code blocks: requirements files, pyproject.toml, setup.py / setup.cfg, Pipfile
and package.json; also the project's own name, so its imports are not looked up."""

from __future__ import annotations

import re

from llmvet.validators.packages.extract_imports import PY_LANGS
from llmvet.validators.packages.manifest_names import FILENAME, could_name_file, kind_of, last_mention
from llmvet.validators.packages.refs import NPM_EXACT, NPM_NAME, PY_NAME, Ref, npm_ref, parse_requirement, pip_ref

_REQ_OP = re.compile(r"(===?|>=|<=|~=|!=|>|<)\s*\d")
_QUOTED = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""")
_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("?)([A-Za-z0-9_.-]+)\1\s*=\s*(.*)$""")
_NPM_DEPS = re.compile(r'"(?:dev|peer|optional|bundle[d]?)?[dD]ependencies"\s*:\s*\{([^{}]*)\}')
_NPM_PAIR = re.compile(r'"([^"\n]+)"\s*:\s*"([^"\n]*)"')
_EXACT_PIN = re.compile(r"^\s*===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*$")
_BARE_PIN = re.compile(r"^(\d[\w.+!-]*)$")
_NOT_REGISTRY = re.compile(r"\b(path|git|url|file)\s*=")  # Poetry / Pipfile entries not from the registry
_PYPROJECT_TABLES = ("project", "tool.poetry", "dependency-groups", "build-system")


def pyproject_table(code: str) -> bool:
    r"""Whether `^\s*\[(project|tool\.poetry|dependency-groups|build-system)` (re.M) has a match: a `[`
    with only blanks before it on its line (`\s*` may reach back over blank lines to a line start: the
    blanks since the last newline decide) opening one of the tables; found with str.find, as the engine
    tries a `^`-anchored multiline pattern at every position."""
    i = code.find("[")
    while i >= 0:
        lead = code[code.rfind("\n", 0, i) + 1 : i]
        if (not lead or lead.isspace()) and code.startswith(_PYPROJECT_TABLES, i + 1):
            return True
        i = code.find("[", i + 1)
    return False


_SETUP_PY_LISTS = re.compile(r"\b(?:install_requires|setup_requires|tests_require)\s*=\s*\[")
_SETUP_CFG_REQUIRES = re.compile(r"^\s*install_requires\s*=[ \t]*(.*)$", re.M)
_NPM_OWN_NAME = re.compile(r'^\s*"name"\s*:\s*"([^"\n]+)"', re.M)

# the languages _manifest_kind reads a block of without a file name: TOML, JSON and requirements lists
_REQUIREMENTS_LANGS = {"", "text", "txt", "plaintext", "plain", "requirements", "pip", "pip-requirements", "ini"}
MANIFEST_LANGS = frozenset({"toml", "json", "jsonc", "json5", *_REQUIREMENTS_LANGS})
_KIND_LANGS = {
    "requirements": _REQUIREMENTS_LANGS,
    "pyproject": {"", "toml", "text", "ini"},
    "pipfile": {"", "toml", "text", "ini"},
    "setup.py": {"", "python", "py", "python3"},
    "setup.cfg": {"", "ini", "cfg", "text", "toml"},
    "package.json": {"", "json", "jsonc", "json5", "text"},
}


def first_line(code: str) -> str:
    """`code.lstrip().split("\\n", 1)[0]` without copying the rest of the block."""
    s = code.lstrip()
    nl = s.find("\n")
    return s if nl < 0 else s[:nl]


def _manifest_kind(lang: str, code: str, before: str, named: bool = True) -> str | None:
    """Which manifest a code block shows: from its info string or first line (`# requirements.txt`),
    else from the last file name mentioned just above it when the block's language fits that file.
    `named`: False when none of the three can name a file (the caller knows from one look at the answer)."""
    for probe in (lang, first_line(code)) if named else ():
        m = FILENAME.search(probe) if could_name_file(probe) else None
        if m:
            return kind_of(m.group(1))
    last = last_mention(before) if named and could_name_file(before) else None
    if last is not None:
        kind = kind_of(last.group(1))
        if lang in _KIND_LANGS[kind] and not (kind == "setup.py" and "setup(" not in code):
            return kind
    if lang == "toml" and pyproject_table(code):
        return "pyproject"
    if (lang in ("json", "jsonc", "json5") and '"dependencies"' in code) or '"devDependencies"' in code:
        return "package.json"
    if lang in _REQUIREMENTS_LANGS:
        lines = [ln.split("#", 1)[0].strip() for ln in code.splitlines()]
        lines = [ln for ln in lines if ln]
        if (
            lines
            and sum(bool(_REQ_OP.search(ln)) for ln in lines) * 2 >= len(lines)
            and all(_requirement_line_ok(ln) for ln in lines)
        ):
            return "requirements"
    return None


def _requirement_line_ok(line: str) -> bool:
    return line.startswith("-") or parse_requirement(line) is not None


_REQ_INDEX = re.compile(r"^(-i|--index-url|--extra-index-url)(?:\s*=\s*|\s+)(\S+)")


def _requirements(code: str, base: int, tool: str) -> list[Ref]:
    refs: list[Ref] = []
    pos = 0
    index: tuple[str, bool] | None = None  # pip applies a file's index options to every line of it
    for line in code.splitlines(keepends=True):
        content = line.split(" #", 1)[0].rstrip()
        if content.lstrip().startswith("#"):
            content = ""
        stripped = content.strip()
        lead = len(content) - len(content.lstrip())
        if (m := _REQ_INDEX.match(stripped)) and (index is None or not index[1] or m.group(1) != "--extra-index-url"):
            index = (m.group(2), m.group(1) == "--extra-index-url")
        if stripped and not stripped.startswith("-"):
            r = pip_ref(stripped, base + pos + lead, tool, "manifest")
            if r:
                refs.append(r)
        pos += len(line)
    for r in refs if index else []:
        r.index_url, r.extra_index = index  # type: ignore[misc]
    return refs


def _quoted_in(code: str, start: int, end: int, base: int, tool: str) -> list[Ref]:
    refs: list[Ref] = []
    for m in _QUOTED.finditer(code, start, end):
        val = m.group(1) if m.group(1) is not None else m.group(2)
        off = m.start() + 1
        r = pip_ref(val.strip(), base + off + (len(val) - len(val.lstrip())), tool, "manifest")
        if r:
            refs.append(r)
    return refs


# what _array_end stops at: outside a string, quotes, comments and brackets; inside one, its end or an escape
_ARRAY_MARK = re.compile(r"""["'#\[\]]""")
_STRING_END = {'"': re.compile(r'["\\]'), "'": re.compile(r"['\\]")}


def _array_end(code: str, pos: int) -> int:
    """Index just past the `]` closing the array opened before pos (quotes respected), jumping from one
    quote, comment or bracket to the next (a character loop cost ~0.1 us a character)."""
    depth, i, n = 1, pos, len(code)
    while (m := _ARRAY_MARK.search(code, i)) is not None:
        i, c = m.start(), m.group()
        if c == "#":
            nl = code.find("\n", i)
            if nl < 0:
                break
            i = nl
            continue
        if c in "\"'":
            i += 1
            while (e := _STRING_END[c].search(code, i)) is not None and code[e.start()] == "\\":
                i = e.start() + 2  # an escaped character
            if e is None:
                break
            i = e.end()
            continue
        depth += 1 if c == "[" else -1
        if depth == 0:
            return i + 1
        i += 1
    return n


_TOML_ARRAY_TABLES = ("project.optional-dependencies", "dependency-groups")
_TOML_DICT_TABLES = ("tool.poetry.dependencies", "tool.poetry.dev-dependencies", "packages", "dev-packages")
_UV_ARRAYS = ("dev-dependencies", "constraint-dependencies", "override-dependencies")


def _toml_is_array(table: str, key: str) -> bool:
    """Is `key` in `table` an array of PEP 508 requirements?"""
    return (
        table in _TOML_ARRAY_TABLES
        or (table == "project" and key == "dependencies")
        or (table == "build-system" and key == "requires")
        or (table == "tool.uv" and key in _UV_ARRAYS)
    )


def _toml_is_dict(table: str) -> bool:
    """Is `table` a Poetry / Pipfile table of `name = constraint` entries?"""
    return table in _TOML_DICT_TABLES or (table.startswith("tool.poetry.group.") and table.endswith(".dependencies"))


def _toml_dict_entry(line: str, k: re.Match[str], line_start: int, base: int, tool: str) -> Ref | None:
    """`name = "==1.2"` (or a table value) in a Poetry / Pipfile table; path, git and url entries are skipped."""
    value = k.group(3)
    if ("=" in value) and _NOT_REGISTRY.search(value):
        return None
    name_off = line_start + k.start(2)
    raw = k.group(2)
    pin = None
    m = _QUOTED.match(value.strip())
    if m:
        v = (m.group(1) or m.group(2) or "").strip()
        pm = _EXACT_PIN.match(v) or _BARE_PIN.match(v)
        pin = pm.group(1) if pm else None
    if not PY_NAME.match(raw):
        return None
    return Ref("pypi", raw, (base + name_off, base + name_off + len(raw)), "manifest", tool, pin, line.strip())


def _toml_manifest(code: str, base: int, tool: str) -> tuple[list[Ref], set[str]]:
    """PEP 621 / dependency groups / build-system / uv, Poetry and Pipfile tables, line by line
    (LLM snippets are often partial TOML, so no full parse)."""
    refs: list[Ref] = []
    own: set[str] = set()
    table = ""
    lines = code.splitlines(keepends=True)
    starts = []
    p = 0
    for ln in lines:
        starts.append(p)
        p += len(ln)
    i = 0
    while i < len(lines):
        line = lines[i]
        h = _TOML_HEADER.match(line)
        if h:
            table = h.group(1).strip().lower()
            i += 1
            continue
        k = _TOML_KEY.match(line)
        if not k:
            i += 1
            continue
        key, value = k.group(2).lower(), k.group(3)
        if table in ("project", "tool.poetry") and key == "name":
            m = _QUOTED.search(value)
            if m:
                own.add((m.group(1) or m.group(2) or "").strip())
        if _toml_is_array(table, key) and value.lstrip().startswith("["):
            open_at = starts[i] + k.start(3) + value.index("[") + 1
            end = _array_end(code, open_at)
            refs.extend(_quoted_in(code, open_at, end, base, tool))
            while i < len(lines) and starts[i] < end:
                i += 1
            continue
        if _toml_is_dict(table) and key != "python" and (r := _toml_dict_entry(line, k, starts[i], base, tool)):
            refs.append(r)
        i += 1
    return refs, own


def _setup_py(code: str, base: int) -> list[Ref]:
    refs: list[Ref] = []
    for m in _SETUP_PY_LISTS.finditer(code):
        end = _array_end(code, m.end())
        refs.extend(_quoted_in(code, m.end(), end, base, "setup.py"))
    return refs


def _setup_cfg(code: str, base: int) -> list[Ref]:
    refs: list[Ref] = []
    m = _SETUP_CFG_REQUIRES.search(code)
    if not m:
        return refs
    pos = m.start(1)
    first = m.group(1).strip()
    if first:
        r = pip_ref(first, base + pos, "setup.cfg", "manifest")
        if r:
            refs.append(r)
    pos = m.end() + 1
    for line in code[pos:].splitlines(keepends=True):
        if not line.strip():
            pos += len(line)
            continue
        if not line[0].isspace():
            break
        s = line.split("#", 1)[0].strip()
        if s:
            r = pip_ref(s, base + pos + (len(line) - len(line.lstrip())), "setup.cfg", "manifest")
            if r:
                refs.append(r)
        pos += len(line)
    return refs


def _package_json(code: str, base: int) -> tuple[list[Ref], set[str]]:
    refs: list[Ref] = []
    own: set[str] = set()
    nm = _NPM_OWN_NAME.search(code)
    if nm:
        own.add(nm.group(1))
    for block in _NPM_DEPS.finditer(code):
        for pair in _NPM_PAIR.finditer(code, block.start(1), block.end(1)):
            name, ver = pair.group(1), pair.group(2).strip()
            low = ver.lower()
            if low.startswith(("file:", "link:", "workspace:", "git", "http", "github:", "portal:", "patch:")) or (
                "/" in ver and not low.startswith("npm:")
            ):
                continue
            if low.startswith("npm:"):
                r = npm_ref(ver[4:], base + pair.start(2) + 4, "package.json", "manifest")
            else:
                if not NPM_NAME.match(name):
                    continue
                vm = NPM_EXACT.match(ver)
                r = Ref(
                    "npm",
                    name,
                    (base + pair.start(1), base + pair.end(1)),
                    "manifest",
                    "package.json",
                    vm.group(1) if vm else None,
                    f"{name}@{ver}",
                )
            if r:
                refs.append(r)
    return refs, own


_SETUP_NAME = re.compile(r"""\bname\s*=\s*(['"])([\w.-]+)\1""")


def may_show_manifest(lang: str, code: str) -> bool:
    """Can a block no file name stands by show a manifest? False for most blocks: what _manifest_kind and
    manifest_refs' setup.py test say of them (extract.py asks first, to skip the call)."""
    return lang in MANIFEST_LANGS or '"devDependencies"' in code or (lang in PY_LANGS and "install_requires" in code)


def manifest_refs(lang: str, code: str, base: int, before: str, named: bool = True) -> tuple[list[Ref], set[str], bool]:
    """Refs and the project's own names in a code block that shows a manifest, and whether the block is
    only a manifest (a setup.py is still Python whose imports count). `named`: see _manifest_kind."""
    if not named and not before and not may_show_manifest(lang, code):
        return [], set(), False
    kind = _manifest_kind(lang, code, before, named)
    if kind == "requirements":
        return _requirements(code, base, "requirements.txt"), set(), True
    if kind in ("pyproject", "pipfile"):
        refs, names = _toml_manifest(code, base, "pyproject.toml" if kind == "pyproject" else "Pipfile")
        return refs, names, True
    if kind == "setup.cfg":
        return _setup_cfg(code, base), set(), True
    if kind == "package.json":
        refs, names = _package_json(code, base)
        return refs, names, True
    if kind == "setup.py" or (lang in PY_LANGS and "install_requires" in code):
        return _setup_py(code, base), {m.group(2) for m in _SETUP_NAME.finditer(code)}, False
    return [], set(), False
