"""Extraction reads some patterns with string methods or in a faster form; each must give exactly what
its plain regex definition gives, on the corpora and on generated adversarial text."""

from __future__ import annotations

import random
import re

import pytest

from llmvet import text as parse
from llmvet.validators.packages import (
    extract,
    extract_commands,
    extract_imports,
    extract_manifests,
    manifest_names,
    marks,
    name_search,
    refs,
)
from llmvet.validators.packages.import_map import NAMESPACES
from tests.support.corpus import with_generated

# The definitions the fast paths replace.
LOCAL_CANDIDATE = re.compile(r"([A-Za-z_][\w-]*)(?:\.(?:py|js|ts|jsx|tsx|mjs|cjs)\b|/)")
DJANGO = re.compile(r"\b(?:startapp|startproject|mkdir(?:\s+-p)?|cd)\s+([A-Za-z_]\w*)")
NEGATED = extract_commands._NEGATED

PIECES = [
    "a", "b_", "9", "-", ".", "/", ".py", ".js", ".jsx", ".pyx", ".tsx", "py", " ", "\n", "\u00e9", "\u0663", "\u2167",
    "x.py-b.py", "9.py/", "cd ", "mkdir -p ", "mkdir\t", "startapp ", "startproject x", "abcd ", "s", "m", "c", "d",
    "_", "app", "src/", "./", "\t", "pip install x", "npm i y ", "not ", "don't ", "NOT ", "Never ", "avoiding ",
    "instead of ", "in\u017ftead of ", "rather than ", "wrong", "`", "$ ", ": ", "\u00a0", "\x0b", "cd\u3000x",
]  # fmt: skip


def texts(seed: int, n: int) -> list[str]:
    return with_generated(PIECES, seed, n, 40)


@pytest.mark.parametrize("seed", [1, 2])
def test_local_candidates_are_the_regex_matches(seed):
    found = 0
    for text in texts(seed, 20000):
        expected = {m.group(1) for m in LOCAL_CANDIDATE.finditer(text)}
        assert extract_imports.local_candidates(text) == expected, text
        found += bool(expected)
    assert found > 5000


@pytest.mark.parametrize("seed", [3, 4])
def test_created_folder_names_are_the_regex_matches(seed):
    found = 0
    for text in texts(seed, 20000):
        expected = [m.group(1) for m in DJANGO.finditer(text)]
        assert [m.group(1) for m in extract_imports._DJANGO.finditer(text)] == expected, text
        assert [m.group(1) for m in extract_imports.created(text)] == expected, text
        if marks.available():  # tried at the starts Hyperscan reports for the relaxed form
            starts = marks.marks(text)[2]  # type: ignore[index]
            assert [m.group(1) for m in extract_imports.created(text, starts)] == expected, text
        found += bool(expected)
    assert found > 2000


@pytest.mark.parametrize("seed", [5, 6])
def test_negation_before_a_command_is_the_regex_search(seed):
    negated = 0
    for text in texts(seed, 20000):
        for m in extract_commands._CMD.finditer(text):
            s = m.start()
            expected = NEGATED.search(text, max(text.rfind("\n", max(0, s - 30), s) + 1, s - 30), s) is not None
            assert extract_commands._negated(text, s) == expected, text
            negated += expected
    assert negated > 500


@pytest.mark.parametrize("path", ["re2", "hyperscan"])
def test_commands_are_the_regex_matches(path):
    """The command scan tries the pattern only where RE2's relaxed form of it matches (or, with Hyperscan,
    where marks.py's relaxed forms start), over the text as ASCII bytes with "?" for other characters:
    every word of the pattern in random commands, with the non-ASCII spaces and digits Python's \\s and
    \\d match (and the ASCII ones RE2's do not)."""
    if path == "hyperscan" and not marks.available():
        pytest.skip("no hyperscan")
    words = sorted(set(re.findall(r"[a-z][a-z0-9]*", extract_commands._CMD.pattern)) - {"P", "x"})
    rng = random.Random(7)
    glue = [" ", " ", "\n", "-m ", "-3 ", "3.11 ", "x", "-", "./", "`", "\u00e9", "\u00a0", "\t", "\u3000", "\x0b",
            "\x1c", "3.\u0663 ", "?", "\u2003-m\u2003"]  # fmt: skip
    generated = ["".join(rng.choice(words + glue) for _ in range(rng.randint(1, 25))) for _ in range(10000)]
    generated += [  # every word followed by every word: each two-word command the pattern knows
        rng.choice(glue)
        + first
        + rng.choice([" ", "  ", "\t", " -m ", "3 ", "3.11 ", "\u00a0", "\x0b\x1f", "3.\u0663\u2003-m "])
        + then
        + rng.choice([" x", "", "\n"])
        for first in words
        for then in words
    ]
    generated += [f" {first} {then} x" for first in words for then in words]
    # Python's \\d and \\s match these; the scan's ASCII bytes hold "?" there
    generated += ["python3.\u0663 -m pip install x", "pip3.\u0663\u0663 install y", "uv\x0bpip\u3000install z"]
    found = 0
    for text in texts(8, 0) + generated:
        expected = [(m.span(), m.lastgroup) for m in extract_commands._CMD.finditer(text)]
        starts = marks.marks(text)[0] if path == "hyperscan" else None  # type: ignore[index]
        assert [(m.span(), m.lastgroup) for m in extract_commands._commands(text, starts)] == expected, text
        found += len(expected)
    assert found > 500


def reference_python_imports(code: str, base: int) -> list[tuple]:
    """The import-line fallback as its plain regex definition reads it."""
    out = []
    pattern = r"^(?:>>> |\.\.\. )?[ \t]*(?:from[ \t]+(\w[\w.]*)[ \t]+import[ \t(]+(\w*)|import[ \t]+([^\n#;]+))"
    for m in re.finditer(pattern, code, re.M):
        if m.group(1):
            top = m.group(1).split(".")[0]
            out.append((top, base + m.start(1)))
            continue
        for pm in re.finditer(r"(\w[\w.]*)(?:[ \t]+as[ \t]+\w+)?", m.group(3)):
            if not re.fullmatch(r"[A-Za-z_][\w.]*", pm.group(1)):
                break
            out.append((pm.group(1).split(".")[0], base + m.start(3) + pm.start(1)))
    return out


def test_import_lines_are_the_regex_matches():
    rng = random.Random(9)
    pieces = ["import os", "from a.b import c", ">>> import x", "... from y import (z", "  import p as q, r", "\n", "\n\n",
              " ", "\t", "x = 1", "# import no", "import 3d", "from", "import", "é", ";", "\r"]  # fmt: skip
    codes = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 20))) for _ in range(5000)] + texts(10, 0)
    found = 0
    for code in codes:
        refs = extract_imports._python_imports_regex(code, 7)
        assert [(r.name, r.span[0]) for r in refs] == reference_python_imports(code, 7), code
        found += len(refs)
    assert found > 3000


def test_path_or_url_tests_need_a_path_character():
    """looks_like_path_or_url skips its tests for a token without any of _PATH_CHARS: no token without
    one passes them, whatever str.lower makes of it (every character, and generated tokens)."""
    rng = random.Random(11)
    pieces = ["git+", "GIT@", "file:", "://", ".", "/", "~", "\\", "@", "a", "C", ":", ".WHL", ".tar.gz", "x.py", "-",
              "\u0130", "\u212a", "\u017f", "\ufb06", "+", "_", "1", "link:", "workspace:"]  # fmt: skip
    tokens = [chr(i) for i in range(0x110000)] + [chr(i) * 2 for i in range(0x2000)]
    tokens += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(20000)]
    hits = 0
    for tok in tokens:
        full = refs._path_or_url(tok)
        assert refs.looks_like_path_or_url(tok) == full, tok
        hits += full
    assert hits > 5000


def test_manifest_file_names_are_looked_for_where_they_may_stand():
    """extract() skips manifest_refs' file-name probes where one look at the answer says no name can
    stand: it must find the same manifests as probing every block, also with the non-ASCII letters
    Python's re.IGNORECASE matches to ASCII ones ("\u017f" is an "s", "\u212a" a "K")."""
    rng = random.Random(12)
    pieces = ["```\n", "```toml\n", "```python\n", "```requirements.txt\n", "~~~\n", "\n", "text ", "In requirements.txt:",
              "REQUIREMENTS.TXT", "\u017fetup.py", "pac\u212aage.json", "pyproject.toml", "Pipfile", "setup.cfg",
              "flask==2.0\n", "requests>=2\n", "[project]\ndependencies = [\"x\"]\n", "setup(install_requires=['a'])\n",
              "\u00e9", "# requirements-dev.txt\n", "constraints.txt ", "x" * 150, "```json\n", '"dependencies": {"a": "1"}\n']  # fmt: skip
    generated = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(4000)]
    # words that overlap ("setup.py" + "pyproject.toml"), the region starting inside the first
    generated += [
        f"x setup.pyproject.toml{' ' * k}\n```ini\n[project]\ndependencies = ['a']\n```\n" for k in range(170, 190)
    ]
    skipped = 0
    for text in texts(13, 0) + generated:
        blocks = parse.code_blocks(text, parse.find_fences(text))
        words = manifest_names.FileWords(text)
        for b in blocks:
            before = extract._prose_above(text, b.span[0])
            probed = extract_manifests.manifest_refs(b.language, b.code, b.span[0], before)
            if not extract.may_name_file(words, text, b):
                assert extract_manifests.manifest_refs(b.language, b.code, b.span[0], "", False) == probed, text
                skipped += 1
    assert skipped > 300


def test_bare_names_are_what_the_requirement_parser_makes_of_them():
    """pip_ref and npm_ref return a bare name (letters, digits, "_" and "-") without parsing it: the Ref
    must be the one the full path (templates, paths, PEP 508, npm specs) gives, for every tool and kind."""
    rng = random.Random(14)
    pieces = ["a", "Z", "0", "9", "_", "-", ".", "==1.0", "[x]", "@", " @ ", "<", ">", "$", "{", "~", "/", "\u00e9", "x.py",
              "@1.2.3", "npm:", "@s/", ":"]  # fmt: skip
    tokens = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(30000)]
    bare = 0
    for tok in tokens:
        for tool, kind in (
            ("pip", "install"),
            ("poetry", "install"),
            ("uvadd", "install"),
            ("requirements.txt", "manifest"),
        ):
            assert refs.pip_ref(tok, 5, tool, kind) == refs._pip_ref(tok, 5, tool, kind), (tok, tool)
        for tool, kind in (("npm", "install"), ("npx", "install"), ("package.json", "manifest")):
            assert refs.npm_ref(tok, 5, tool, kind) == refs._npm_ref(tok, 5, tool, kind), (tok, tool)
        bare += refs._BARE_NAME.fullmatch(tok) is not None
    assert bare > 600


# the specifier pattern as first written (each alternative opening with `\b` or `^`)
JS_SPEC = re.compile(
    r"""(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|^[ \t]*import\s+|\bexport\s+\*\s+from\s+)(['"])([^'"\n]+)\1""",
    re.M,
)


def test_js_specifiers_are_the_regex_matches():
    rng = random.Random(15)
    pieces = ["import ", "import(", "require(", "require (", "from ", "export * from ", "'a'", '"b"', "'c\"", "\n", "  ",
              "\t", "x", "\u00a0", "\u3000", "\x0b", "\u00e9", "'@s/p'", "prefrom 'q'", "(", "'", '"']  # fmt: skip
    codes = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 20))) for _ in range(20000)] + texts(16, 0)
    found = 0
    for code in codes:
        expected = [(m.start(2), m.group(2)) for m in JS_SPEC.finditer(code)]
        assert extract_imports._js_specs(code) == expected, code
        assert extract_imports._js_spec(code) == bool(expected), code
        found += len(expected)
    assert found > 5000


def reference_is_local(name: str, text: str) -> bool:
    """is_local's four searches as first written (each tried at every position)."""
    pat = re.escape(name)
    return bool(
        re.search(rf"(?<![\w.-]){pat}(?:/[\w./-]*)?\.py\b", text)
        or re.search(rf"(?<![\w.-]){pat}/(?:__init__\.py|[\w/-]+\.py)\b", text)
        or re.search(rf"^[ \t│├└─|`+*-]*{pat}/[ \t]*(?:#.*)?$", text, re.M)
        or re.search(rf"(?<![\w.-]){pat}\.(?:js|ts|jsx|tsx|mjs|cjs)\b", text)
    )


def test_local_module_searches_are_the_regex_searches():
    rng = random.Random(17)
    names = ["app", "a", "x-y", "lodash.get", "_m", "\u00e9t\u00e9", "app2"]
    pieces = names + ["/", ".py", ".js", ".pyc", "__init__.py", "\n", " ", "\t", "\u2502", "\u251c\u2500\u2500 ", "`", "|", "*", "-",
                      "+", "#", " # c", "x", ".", "s/", "\u00e9", "_", ".jsx", ".tsx9", ".mjs", ".ts", "/x.py", "/a.b.py",
                      ".py-", ".py\u00e9", "\u0663", "/\n"]  # fmt: skip
    local = 0
    for i in range(30000):
        name = names[i % len(names)]
        around = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(2)]
        text = around[0] + name + around[1]
        expected = reference_is_local(name, text)
        assert extract_imports.is_local(name, text) == expected, (name, text)
        local += expected
    assert local > 500


def test_from_module_search_is_the_regex_search():
    """The place of `from x.y import z`'s module in its line: as `\\bfrom\\s+(x\\.y)\\b` finds it."""
    rng = random.Random(19)
    modules = ["a", "os.path", "x_y", "\u00e9t\u00e9", "m\u0301", "a.b.c", "_"]
    pieces = modules + ["from", "from ", "from\t", "from\u00a0", "import ", " ", ".", "x", "_", "\u00e9", "\u0301",
                        "(", "#", "afrom ", "\u0663"]  # fmt: skip
    found = 0
    for i in range(30000):
        module = modules[i % len(modules)]
        around = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(2)]
        line = around[0] + rng.choice(["from ", "from  ", "from", "_from "]) + module + around[1]
        m = re.search(r"\bfrom\s+(" + re.escape(module) + r")\b", line)
        assert name_search.from_module_at(line, module) == (m.start(1) if m else -1), (line, module)
        found += m is not None
    assert found > 1000


def test_command_ends_are_the_regex_searches():
    """_STOP opens every alternative with its character; it must find what its first form found, from
    any start and to any end (`^` and `$` read the whole text, the look-behinds what is before `pos`)."""
    first = re.compile(r"\n|[`;|)]|&&|</|(?:^|(?<=[ \t]))#|(?<=[ \t])>(?=[ \t]|$)", re.M)
    rng = random.Random(18)
    pieces = ["#", " #", "x#", "\n#", ">", " > ", " >", "\t>\n", "&&", "&", "</", "<", "`", ";", "|", ")", "\n", " ", "\t",
              "a", "\\", "\u00e9", "\r"]  # fmt: skip
    found = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        pos, end = sorted((rng.randint(0, len(text)), rng.randint(0, len(text))))
        want = first.search(text, pos, end)
        got = extract_commands._STOP.search(text, pos, end)
        assert (got and (got.span(), got.group())) == (want and (want.span(), want.group())), (text, pos, end)
        found += want is not None
    assert found > 10000


def reference_array_end(code: str, pos: int) -> int:
    """_array_end read character by character (the reading it replaces)."""
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


def test_array_ends_are_the_character_reading():
    rng = random.Random(22)
    pieces = ["[", "]", '"', "'", "\\", "#", "\n", " ", "a", ",", '"x]"', "'[y'", '\\"', "# ]\n", "\u00e9"]
    closed = 0
    for _ in range(30000):
        code = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        pos = rng.randint(0, len(code) + 1)
        want = reference_array_end(code, pos)
        assert extract_manifests._array_end(code, pos) == want, (code, pos)
        closed += want < len(code)
    assert closed > 5000


def test_command_tokens_are_the_regex_matches():
    """A segment with no quote or backslash is split with str.split: the tokens and offsets must be the
    regex's, with every space Python's \\s matches (non-ASCII ones, \\x0b, \\x1c-\\x1f)."""
    token = re.compile(r""""[^"\n]*"|'[^'\n]*'|[^\s"'\\]+""")
    rng = random.Random(19)
    pieces = ["a", "requests", "-r", "x==1", " ", "  ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\x0b", "\x1c",
              "\x1f", "\x85", "\u00e9", '"', "'", '"q u"', "'s'", "\\", "@", ","]  # fmt: skip
    quoted = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 16)))
        start, end = sorted((rng.randint(0, len(text)), rng.randint(0, len(text))))
        want = [
            (t[1:-1], m.start() + 1) if (t := m.group())[0] in "\"'" else (t, m.start())
            for m in token.finditer(text, start, end)
        ]
        assert extract_commands._tokens(text, start, end) == want, (text, start, end)
        quoted += any(c in text[start:end] for c in "\"'\\")
    assert 2000 < quoted < 18000  # both ways of reading a segment were tried


def test_command_segments_end_where_the_plain_reading_ends():
    """A command goes on past a newline after a backslash (blanks after it aside), as read by slicing."""

    def reference(text: str, pos: int, limit: int) -> int:
        n, i = min(len(text), pos + limit), pos
        while (m := extract_commands._STOP.search(text, i, n)) is not None:
            if m.group(0) == "\n" and text[pos : m.start()].rstrip(" \t\r").endswith("\\"):
                i = m.end()
                continue
            return m.start()
        return n

    rng = random.Random(20)
    pieces = ["\\", "\\ ", "\\\t", "\\\r", " ", "\r", "\n", "a", "b c", ";", "#", " #", "`", "\u00a0", "\\\u00a0"]
    continued = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        pos, limit = rng.randint(0, len(text)), rng.choice([3, 400, 4000])
        assert extract_commands._segment_end(text, pos, limit) == reference(text, pos, limit), (text, pos, limit)
        continued += "\\\n" in text[pos:]
    assert continued > 200


def test_blocks_that_cannot_show_a_manifest_are_left_at_once():
    """manifest_refs returns at once for a block no file name points at whose language and content no
    manifest reading accepts: the same as reading it (kinds by language, package.json and setup.py by
    content)."""
    rng = random.Random(29)
    langs = ["python", "py", "bash", "js", "toml", "json", "jsonc", "", "text", "ini", "yaml", "requirements", "ts"]
    lines = ['"devDependencies": {"a": "1"}', '"dependencies": {"b": "2"}', "install_requires=['c']", "[project]",
             "dependencies = ['d']", "flask==2.0", "requests>=2", "import os", "setup(name='x')", "e", "# f"]  # fmt: skip
    left = 0
    for _ in range(20000):
        lang, code = rng.choice(langs), "\n".join(rng.sample(lines, rng.randint(1, 4))) + "\n"
        # (no file name in these blocks: probing them, which the early return never does, finds none)
        got = extract_manifests.manifest_refs(lang, code, 3, "", False)
        assert got == extract_manifests.manifest_refs(lang, code, 3, "", True), (lang, code)
        left += got == ([], set(), False)
    assert left > 5000


def reference_extract(text: str) -> tuple[list[refs.Ref], set[str], set[str]]:
    """extract() as first written: every block probed for a file name and read by manifest_refs, and
    (unless a manifest only) by block_imports."""
    blocks = parse.code_blocks(text, parse.find_fences(text))
    found = extract.find_install_commands(text, [b.span for b in blocks])
    own: set[str] = set()
    imported: list[refs.Ref] = []
    for b in blocks:
        before = extract._prose_above(text, b.span[0])
        got, names, manifest_only = extract_manifests.manifest_refs(b.language, b.code, b.span[0], before)
        found += got
        own |= names
        if not manifest_only:
            imported += extract_imports.block_imports(b.language, b.code, b.span[0])
    local: set[str] = set()
    if imported:
        kept, local = extract_imports.split_local(text, imported, own)
        found += kept
    return found, own, local


def test_extract_leaves_only_blocks_manifest_refs_and_block_imports_find_nothing_in():
    """extract() calls manifest_refs only for a block a file name may stand by, in a manifest language, or
    holding "devDependencies" or (Python) "install_requires"; block_imports only in IMPORT_LANGS; it
    must find what reading every block finds."""
    rng = random.Random(31)
    langs = sorted(extract_manifests.MANIFEST_LANGS | extract_imports.PY_LANGS | extract_imports.JS_LANGS) + [
        "bash", "sh", "yaml", "code", "py2", "cfg", "rust", "go", "console", "shell", "dockerfile", "pip",
    ]  # fmt: skip
    lines = ['"devDependencies": {"a": "1"}', '"dependencies": {"b": "2"}', "install_requires=['c']", "[project]",
             "dependencies = ['d']", "flask==2.0", "requests>=2", "import os", "import flask", "from a import b",
             "setup(name='x')", "e", "# f", "const x = require('left-pad')", "import y from 'react'",
             "[tool.poetry.dependencies]", "g = '1'", "pip install h", "import a.b"]  # fmt: skip
    prose = ["In requirements.txt:", "Text.", "See setup.py.", "Run:", "a.py", "b/", "\u00e9"]
    found = 0
    for _ in range(6000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            code = "\n".join(rng.sample(lines, rng.randint(1, 5)))
            parts.append(f"{rng.choice(prose)}\n\n```{rng.choice(langs)}\n{code}\n```\n")
        text = "\n".join(parts)
        blocks = parse.code_blocks(text, parse.find_fences(text))
        out = extract.extract(text, blocks)
        expected, own, local = reference_extract(text)
        assert (out.refs, out.own, out.local_modules) == (expected, own, local), text
        found += len(expected)
    assert found > 8000


def test_file_words_are_where_the_words_start_ignoring_ascii_case():
    """FileWords finds every start of a file word in the text's ASCII view ("?" for other characters),
    ignoring ASCII case only, overlapping ones too: what a look-ahead for any of them finds."""
    rng = random.Random(37)
    pieces = [*manifest_names.FILENAME_WORDS, "REQUIREMENTS", "Setup.Py", "PIPFILE", "\u017fetup.py", "pac\u212aage.json",
              "setup.pyproject.toml", "requirementsrequirements", "x", " ", "\n", "\u00e9", ".", "setup", "package",
              "pip", "requirement"]  # fmt: skip
    ahead = re.compile("(?=(?:" + "|".join(map(re.escape, manifest_names.FILENAME_WORDS)) + "))", re.I | re.A)
    found = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = [m.start() for m in ahead.finditer(text.encode("ascii", "replace").decode())]
        words = manifest_names.FileWords(text)
        assert words._word_starts() == expected, text
        assert words.any() == (bool(expected) or not text.isascii()), text
        found += len(expected)
    assert found > 20000


def test_the_last_file_name_mention_is_the_regex_scans():
    """last_mention tries the file-name pattern only where a file word starts: the match (span and name)
    must be finditer's last, overlapping words, case and non-ASCII letters the pattern folds included."""
    rng = random.Random(31)
    pieces = ["requirements", "Requirements", "-dev", ".txt", ".in", " file", "setup", ".py", ".cfg", "Pipfile",
              "package", ".json", "pyproject", ".toml", "constraints", " ", "\n", "a", "-", "_", ".", "/", "`",
              "\u017fetup.py", "\u0130", "\u00e9", "requirements.setup.py.txt"]  # fmt: skip
    found = 0
    for _ in range(30000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        want = [None, *manifest_names.FILENAME.finditer(text)][-1]
        got = manifest_names.last_mention(text)
        assert (got and (got.span(), got.group(1))) == (want and (want.span(), want.group(1))), text
        found += want is not None
    assert found > 5000


def reading_every_imported_name(code: str, base: int) -> list[refs.Ref]:
    """_python_imports_regex as it read `import` lines before its one-name shortcut: every name through
    _IMPORTED_NAME and _MODULE_PATH."""
    out = []
    base -= 1
    for m in extract_imports._IMPORT_LINE_NL.finditer("\n" + code):
        mod, first, names = m.groups()
        if mod:
            top = mod.partition(".")[0]
            if top in NAMESPACES and mod.count(".") + 1 < NAMESPACES[top] and first:
                mod = f"{mod}.{first}"
            s = base + m.start(1)
            out.append(refs.Ref("pypi", top, (s, s + len(top)), "import", "python-import", None, "", False, mod))
            continue
        for pm in extract_imports._IMPORTED_NAME.finditer(names):
            mod = pm.group(1)
            if not extract_imports._MODULE_PATH.fullmatch(mod):
                break
            top = mod.partition(".")[0]
            s = base + m.start(3) + pm.start(1)
            out.append(refs.Ref("pypi", top, (s, s + len(top)), "import", "python-import", None, "", False, mod))
    return out


def test_single_name_import_lines_read_as_every_name_is_read():
    rng = random.Random(33)
    pieces = ["import os", "import a.b", "import a..b.", "import x as y", "import p, q", "import é", "import _x",
              "from google.cloud import storage", "import 3d", " ", "\t", "\n", "  import z  ", "import w # c", ";",
              "import a.b as c", ">>> import k", "\u00a0", "importx", "import"]  # fmt: skip
    single = 0
    for _ in range(20000):
        code = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        got = extract_imports._python_imports_regex(code, 11)
        assert got == reading_every_imported_name(code, 11), code
        single += any(r.module and r.module == code[r.span[0] - 11 : r.span[0] - 11 + len(r.module)] for r in got)
    assert single > 5000
