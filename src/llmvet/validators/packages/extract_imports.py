"""Imports in Python and JS/TS code blocks, and the modules an answer defines itself.

Standard library, Node built-ins, relative imports and the answer's own files are not packages.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator

from llmvet.validators.packages import scan
from llmvet.validators.packages.import_map import NAMESPACES, NODE_BUILTINS
from llmvet.validators.packages.name_search import defined_at, from_module_at
from llmvet.validators.packages.refs import NPM_NAME, Ref

PY_LANGS = {"python", "py", "python3", "py3", "ipython", "ipython3", "jupyter", "pycon", "sage", "pyi"}
JS_LANGS = {
    "js",
    "javascript",
    "jsx",
    "ts",
    "typescript",
    "tsx",
    "mjs",
    "cjs",
    "node",
    "nodejs",
    "vue",
    "svelte",
    "astro",
    "es6",
    "mts",
    "cts",
    "deno",
}
# the languages block_imports reads (_block_is_python and _block_is_js say no to every other)
IMPORT_LANGS = frozenset(PY_LANGS | JS_LANGS | {"", "text", "code", "py2"})
_PY_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import\b|import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)[ \t]*(?:#.*)?$)",
    re.M,
)
# A JS/TS module specifier: `(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|^[ \t]*import\s+|\bexport\s+\*\s+from
# \s+)(['"])([^'"\n]+)\1` (re.M), read over "\n" + the code: every alternative opens with its character (the
# word boundaries looked behind for after it, `^` the newline before the line), so the engine skips from one
# candidate character to the next; one opening with `\b` or `^` made it try every position (~4x the cost
# of this, and RE2 asked at each place a relaxed form matched, ~3x). No match starts at a newline nor can
# another alternative match where the line's does, so the matches are the same, one character later.
_JS_SPEC_NL = re.compile(
    r"""(?:r(?<!\wr)equire\s*\(\s*|i(?<!\wi)mport\s*\(\s*|f(?<!\wf)rom\s+|\n[ \t]*import\s+|e(?<!\we)xport\s+\*\s+from\s+)"""
    r"""(['"])([^'"\n]+)\1"""
)
_JS_HINT = re.compile(r"""\brequire\s*\(\s*['"]|^\s*import\s.*\bfrom\s+['"]|\bconst\s+\w+\s*=|=>""", re.M)
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "__main__", "builtins"}
# Modules commonly present in Python installs but not in stdlib_module_names, or shipped with CPython.
_ALWAYS_THERE = frozenset(
    {"pip", "setuptools", "pkg_resources", "_pytest", "distutils", "ensurepip", "idlelib", "lib2to3"}
)
# Python 2 standard library names still seen in answers: old code, not a package to install.
_PY2_STDLIB_TEXT = """urllib2 urlparse ConfigParser Queue cPickle StringIO cStringIO Tkinter tkMessageBox tkFileDialog ttk
    httplib HTMLParser SocketServer SimpleHTTPServer BaseHTTPServer CGIHTTPServer Cookie cookielib commands md5 sha
    thread dummy_thread __builtin__ exceptions sets xmlrpclib SimpleXMLRPCServer htmlentitydefs robotparser anydbm
    dbhash whichdb copy_reg repr UserDict UserList UserString mimetools rfc822 popen2 new"""
_PY2_STDLIB = frozenset(_PY2_STDLIB_TEXT.split())


_NOT_PACKAGES = _STDLIB | _ALWAYS_THERE | _PY2_STDLIB  # (what is_stdlib says yes to, in one set)


def is_stdlib(top: str) -> bool:
    return top in _NOT_PACKAGES


def _block_is_python(lang: str, code: str) -> bool:
    if lang in PY_LANGS:
        return True
    if lang in ("", "text", "code", "py2"):  # (each pattern needs "import"; its `^` made the engine try every position)
        return "import" in code and bool(_PY_IMPORT_LINE.search(code)) and not _js_spec(code)
    return False


def _js_spec(code: str) -> bool:
    """Does a JS/TS module specifier stand in `code`? Skipped when none of the words each form needs occurs."""
    return ("require" in code or "import" in code or "from" in code) and _JS_SPEC_NL.search("\n" + code) is not None


def _js_specs(code: str) -> list[tuple[int, str]]:
    """(where in `code`, the specifier) of every JS/TS module specifier, in order."""
    return [(m.start(2) - 1, m.group(2)) for m in _JS_SPEC_NL.finditer("\n" + code)]


def _block_is_js(lang: str, code: str) -> bool:
    if lang in JS_LANGS:
        return True
    if lang in ("", "text", "code"):
        return _js_spec(code) and bool(_JS_HINT.search(code))
    return False


def _line_starts(code: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", code):
        starts.append(m.end())
    return starts


def _catches_import_error(node: ast.Try | ast.TryStar) -> bool:
    for h in node.handlers:
        t = h.type
        if t is None:
            return True
        elts = t.elts if isinstance(t, ast.Tuple) else [t]
        if any(
            getattr(e, "id", getattr(e, "attr", ""))
            in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")
            for e in elts
        ):
            return True
    return False


_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _import_statements(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
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
        opt = optional or (isinstance(node, (ast.Try, ast.TryStar)) and _catches_import_error(node))
        for f in _BODY_FIELDS:
            children = getattr(node, f, None)
            if children:
                stack.extend((c, opt) for c in reversed(children))


# importlib.import_module("x") / __import__("x") with a literal name: the same as `import x`
_PY_DYNAMIC = re.compile(r"""\b(?:import_module|__import__)\(\s*(['"])([A-Za-z_][\w.]*)\1""")


def _python_dynamic_imports(code: str, base: int) -> list[Ref]:
    return [
        _python_import(m.group(2).split(".")[0], base + m.start(2), False, m.group(2))
        for m in _PY_DYNAMIC.finditer(code)
    ]


def _python_imports(code: str, base: int, lang: str) -> list[Ref]:
    if "import" not in code:
        return []
    refs = _python_static_imports(code, base, lang)
    if "import_module" in code or "__import__" in code:
        refs += _python_dynamic_imports(code, base)
    return refs


def _python_static_imports(code: str, base: int, lang: str) -> list[Ref]:
    refs: list[Ref] = []
    if lang == "pycon" or "except" not in code or code.startswith(">>> ") or "\n>>> " in code:
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
                refs.append(_python_import(top, base + off, optional, alias.name))
        else:
            if node.level or not node.module:
                continue
            line = lines[node.lineno - 1]
            at = from_module_at(line[node.col_offset :], node.module)
            if at < 0:
                continue
            top = node.module.split(".")[0]
            off = starts[node.lineno - 1] + node.col_offset + at
            module = node.module
            if top in NAMESPACES and module.count(".") + 1 < NAMESPACES[top] and node.names[0].name != "*":
                module = f"{module}.{node.names[0].name}"  # from google.cloud import storage
            refs.append(_python_import(top, base + off, optional, module))
    return refs


# `^(?:>>> |\.\.\. )?[ \t]*(?:from ... import ...|import ...)` with re.M, as "\n" + the pattern over "\n" +
# the code: a pattern starting with `^` is tried at every position, one starting with "\n" only at line
# starts (and no match holds a line break, so none is lost to the one before).
_IMPORT_LINE_NL = re.compile(
    r"\n(?:>>> |\.\.\. )?[ \t]*(?:from[ \t]+(\w[\w.]*)[ \t]+import[ \t(]+(\w*)|import[ \t]+([^\n#;]+))"
)
_IMPORTED_NAME = re.compile(r"(\w[\w.]*)(?:[ \t]+as[ \t]+\w+)?")
_MODULE_PATH = re.compile(r"[A-Za-z_][\w.]*")


def _python_imports_regex(code: str, base: int) -> list[Ref]:
    """Fallback for snippets that do not parse (pseudo-code, console sessions)."""
    refs: list[Ref] = []
    base -= 1  # the scan reads "\n" + code
    for m in _IMPORT_LINE_NL.finditer("\n" + code):
        mod, first, names = m.groups()
        if mod:
            top = mod.partition(".")[0]
            if top in NAMESPACES and mod.count(".") + 1 < NAMESPACES[top] and first:
                mod = f"{mod}.{first}"  # from google.cloud import storage
            s = base + m.start(1)
            refs.append(Ref("pypi", top, (s, s + len(top)), "import", "python-import", None, "", False, mod))
            continue
        part_start = base + m.start(3)
        if _MODULE_PATH.fullmatch(names):  # `import x.y` (most lines): the one name finditer would give
            top = names.partition(".")[0]
            refs.append(Ref("pypi", top, (part_start, part_start + len(top)), "import", "python-import", None, "",
                            False, names))  # fmt: skip
            continue
        for pm in _IMPORTED_NAME.finditer(names):
            mod = pm.group(1)
            if not _MODULE_PATH.fullmatch(mod):
                break
            top = mod.partition(".")[0]
            s = part_start + pm.start(1)
            refs.append(Ref("pypi", top, (s, s + len(top)), "import", "python-import", None, "", False, mod))
    return refs


_NPM_VERSION = re.compile(r"(?<=.)@[^/]*$")  # `npm:pkg@1.2`: the version after the name (what drop_npm_version drops)


def drop_npm_version(spec: str) -> str:
    """`_NPM_VERSION.sub("", spec)`: the leftmost `@` past the first character with no `/` after it,
    and all after it, dropped (string methods, no pattern tried at each position)."""
    if "\n" in spec:
        return _NPM_VERSION.sub("", spec)  # (`.` does not match a newline before the `@`)
    i = spec.find("@", max(spec.rfind("/") + 1, 1))
    return spec[:i] if i > 0 else spec


def _js_imports(code: str, base: int) -> list[Ref]:
    refs: list[Ref] = []
    for s, spec in _js_specs(code):
        spec = spec.strip()
        if spec.startswith("npm:"):
            spec, s = spec[4:], s + 4
            spec = drop_npm_version(spec)
        if not spec or spec[0] in "./~#$" or spec.startswith("@/") or ":" in spec or "*" in spec or "{" in spec:
            continue
        parts = spec.split("/")
        name = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        if spec.startswith("@") and len(parts) < 2:
            continue
        if name in NODE_BUILTINS or spec in NODE_BUILTINS:
            continue
        if not NPM_NAME.match(name):
            continue
        refs.append(Ref("npm", name, (base + s, base + s + len(name)), "import", "js-import", module=spec))
    return refs


# ---------------------------------------------------------------- modules the answer defines

_PY_FILE = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)(?:/[\w./-]*)?\.py\b")
_DIR_PKG = re.compile(r"(?<![\w.-])([A-Za-z_]\w*)/(?:__init__\.py|[\w/-]+\.py)\b")
_TREE_DIR = re.compile(r"^[ \t│├└─|`+*-]*([A-Za-z_]\w*)/[ \t]*(?:#.*)?$", re.M)
# `\b(?:startapp|startproject|mkdir(?:\s+-p)?|cd)\s+([A-Za-z_]\w*)`, written so that every alternative
# starts with its letter (the engine jumps between s, m and c) and the word boundary is looked behind for.
_DJANGO = re.compile(r"(?:s(?<!\ws)(?:tartapp|tartproject)|m(?<!\wm)kdir(?:\s+-p)?|c(?<!\wc)d)\s+([A-Za-z_]\w*)")
# where _DJANGO may start: RE2 reads it (scan.py), or marks.py asks Hyperscan for it with the command forms
CREATED_FORM = r"(?:startapp|startproject|mkdir(?:\s+-p)?|cd)\s+[A-Za-z_]"
_DJANGO_CANDIDATE = scan.relaxed(CREATED_FORM)
_JS_FILE = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)\.(?:js|ts|jsx|tsx|mjs|cjs)\b")


def created(text: str, starts: list[int] | None = None) -> Iterator[re.Match[str]]:
    """`_DJANGO.finditer(text)`, the pattern tried only where its relaxed form starts: at `starts` (every
    start of it, ascending: marks.py), else where RE2 finds it (scan.py)."""
    if starts is None:
        return scan.finditer(_DJANGO, _DJANGO_CANDIDATE, text)
    return scan.tried_at(_DJANGO, text, starts)


def local_modules(text: str) -> set[str]:
    """Every module name the answer shows as a file or folder of its own (exhaustive; used in tests)."""
    names = {m.group(1) for m in _PY_FILE.finditer(text)}
    names |= {m.group(1) for m in _DIR_PKG.finditer(text)}
    names |= {m.group(1) for m in _TREE_DIR.finditer(text)}
    names |= {m.group(1) for m in _DJANGO.finditer(text)}
    names |= {m.group(1) for m in _JS_FILE.finditer(text)}
    return names


# every word directly before `.py`, a JS extension or `/`: a superset of the modules an answer defines
_LOCAL_CANDIDATE = re.compile(r"([A-Za-z_][\w-]*)(?:\.(?:py|js|ts|jsx|tsx|mjs|cjs)\b|/)")
# its suffixes, `\.(?:py|js|ts|jsx|tsx|mjs|cjs)\b|/`, as two patterns: each opens with one character
# the engine skips ahead to; their alternation made it test every character against both (~4x the cost)
_LOCAL_EXTENSION = re.compile(r"\.(?:py|js|ts|jsx|tsx|mjs|cjs)\b")
_SLASH = re.compile("/")


def local_candidates(text: str) -> set[str]:
    r"""`{m.group(1) for m in _LOCAL_CANDIDATE.finditer(text)}`, from the suffixes back: the pattern,
    tried at every position of every word, re-read each word to its end (quadratic in word length;
    0.7 ms of a 10 KB answer). A match's name runs from the first [A-Za-z_] of the [\w-] run just before
    a suffix (not reaching back into the previous match) to that suffix."""
    out: set[str] = set()
    done = 0  # where the previous match ended: the scan went on from there
    # (no match of one suffix overlaps one of the other: in order, they are the alternation's matches)
    suffixes = sorted([m.span() for m in _LOCAL_EXTENSION.finditer(text)] + [m.span() for m in _SLASH.finditer(text)])
    for end, stop in suffixes:
        a = end
        while a > done and (text[a - 1].isalnum() or text[a - 1] in "_-"):  # (what [\w-] matches)
            a -= 1
        while a < end and not (text[a] == "_" or ("a" <= text[a] <= "z") or ("A" <= text[a] <= "Z")):
            a += 1
        if a < end:
            out.add(text[a:end])
            done = stop
    return out


def is_local(
    name: str, text: str, made: set[str] | frozenset[str] = frozenset(), candidates: set[str] | None = None
) -> bool:
    """Does the answer define `name` itself (a `name.py` file, a `name/` folder, `startapp name`)?
    `made` holds the names of `startapp`/`mkdir`/`cd` commands. This runs for every imported name on
    the warm path: one search of the text for the name's occurrences, only those a "." or "/" follows
    read further (defined_at says no to every other), not a search per suffix it may have."""
    if name in made:
        return True
    if candidates is not None and name not in candidates:
        return False
    n = len(name)
    i = text.find(name)
    while i >= 0:
        nxt = text[i + n : i + n + 1]
        if (nxt == "." or nxt == "/") and defined_at(text, i, n):
            return True
        i = text.find(name, i + 1)
    return False


def block_imports(lang: str, code: str, base: int) -> list[Ref]:
    """The imports in one code block, if it is Python or JS/TS."""
    if _block_is_python(lang, code):
        return _python_imports(code, base, lang)
    if _block_is_js(lang, code):
        return _js_imports(code, base)
    return []


def split_local(
    text: str, import_refs: list[Ref], own: set[str], made_starts: list[int] | None = None
) -> tuple[list[Ref], set[str]]:
    """(imports of packages, names of modules the answer defines); stdlib imports are dropped.
    `own` holds the project names its manifests declare; `made_starts`, if known, where a command
    making a folder may start (see created)."""
    kept: list[Ref] = []
    local: set[str] = set()
    verdicts: dict[str, bool] = {}
    made: set[str] = set()
    if "startapp" in text or "startproject" in text or "mkdir" in text or "cd " in text:
        made = {m.group(1) for m in created(text, made_starts)}
    wanted = set()  # the names to read the text for: not stdlib, not the answer's own project
    for r in import_refs:
        if not (r.ecosystem == "pypi" and r.name in _NOT_PACKAGES) and r.name not in own:
            wanted.add(r.name)
    # past a few names, one scan for every candidate beats a search per name
    candidates = local_candidates(text) if len(wanted) > 8 else None
    for r in import_refs:
        name = r.name
        if r.ecosystem == "pypi" and name in _NOT_PACKAGES:
            continue
        v = verdicts.get(name)
        if v is None:
            v = verdicts[name] = name not in wanted or is_local(name, text, made, candidates)
        if v:
            local.add(name)
            continue
        kept.append(r)
    return kept, local


def _python_import(top: str, start: int, optional: bool, module: str) -> Ref:
    """A Python import's distribution candidate: its top-level name, at `start` in the answer."""
    return Ref("pypi", top, (start, start + len(top)), "import", "python-import", optional=optional, module=module)
