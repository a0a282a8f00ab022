"""Find every package an answer tells the reader to install or import, with its exact span.

Three sources, all returning `Ref`s whose `span` covers just the package name in the answer text:
- install commands (pip, uv, poetry, pipenv, pipx, conda, npm, yarn, pnpm, bun, npx) anywhere:
  fenced code, inline code and plain prose lines;
- manifests shown in code blocks (requirements files, pyproject.toml, setup.py/setup.cfg,
  Pipfile, package.json);
- imports in Python and JS/TS code blocks (stdlib, Node built-ins, relative imports and modules the
  answer itself defines are left out here).

Pure functions, no I/O: cheap enough to run inline for a typical answer.
"""

from __future__ import annotations

import ast
import bisect
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement

from llmvet.validators.packages.import_map import NAMESPACES, NODE_BUILTINS

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


@dataclass(slots=True)
class Extraction:
    refs: list[Ref] = field(default_factory=list)
    local_modules: set[str] = field(default_factory=set)


# ---------------------------------------------------------------- install commands

_CMD = re.compile(
    r"""(?<![\w./-])(?=[pucmnybrhd])(?:
      (?P<pip>(?:python(?:3(?:\.\d+)?)?\s+-m\s+pip|py(?:\s+-3(?:\.\d+)?)?\s+-m\s+pip|pip3?(?:\.\d+)?|uv\s+pip)\s+install)
    | (?P<uvadd>uv\s+add|poetry\s+add|pdm\s+add|rye\s+add|hatch\s+add)
    | (?P<pipenv>pipenv\s+install)
    | (?P<pipx>pipx\s+install|uv\s+tool\s+install)
    | (?P<pipxrun>pipx\s+run|uv\s+tool\s+run|uvx)
    | (?P<conda>(?:conda|mamba|micromamba)\s+(?:install|create))
    | (?P<npm>npm\s+(?:install|i|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|install|i)|bun\s+(?:add|install|i)|deno\s+(?:add|install))
    | (?P<npx>npx|pnpm\s+dlx|bunx|yarn\s+dlx)
    | (?P<create>(?:npm|yarn|pnpm|bun)\s+(?:create|init))
    )(?=[ \t]|$)""",
    re.X | re.M,
)
_TOKEN = re.compile(r""""[^"\n]*"|'[^'\n]*'|[^\s"'\\]+""")

# Options whose value is the next token (so it is not read as a package name).
_PIP_VALUE_OPTS = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--python", "-p", "--platform",
    "--python-version", "--implementation", "--abi", "--only-binary", "--no-binary", "--upgrade-strategy",
    "--progress-bar", "--log", "--cache-dir", "--src", "--config-settings", "-C", "--index", "--default-index",
    "--trusted-host", "--source", "-G", "--group", "--extras", "-E", "--optional", "--python-platform",
    "--directory", "--project", "--with", "--from", "--dev-group", "--spec", "--pip-args", "--suffix",
    "--proxy", "--cert", "--client-cert", "--timeout", "--retries", "--exists-action", "--report", "--categories",
}
_NPM_VALUE_OPTS = {
    "--registry", "--prefix", "-w", "--workspace", "--tag", "--save-prefix", "--omit", "--include", "--filter",
    "--cwd", "--userconfig", "--cache", "--loglevel", "-C", "--dir", "--network-timeout", "--reporter",
}
_NPX_VALUE_OPTS = {"--registry", "--prefix", "-c", "--call", "--cache", "--node-options", "--userconfig"}
_CONDA_VALUE_OPTS = {"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "--override-channels-from"}

_STOPWORDS = frozenset(
    """a an and the to then or for in on with it its this that these those your you we first next also
    following package packages library libraries module modules command commands via using use from of
    if is are be by as at into inside within which will would should can could may might again
    instead before after so but not just only once all any every each both either first second
    here there now locally globally latest version versions beforehand too well manually yourself
    quickly inside command first then run running install installs installed installing via pip npm
    yarn package's e.g i.e etc again already anyway instead whenever when while where""".split()
)
_SKIP_CHARS = set("<>{}$%*")
_TEMPLATE = re.compile(r"[{}$%*]")
_DIRECT_REF = re.compile(r"\s@\s")  # template placeholders: <package>, {pkg}, $PKG, %pkg%, *
_SENT_PUNCT = ".,:;!?)”’»*_"
_NEGATED = re.compile(r"(?i)(?:\bnot|n't|\bnever|\bavoid(?:ing)?|instead of|rather than|\bwrong)\W{0,3}(?:use\W{0,3}|run\W{0,3})?`?(?:\$\s*)?$")
_NPM_NAME = re.compile(r"^(?:@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*$", re.I)
_PY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_EXACT_PIN = re.compile(r"^\s*===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*$")
_NPM_EXACT = re.compile(r"^v?=?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")


_MAX_COMMAND = 4000  # characters: longer is not a command someone types (and keeps scans linear)


_STOP = re.compile(r"\n|[`;|)]|&&|</|(?:^|(?<=[ \t]))#|(?<=[ \t])>(?=[ \t]|$)", re.M)


def _segment_end(text: str, pos: int, limit: int = _MAX_COMMAND) -> int:
    """Where a shell command starting at pos ends: newline (unless continued with a backslash),
    a backtick, `;`, `|`, `&&`, `)`, a comment, or a redirection."""
    n = min(len(text), pos + limit)
    i = pos
    while True:
        m = _STOP.search(text, i, n)
        if m is None:
            return n
        if m.group(0) == "\n" and text[pos : m.start()].rstrip(" \t\r").endswith("\\"):
            i = m.end()  # a continued line
            continue
        return m.start()


def _in_spans(pos: int, spans: list[tuple[int, int]]) -> bool:
    """Is pos inside one of the (sorted, disjoint) spans?"""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _inside_inline_code(text: str, pos: int) -> bool:
    line_start = max(text.rfind("\n", max(0, pos - 2000), pos) + 1, pos - 2000)  # bounded: keeps long lines linear
    return text.count("`", line_start, pos) % 2 == 1


def _tokens(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """(token without quotes, offset of its first character) for a command segment."""
    out = []
    for m in _TOKEN.finditer(text, start, end):
        tok = m.group(0)
        if tok[0] in "\"'":
            out.append((tok[1:-1], m.start() + 1))
        else:
            out.append((tok, m.start()))
    return out


def _looks_like_path_or_url(tok: str) -> bool:
    low = tok.lower()
    return (
        "://" in tok
        or low.startswith(("git+", "hg+", "svn+", "bzr+", "file:", "github:", "gitlab:", "bitbucket:", "git@", "link:", "workspace:"))
        or tok.startswith((".", "/", "~", "\\"))
        or "/" in tok.split("@", 1)[-1] and not tok.startswith("@")
        or "\\" in tok
        or low.endswith((".whl", ".tar.gz", ".tgz", ".zip", ".txt", ".toml", ".cfg", ".py", ".in", ".lock", ".json", ".yml", ".yaml"))
        or (len(tok) > 1 and tok[1] == ":" and tok[0].isalpha())  # C:\…
    )


def _prose_accept(tok: str) -> tuple[str, bool] | None:
    """In prose, a package name ends the list at sentence punctuation or an ordinary word;
    a comma keeps the list going (`pip install requests, flask and numpy`)."""
    tok = tok.strip("*_“‘«")
    stripped = tok.rstrip(_SENT_PUNCT)
    last = stripped != tok and not tok.endswith(",")
    if not stripped or stripped.lower() in _STOPWORDS:
        return None
    return stripped, last


@lru_cache(maxsize=8192)
def _parse_requirement(body: str) -> tuple[str, str | None] | None:
    """(name, exact pinned version) of a PEP 508 requirement, or None; memoised (pure and hot)."""
    try:
        req = Requirement(body)
    except InvalidRequirement:
        return None
    specs = list(req.specifier)
    pin = None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        pin = specs[0].version
    return req.name, pin


def _pip_ref(tok: str, off: int, tool: str, kind: str = "install") -> Ref | None:
    """A requirement token (pip syntax, or poetry's name@constraint) -> Ref, or None to skip it."""
    if not tok or _TEMPLATE.search(tok) or tok.startswith("<") or (tok.endswith(">") and "=" not in tok):
        return None  # template placeholders: <package>, {pkg}, $PKG, %pkg%
    if "@" in tok and _DIRECT_REF.search(tok):  # PEP 508 direct reference: the name is still a name
        tok = tok.split("@", 1)[0].rstrip()
    if _looks_like_path_or_url(tok) or tok in ("...", "…"):
        return None
    body = tok
    if "@" in body and tool in ("poetry", "uvadd"):
        name_part, _, constraint = body.partition("@")
        body = name_part
        pin = constraint.lstrip("=") if re.fullmatch(r"=?=?\d[\w.+!-]*", constraint) else None
        if not _PY_NAME.match(name_part):
            return None
        return Ref("pypi", name_part, (off, off + len(name_part)), kind, tool, pin, tok)
    if " @ " in body or body.endswith("@"):
        body = body.split("@", 1)[0].strip()
    parsed = _parse_requirement(body)
    if parsed is None:
        return None
    name, pin = parsed
    i = tok.find(name)
    if i < 0:
        return None
    return Ref("pypi", name, (off + i, off + i + len(name)), kind, tool, pin, tok)


def _npm_ref(tok: str, off: int, tool: str, kind: str = "install") -> Ref | None:
    if not tok or _TEMPLATE.search(tok) or "<" in tok or ">" in tok or _looks_like_path_or_url(tok):
        return None
    if "@npm:" in tok:  # alias@npm:real@1.2.3 installs `real`
        a = tok.index("@npm:") + 5
        return _npm_ref(tok[a:], off + a, tool, kind)
    if tok.startswith("npm:"):
        return _npm_ref(tok[4:], off + 4, tool, kind)
    at = tok.find("@", 1)
    name, version = (tok[:at], tok[at + 1 :]) if at > 0 else (tok, "")
    if not _NPM_NAME.match(name) or name.startswith("-"):
        return None
    m = _NPM_EXACT.match(version)
    return Ref("npm", name, (off, off + len(name)), kind, tool, m.group(1) if m else None, tok)


def _conda_ref(tok: str, off: int) -> Ref | None:
    if not tok or any(c in _SKIP_CHARS for c in tok) or _looks_like_path_or_url(tok):
        return None
    skip = 0
    if "::" in tok:  # conda-forge::numpy
        skip = tok.index("::") + 2
    rest = tok[skip:]
    name = re.split(r"[=<>!~\s\[]", rest, 1)[0]
    if not name or not _PY_NAME.match(name):
        return None
    return Ref("conda", name, (off + skip, off + skip + len(name)), "install", "conda", None, tok)


def _create_name(tok: str) -> tuple[str, int, int] | None:
    """`npm create vite@latest` runs create-vite; `@scope` -> @scope/create; `@s/x` -> @s/create-x."""
    at = tok.find("@", 1)
    base = tok[:at] if at > 0 else tok
    if not _NPM_NAME.match(base):
        return None
    if base.startswith("@"):
        scope, _, rest = base.partition("/")
        return (f"{scope}/create-{rest}" if rest else f"{scope}/create"), 0, len(base)
    return f"create-{base}", 0, len(base)


def find_install_commands(text: str, code_spans: list[tuple[int, int]]) -> list[Ref]:
    refs: list[Ref] = []
    done_to = 0
    for m in _CMD.finditer(text):
        if m.start() < done_to:
            continue  # inside the previous command's arguments
        kind = m.lastgroup or ""
        start = m.end()
        in_code = _in_spans(m.start(), code_spans)
        prose = not in_code and not _inside_inline_code(text, m.start())
        end = _segment_end(text, start, _MAX_COMMAND if not prose else 400)
        before = len(refs)
        if not in_code and _NEGATED.search(text, max(text.rfind("\n", max(0, m.start() - 30), m.start()) + 1, m.start() - 30), m.start()):
            continue  # "not `pip install sklearn`", "instead of pip install bs4": advice against it
        toks = _tokens(text, start, end)
        if kind in ("pip", "uvadd", "pipenv", "pipx"):
            tool = {"uvadd": "poetry" if m.group(0).startswith("poetry") else "uvadd"}.get(kind, kind)
            _collect(refs, toks, prose, _PIP_VALUE_OPTS, lambda t, o: _pip_ref(t, o, tool), single=False)
        elif kind == "pipxrun":
            _collect(refs, toks, prose, _PIP_VALUE_OPTS | {"--spec"}, lambda t, o: _pip_ref(t, o, "pipx"), single=True)
        elif kind == "conda":
            _collect(refs, toks, prose, _CONDA_VALUE_OPTS, _conda_ref, single=False)
        elif kind == "npm":
            _collect(refs, toks, prose, _NPM_VALUE_OPTS, lambda t, o: _npm_ref(t, o, "npm"), single=False)
        elif kind == "npx":
            _npx(refs, toks, prose)
        elif kind == "create":
            for tok, off in toks:
                if tok.startswith("-"):
                    continue
                if prose:
                    acc = _prose_accept(tok)
                    if acc is None:
                        break
                    tok = acc[0]
                got = _create_name(tok)
                if got:
                    name, a, b = got
                    refs.append(Ref("npm", name, (off + a, off + b), "install", "npm-create", None, tok))
                break
        # in code a command owns its whole line; in prose only up to its last name
        done_to = end if not prose else max([m.end()] + [r.span[1] for r in refs[before:]])
    return refs


_INDEX_OPTS = ("-i", "--index-url", "--extra-index-url", "--registry", "--index", "--default-index")


def _collect(refs, toks, prose, value_opts, make, single: bool) -> None:
    skip_next = False
    saw_comma = False
    first = len(refs)
    index_url = ""
    for i, (tok, off) in enumerate(toks):
        if skip_next:
            skip_next = False
            continue
        if tok.startswith("-"):
            opt, eq, val = tok.partition("=")
            if opt in _INDEX_OPTS:
                index_url = val if eq else (toks[i + 1][0] if i + 1 < len(toks) else "")
            if not eq and tok in value_opts:
                skip_next = True
            continue
        if tok == "@":  # `name @ url`: the url is not a name
            skip_next = True
            continue
        last = False
        if prose:
            if tok in ("and", "or", "&") and saw_comma:
                continue  # "a, b and c"
            saw_comma = saw_comma or tok.endswith(",")
            acc = _prose_accept(tok)
            if acc is None:
                break
            tok, last = acc
        ref = make(tok, off)
        if ref is not None:
            refs.append(ref)
        elif prose:
            break
        if single or last:
            break
    if index_url:
        for r in refs[first:]:
            r.index_url = index_url


def _npx(refs: list[Ref], toks, prose: bool) -> None:
    it = iter(toks)
    explicit = False  # with -p/--package, the first positional is a command, not a package
    for tok, off in it:
        if tok in ("-p", "--package"):
            nxt = next(it, None)
            if nxt and (r := _npm_ref(nxt[0], nxt[1], "npx")):
                refs.append(r)
            explicit = True
            continue
        if tok.startswith("--package="):
            if r := _npm_ref(tok[10:], off + 10, "npx"):
                refs.append(r)
            explicit = True
            continue
        if explicit and not tok.startswith("-"):
            return
        if tok.startswith("-"):
            if tok in _NPX_VALUE_OPTS:
                next(it, None)
            continue
        if prose:
            acc = _prose_accept(tok)
            if acc is None:
                return
            tok = acc[0]
        if r := _npm_ref(tok, off, "npx"):
            refs.append(r)
        return


# ---------------------------------------------------------------- manifests

_FILENAME = re.compile(
    r"(?<![\w-])(requirements[\w.-]*\.(?:txt|in)|requirements file|constraints\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile|package\.json)\b",
    re.I,
)
_REQ_OP = re.compile(r"(===?|>=|<=|~=|!=|>|<)\s*\d")
_QUOTED = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""")
_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("?)([A-Za-z0-9_.-]+)\1\s*=\s*(.*)$""")
_NPM_DEPS = re.compile(r'"(?:dev|peer|optional|bundle[d]?)?[dD]ependencies"\s*:\s*\{([^{}]*)\}')
_NPM_PAIR = re.compile(r'"([^"\n]+)"\s*:\s*"([^"\n]*)"')


_KIND_LANGS = {
    "requirements": {"", "text", "txt", "plaintext", "plain", "requirements", "pip", "pip-requirements", "ini"},
    "pyproject": {"", "toml", "text", "ini"},
    "pipfile": {"", "toml", "text", "ini"},
    "setup.py": {"", "python", "py", "python3"},
    "setup.cfg": {"", "ini", "cfg", "text", "toml"},
    "package.json": {"", "json", "jsonc", "json5", "text"},
}


def _kind_of(fn: str) -> str:
    fn = fn.lower()
    if fn.startswith(("requirements", "constraints")):
        return "requirements"
    return {"pyproject.toml": "pyproject", "setup.py": "setup.py", "setup.cfg": "setup.cfg",
            "pipfile": "pipfile", "package.json": "package.json"}[fn]


def _manifest_kind(lang: str, code: str, before: str) -> str | None:
    """Which manifest a code block shows: from its info string or first line (`# requirements.txt`),
    else from the last file name mentioned just above it when the block's language fits that file."""
    first = code.lstrip().split("\n", 1)[0]
    for probe in (lang, first):
        m = _FILENAME.search(probe)
        if m:
            return _kind_of(m.group(1))
    mentions = list(_FILENAME.finditer(before))
    if mentions:
        kind = _kind_of(mentions[-1].group(1))
        if lang in _KIND_LANGS[kind] and not (kind == "setup.py" and "setup(" not in code):
            return kind
    if lang in ("toml",) and re.search(r"^\s*\[(project|tool\.poetry|dependency-groups|build-system)", code, re.M):
        return "pyproject"
    if lang in ("json", "jsonc", "json5") and '"dependencies"' in code or '"devDependencies"' in code:
        return "package.json"
    if lang in ("", "text", "txt", "plaintext", "plain", "requirements", "pip", "pip-requirements", "ini"):
        lines = [ln.split("#", 1)[0].strip() for ln in code.splitlines()]
        lines = [ln for ln in lines if ln]
        if lines and sum(bool(_REQ_OP.search(ln)) for ln in lines) * 2 >= len(lines) and all(
            _requirement_line_ok(ln) for ln in lines
        ):
            return "requirements"
    return None


def _requirement_line_ok(line: str) -> bool:
    return line.startswith("-") or _parse_requirement(line) is not None


def _requirements(code: str, base: int, tool: str) -> list[Ref]:
    refs = []
    pos = 0
    for line in code.splitlines(keepends=True):
        content = line.split(" #", 1)[0].rstrip()
        if content.lstrip().startswith("#"):
            content = ""
        stripped = content.strip()
        lead = len(content) - len(content.lstrip())
        if stripped and not stripped.startswith("-"):
            r = _pip_ref(stripped, base + pos + lead, tool, "manifest")
            if r:
                refs.append(r)
        pos += len(line)
    return refs


def _quoted_in(code: str, start: int, end: int, base: int, tool: str) -> list[Ref]:
    refs = []
    for m in _QUOTED.finditer(code, start, end):
        val = m.group(1) if m.group(1) is not None else m.group(2)
        off = m.start() + 1
        r = _pip_ref(val.strip(), base + off + (len(val) - len(val.lstrip())), tool, "manifest")
        if r:
            refs.append(r)
    return refs


def _array_end(code: str, pos: int) -> int:
    """Index just past the `]` closing the array opened before pos (quotes respected)."""
    depth, i, n, q = 1, pos, len(code), ""
    while i < n:
        c = code[i]
        if q:
            if c == "\\":
                i += 1
            elif c == q:
                q = ""
        elif c in "\"'":
            q = c
        elif c == "#":
            nl = code.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


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
        vstart = starts[i] + k.start(3)
        array_table = table in ("project.optional-dependencies", "dependency-groups") or (
            table == "project" and key == "dependencies") or (table == "build-system" and key == "requires") or (
            table == "tool.uv" and key in ("dev-dependencies", "constraint-dependencies", "override-dependencies"))
        dict_table = (
            table in ("tool.poetry.dependencies", "tool.poetry.dev-dependencies", "packages", "dev-packages")
            or (table.startswith("tool.poetry.group.") and table.endswith(".dependencies"))
        )
        if table in ("project", "tool.poetry") and key == "name":
            m = _QUOTED.search(value)
            if m:
                own.add((m.group(1) or m.group(2) or "").strip())
        if array_table and value.lstrip().startswith("["):
            open_at = vstart + value.index("[") + 1
            end = _array_end(code, open_at)
            refs.extend(_quoted_in(code, open_at, end, base, tool))
            while i < len(lines) and starts[i] < end:
                i += 1
            continue
        if dict_table and key != "python":
            if not re.search(r"\b(path|git|url|file)\s*=", value):
                name_off = starts[i] + k.start(2)
                raw = k.group(2)
                pin = None
                m = _QUOTED.match(value.strip())
                if m:
                    v = (m.group(1) or m.group(2) or "").strip()
                    pm = _EXACT_PIN.match(v) or re.match(r"^(\d[\w.+!-]*)$", v)
                    pin = pm.group(1) if pm else None
                if _PY_NAME.match(raw):
                    refs.append(Ref("pypi", raw, (base + name_off, base + name_off + len(raw)), "manifest", tool, pin, line.strip()))
        i += 1
    return refs, own


def _setup_py(code: str, base: int) -> list[Ref]:
    refs = []
    for m in re.finditer(r"\b(?:install_requires|setup_requires|tests_require)\s*=\s*\[", code):
        end = _array_end(code, m.end())
        refs.extend(_quoted_in(code, m.end(), end, base, "setup.py"))
    return refs


def _setup_cfg(code: str, base: int) -> list[Ref]:
    refs = []
    m = re.search(r"^\s*install_requires\s*=[ \t]*(.*)$", code, re.M)
    if not m:
        return refs
    pos = m.start(1)
    first = m.group(1).strip()
    if first:
        r = _pip_ref(first, base + pos, "setup.cfg", "manifest")
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
            r = _pip_ref(s, base + pos + (len(line) - len(line.lstrip())), "setup.cfg", "manifest")
            if r:
                refs.append(r)
        pos += len(line)
    return refs


def _package_json(code: str, base: int) -> tuple[list[Ref], set[str]]:
    refs, own = [], set()
    nm = re.search(r'^\s*"name"\s*:\s*"([^"\n]+)"', code, re.M)
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
                r = _npm_ref(ver[4:], base + pair.start(2) + 4, "package.json", "manifest")
            else:
                if not _NPM_NAME.match(name):
                    continue
                vm = _NPM_EXACT.match(ver)
                r = Ref("npm", name, (base + pair.start(1), base + pair.end(1)), "manifest", "package.json",
                        vm.group(1) if vm else None, f"{name}@{ver}")
            if r:
                refs.append(r)
    return refs, own


# ---------------------------------------------------------------- imports

PY_LANGS = {"python", "py", "python3", "py3", "ipython", "ipython3", "jupyter", "pycon", "sage", "pyi"}
JS_LANGS = {"js", "javascript", "jsx", "ts", "typescript", "tsx", "mjs", "cjs", "node", "nodejs", "vue",
            "svelte", "astro", "es6", "mts", "cts", "deno"}
_PY_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import\b|import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)[ \t]*(?:#.*)?$)", re.M)
_PY_HINT = re.compile(r"^[ \t]*(?:def |class |print\(|if __name__|from [\w.]+ import |import [\w.]+\s*$)", re.M)
_JS_SPEC = re.compile(
    r"""(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|^[ \t]*import\s+|\bexport\s+\*\s+from\s+)(['"])([^'"\n]+)\1""",
    re.M,
)
_JS_HINT = re.compile(r"""\brequire\s*\(\s*['"]|^\s*import\s.*\bfrom\s+['"]|\bconst\s+\w+\s*=|=>""", re.M)
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "__main__", "builtins"}
# Modules commonly present in Python installs but not in stdlib_module_names, or shipped with CPython.
_ALWAYS_THERE = frozenset({"pip", "setuptools", "pkg_resources", "_pytest", "distutils", "ensurepip", "idlelib", "lib2to3"})
# Python 2 standard library names still seen in answers: old code, not a package to install.
_PY2_STDLIB = frozenset(
    """urllib2 urlparse ConfigParser Queue cPickle StringIO cStringIO Tkinter tkMessageBox tkFileDialog ttk
    httplib HTMLParser SocketServer SimpleHTTPServer BaseHTTPServer CGIHTTPServer Cookie cookielib commands md5 sha
    thread dummy_thread __builtin__ exceptions sets xmlrpclib SimpleXMLRPCServer htmlentitydefs robotparser anydbm
    dbhash whichdb copy_reg repr UserDict UserList UserString mimetools rfc822 popen2 new""".split()
)


def is_stdlib(top: str) -> bool:
    return top in _STDLIB or top in _ALWAYS_THERE or top in _PY2_STDLIB


def _block_is_python(lang: str, code: str) -> bool:
    if lang in PY_LANGS:
        return True
    if lang in ("", "text", "code", "py2"):
        return bool(_PY_IMPORT_LINE.search(code)) and not _JS_SPEC.search(code)
    return False


def _block_is_js(lang: str, code: str) -> bool:
    if lang in JS_LANGS:
        return True
    if lang in ("", "text", "code"):
        return bool(_JS_SPEC.search(code)) and bool(_JS_HINT.search(code))
    return False


def _line_starts(code: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", code):
        starts.append(m.end())
    return starts


def _catches_import_error(node: ast.Try) -> bool:
    for h in node.handlers:
        t = h.type
        if t is None:
            return True
        elts = t.elts if isinstance(t, ast.Tuple) else [t]
        if any(getattr(e, "id", getattr(e, "attr", "")) in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for e in elts):
            return True
    return False


_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _import_statements(tree: ast.Module):
    """(import node, inside a try that catches ImportError) for every statement-level import.
    Walks statements only (imports are statements), which is several times cheaper than ast.walk."""
    stack: list[tuple[ast.AST, bool]] = [(n, False) for n in reversed(tree.body)]
    while stack:
        node, optional = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, optional
            continue
        if isinstance(node, ast.expr):
            continue
        opt = optional or (isinstance(node, ast.Try) or type(node).__name__ == "TryStar") and _catches_import_error(node)  # type: ignore[arg-type]
        for f in _BODY_FIELDS:
            children = getattr(node, f, None)
            if children:
                stack.extend((c, opt) for c in reversed(children))


def _python_imports(code: str, base: int, lang: str) -> list[Ref]:
    refs: list[Ref] = []
    if "import" not in code:
        return refs
    if lang == "pycon" or "except" not in code or re.search(r"^>>> ", code, re.M):
        # A line scan is enough (and ~10x cheaper than parsing) unless a try/except may make an
        # import optional; console sessions do not parse as a module anyway.
        return _python_imports_regex(code, base)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _python_imports_regex(code, base)
    starts = _line_starts(code)
    lines = code.split("\n")
    for node, optional in _import_statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                off = starts[alias.lineno - 1] + alias.col_offset
                refs.append(Ref("pypi", top, (base + off, base + off + len(top)), "import", "python-import",
                                optional=optional, module=alias.name))
        else:
            if node.level or not node.module:
                continue
            line = lines[node.lineno - 1]
            m = re.search(r"\bfrom\s+(" + re.escape(node.module) + r")\b", line[node.col_offset:])
            if not m:
                continue
            top = node.module.split(".")[0]
            off = starts[node.lineno - 1] + node.col_offset + m.start(1)
            module = node.module
            if top in NAMESPACES and module.count(".") + 1 < NAMESPACES[top] and node.names[0].name != "*":
                module = f"{module}.{node.names[0].name}"  # from google.cloud import storage
            refs.append(Ref("pypi", top, (base + off, base + off + len(top)), "import", "python-import",
                            optional=optional, module=module))
    return refs


def _python_imports_regex(code: str, base: int) -> list[Ref]:
    """Fallback for snippets that do not parse (pseudo-code, console sessions)."""
    refs = []
    for m in re.finditer(r"^(?:>>> |\.\.\. )?[ \t]*(?:from[ \t]+(\w[\w.]*)[ \t]+import[ \t(]+(\w*)|import[ \t]+([^\n#;]+))", code, re.M):
        if m.group(1):
            mod = m.group(1)
            top = mod.split(".")[0]
            if top in NAMESPACES and mod.count(".") + 1 < NAMESPACES[top] and m.group(2):
                mod = f"{mod}.{m.group(2)}"  # from google.cloud import storage
            refs.append(Ref("pypi", top, (base + m.start(1), base + m.start(1) + len(top)), "import", "python-import", module=mod))
            continue
        part_start = m.start(3)
        for pm in re.finditer(r"(\w[\w.]*)(?:[ \t]+as[ \t]+\w+)?", m.group(3)):
            mod = pm.group(1)
            if not re.fullmatch(r"[A-Za-z_][\w.]*", mod):
                break
            top = mod.split(".")[0]
            s = part_start + pm.start(1)
            refs.append(Ref("pypi", top, (base + s, base + s + len(top)), "import", "python-import", module=mod))
    return refs


def _js_imports(code: str, base: int) -> list[Ref]:
    refs = []
    for m in _JS_SPEC.finditer(code):
        spec = m.group(2).strip()
        s = m.start(2)
        if spec.startswith("npm:"):
            spec, s = spec[4:], s + 4
            spec = re.sub(r"(?<=.)@[^/]*$", "", spec)
        if not spec or spec[0] in "./~#$" or spec.startswith("@/") or ":" in spec or "*" in spec or "{" in spec:
            continue
        parts = spec.split("/")
        name = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        if spec.startswith("@") and len(parts) < 2:
            continue
        if name in NODE_BUILTINS or spec in NODE_BUILTINS:
            continue
        if not _NPM_NAME.match(name):
            continue
        refs.append(Ref("npm", name, (base + s, base + s + len(name)), "import", "js-import", module=spec))
    return refs


# ---------------------------------------------------------------- modules the answer defines

_PY_FILE = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)(?:/[\w./-]*)?\.py\b")
_DIR_PKG = re.compile(r"(?<![\w.-])([A-Za-z_]\w*)/(?:__init__\.py|[\w/-]+\.py)\b")
_TREE_DIR = re.compile(r"^[ \t│├└─|`+*-]*([A-Za-z_]\w*)/[ \t]*(?:#.*)?$", re.M)
_DJANGO = re.compile(r"\b(?:startapp|startproject|mkdir(?:\s+-p)?|cd)\s+([A-Za-z_]\w*)")
_JS_FILE = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)\.(?:js|ts|jsx|tsx|mjs|cjs)\b")


def local_modules(text: str) -> set[str]:
    """Every module name the answer shows as a file or folder of its own (exhaustive; used in tests)."""
    names = {m.group(1) for m in _PY_FILE.finditer(text)}
    names |= {m.group(1) for m in _DIR_PKG.finditer(text)}
    names |= {m.group(1) for m in _TREE_DIR.finditer(text)}
    names |= {m.group(1) for m in _DJANGO.finditer(text)}
    names |= {m.group(1) for m in _JS_FILE.finditer(text)}
    return names


_JS_EXTS = (".js", ".ts", ".jsx", ".tsx", ".mjs", ".cjs")
# every word directly before `.py`, a JS extension or `/`: a superset of the modules an answer defines
_LOCAL_CANDIDATE = re.compile(r"([A-Za-z_][\w-]*)(?:\.(?:py|js|ts|jsx|tsx|mjs|cjs)\b|/)")


def is_local(name: str, text: str, made: set[str] | frozenset[str] = frozenset(),
             candidates: set[str] | None = None) -> bool:
    """Does the answer define `name` itself (a `name.py` file, a `name/` folder, `startapp name`)?
    `made` holds the names of `startapp`/`mkdir`/`cd` commands. Cheap substring tests first: this
    runs for every imported name on the warm path."""
    if name in made:
        return True
    if candidates is not None:
        if name not in candidates:
            return False
    elif name + ".py" not in text and name + "/" not in text and not any(name + e in text for e in _JS_EXTS):
        return False
    pat = re.escape(name)
    return bool(
        re.search(rf"(?<![\w.-]){pat}(?:/[\w./-]*)?\.py\b", text)
        or re.search(rf"(?<![\w.-]){pat}/(?:__init__\.py|[\w/-]+\.py)\b", text)
        or re.search(rf"^[ \t│├└─|`+*-]*{pat}/[ \t]*(?:#.*)?$", text, re.M)
        or re.search(rf"(?<![\w.-]){pat}\.(?:js|ts|jsx|tsx|mjs|cjs)\b", text)
    )


# ---------------------------------------------------------------- all together


def extract(text: str, blocks: list, *, imports: bool = True) -> Extraction:
    """All references in `text`. `blocks` are the answer's fenced code blocks (ctx.code_blocks)."""
    code_spans = [b.span for b in blocks]
    out = Extraction()
    out.refs.extend(find_install_commands(text, code_spans))
    own: set[str] = set()
    import_refs: list[Ref] = []
    for b in blocks:
        start = b.span[0]
        # the prose just above this block's fence (not reaching into an earlier block)
        fence_line_start = text.rfind("\n", 0, max(0, start - 1)) + 1
        before = text[max(0, fence_line_start - 200) : fence_line_start]
        if "```" in before or "~~~" in before:
            before = before[max(before.rfind("```"), before.rfind("~~~")) + 3 :]
        kind = _manifest_kind(b.language, b.code, before)
        if kind == "requirements":
            out.refs.extend(_requirements(b.code, start, "requirements.txt"))
            continue
        if kind in ("pyproject", "pipfile"):
            refs, names = _toml_manifest(b.code, start, "pyproject.toml" if kind == "pyproject" else "Pipfile")
            out.refs.extend(refs)
            own |= names
            continue
        if kind == "setup.cfg":
            out.refs.extend(_setup_cfg(b.code, start))
            continue
        if kind == "package.json":
            refs, names = _package_json(b.code, start)
            out.refs.extend(refs)
            own |= names
            continue
        if kind == "setup.py" or (b.language in PY_LANGS and "install_requires" in b.code):
            out.refs.extend(_setup_py(b.code, start))
            own |= {m.group(2) for m in re.finditer(r"""\bname\s*=\s*(['"])([\w.-]+)\1""", b.code)}
        if not imports:
            continue
        if _block_is_python(b.language, b.code):
            import_refs.extend(_python_imports(b.code, start, b.language))
        elif _block_is_js(b.language, b.code):
            import_refs.extend(_js_imports(b.code, start))
    if import_refs:
        verdicts: dict[str, bool] = {}
        made: set[str] = set()
        if "startapp" in text or "startproject" in text or "mkdir" in text or "cd " in text:
            made = {m.group(1) for m in _DJANGO.finditer(text)}
        candidates = {m.group(1) for m in _LOCAL_CANDIDATE.finditer(text)} if len(import_refs) > 8 else None
        for r in import_refs:
            if r.ecosystem == "pypi" and is_stdlib(r.name):
                continue
            if r.name not in verdicts:
                verdicts[r.name] = r.name in own or is_local(r.name, text, made, candidates)
            if verdicts[r.name]:
                out.local_modules.add(r.name)
                continue
            out.refs.append(r)
    return out
