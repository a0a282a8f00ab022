"""Install commands (pip, uv, poetry, pipenv, pipx, conda, npm, yarn, pnpm, bun, npx, `npm create`)
anywhere in an answer: fenced code, inline code and plain prose lines."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from llmvet.validators.packages import scan
from llmvet.validators.packages.command_options import CONDA_VALUE_OPTS, NPM_VALUE_OPTS, NPX_VALUE_OPTS, PIP_VALUE_OPTS
from llmvet.validators.packages.refs import NPM_NAME, PY_NAME, Ref, looks_like_path_or_url, npm_ref, pip_ref

# What the tools' commands look like: each kind of command (the name of its group in _CMD) and its forms,
# one alternative each (marks.py asks Hyperscan for every form on its own).
COMMAND_FORMS: dict[str, tuple[str, ...]] = {
    "pip": (
        r"python(?:3(?:\.\d+)?)?\s+-m\s+pip\s+install",
        r"py(?:\s+-3(?:\.\d+)?)?\s+-m\s+pip\s+install",
        r"pip3?(?:\.\d+)?\s+install",
        r"uv\s+pip\s+install",
    ),
    "uvadd": (r"uv\s+add", r"poetry\s+add", r"pdm\s+add", r"rye\s+add", r"hatch\s+add"),
    "pipenv": (r"pipenv\s+install",),
    "pipx": (r"pipx\s+install", r"uv\s+tool\s+install"),
    "pipxrun": (r"pipx\s+run", r"uv\s+tool\s+run", r"uvx"),
    "conda": (r"conda\s+(?:install|create)", r"mamba\s+(?:install|create)", r"micromamba\s+(?:install|create)"),
    "npm": (
        r"npm\s+(?:install|i|add)",
        r"yarn\s+(?:global\s+)?add",
        r"pnpm\s+(?:add|install|i)",
        r"bun\s+(?:add|install|i)",
        r"deno\s+(?:add|install)",
    ),
    "npx": (r"npx", r"pnpm\s+dlx", r"bunx", r"yarn\s+dlx"),
    "create": (
        r"npm\s+(?:create|init)",
        r"yarn\s+(?:create|init)",
        r"pnpm\s+(?:create|init)",
        r"bun\s+(?:create|init)",
    ),
}
_CMD_BODY = "|".join(f"(?P<{kind}>{'|'.join(forms)})" for kind, forms in COMMAND_FORMS.items())
_CMD = re.compile(r"(?<![\w./-])(?=[pucmnybrhd])(?:" + _CMD_BODY + r")(?=[ \t]|$)", re.M)
_CMD_CANDIDATE = scan.relaxed(_CMD_BODY)  # where _CMD may start (scan.py)
_TOKEN = re.compile(r""""[^"\n]*"|'[^'\n]*'|[^\s"'\\]+""")

# words that end a list of names in prose
_STOPWORD_TEXT = """a an and the to then or for in on with it its this that these those your you we first next also
    following package packages library libraries module modules command commands via using use from of
    if is are be by as at into inside within which will would should can could may might again
    instead before after so but not just only once all any every each both either first second
    here there now locally globally latest version versions beforehand too well manually yourself
    quickly inside command first then run running install installs installed installing via pip npm
    yarn package's e.g i.e etc again already anyway instead whenever when while where"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SKIP_CHARS = set("<>{}$%*")
_SENT_PUNCT = ".,:;!?)”’»*_"
_NEGATED = re.compile(
    r"(?i)(?:\bnot|n't|\bnever|\bavoid(?:ing)?|instead of|rather than|\bwrong)\W{0,3}(?:use\W{0,3}|run\W{0,3})?`?(?:\$\s*)?$"
)
_NEGATION_WORD = re.compile("not|n't|never|avoid|instead of|rather than|wrong")  # each _NEGATED needs one


_MAX_COMMAND = 4000  # characters: longer is not a command someone types (and keeps scans linear)


# `\n|[`;|)]|&&|</|(?:^|(?<=[ \t]))#|(?<=[ \t])>(?=[ \t]|$)`, every alternative written to open with its
# one character (the look-behinds after it), so the engine skips from one candidate character to the next
# (it does only when each alternative opens with a literal: one opening with a class, `[`;|)]`, made it
# try every alternative at every position, ~2.5x the cost)
_STOP = re.compile(r"\n|`|;|\||\)|&&|</|#(?<![^ \t\n]#)|>(?<=[ \t]>)(?=[ \t]|$)", re.M)


def _segment_end(text: str, pos: int, limit: int = _MAX_COMMAND) -> int:
    """Where a shell command starting at pos ends: newline (unless continued with a backslash),
    a backtick, `;`, `|`, `&&`, `)`, a comment, or a redirection."""
    n = pos + limit  # (no min(): the builtin parses its arguments by keywords, ~1 k instructions)
    if n > len(text):
        n = len(text)
    i = pos
    while True:
        m = _STOP.search(text, i, n)
        if m is None:
            return n
        e = m.start()
        if text[e] == "\n":  # a continued line ends with a backslash (blanks after it aside)
            j = e - 1
            while j >= pos and text[j] in " \t\r":
                j -= 1
            if j >= pos and text[j] == "\\":
                i = m.end()
                continue
        return e


def _in_spans(pos: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    """Is pos inside one of the (sorted, disjoint) spans? `starts`: their starts."""
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and pos < spans[i][1]


def _inside_inline_code(text: str, pos: int) -> bool:
    lo = pos - 2000  # bounded: keeps long lines linear (and no max(): see _segment_end)
    line_start = text.rfind("\n", lo if lo > 0 else 0, pos) + 1
    if line_start < lo:
        line_start = lo
    return text.count("`", line_start, pos) % 2 == 1


def _tokens(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """(token without quotes, offset of its first character) for a command segment."""
    seg = text[start:end]
    if '"' not in seg and "'" not in seg and "\\" not in seg:
        # (most segments) the tokens are then the runs of non-spaces: str.split's, found in order
        parts = seg.split()
        body = seg.lstrip()
        if body.rstrip() == " ".join(parts):  # (most) one space apart: each offset follows from the last
            p = start + len(seg) - len(body)  # (seg.find given a start parses its arguments: ~1 k instructions)
            out = []
            for tok in parts:
                out.append((tok, p))
                p += len(tok) + 1
            return out
        out, p = [], 0
        for tok in parts:
            p = seg.find(tok, p)
            out.append((tok, start + p))
            p += len(tok)
        return out
    out = []
    for m in _TOKEN.finditer(text, start, end):
        tok = m.group(0)
        if tok[0] in "\"'":
            out.append((tok[1:-1], m.start() + 1))
        else:
            out.append((tok, m.start()))
    return out


def _prose_accept(tok: str) -> tuple[str, bool] | None:
    """In prose, a package name ends the list at sentence punctuation or an ordinary word;
    a comma keeps the list going (`pip install requests, flask and numpy`)."""
    tok = tok.strip("*_“‘«")
    stripped = tok.rstrip(_SENT_PUNCT)
    last = stripped != tok and not tok.endswith(",")
    if not stripped or stripped.lower() in _STOPWORDS:
        return None
    return stripped, last


def _conda_ref(tok: str, off: int, tool: str = "conda") -> Ref | None:
    if not tok or any(c in _SKIP_CHARS for c in tok) or looks_like_path_or_url(tok):
        return None
    skip = 0
    if "::" in tok:  # conda-forge::numpy
        skip = tok.index("::") + 2
    rest = tok[skip:]
    name = re.split(r"[=<>!~\s\[]", rest, maxsplit=1)[0]
    if not name or not PY_NAME.match(name):
        return None
    return Ref("conda", name, (off + skip, off + skip + len(name)), "install", tool, None, tok)


def _create_name(tok: str) -> tuple[str, int, int] | None:
    """`npm create vite@latest` runs create-vite; `@scope` -> @scope/create; `@s/x` -> @s/create-x."""
    at = tok.find("@", 1)
    base = tok[:at] if at > 0 else tok
    if not NPM_NAME.match(base):
        return None
    if base.startswith("@"):
        scope, _, rest = base.partition("/")
        return (f"{scope}/create-{rest}" if rest else f"{scope}/create"), 0, len(base)
    return f"create-{base}", 0, len(base)


def _commands(text: str, starts: list[int] | None = None) -> Iterator[re.Match[str]]:
    """The matches `_CMD.finditer(text)` gives, the pattern tried only where a command can start
    (scanning with it costs ~35 ns a character, since every position is tried): at `starts` (ascending,
    every place it matches among them: marks.py), else where RE2 finds its relaxed form."""
    if starts is None:
        return scan.finditer(_CMD, _CMD_CANDIDATE, text)
    return scan.tried_at(_CMD, text, starts)


def _negated(text: str, start: int) -> bool:
    """Does advice against the command stand just before it ("not `pip install sklearn`")?"""
    lo = text.rfind("\n", start - 30 if start > 30 else 0, start) + 1  # (no max(): see _segment_end)
    if lo < start - 30:
        lo = start - 30
    before = text[lo:start]
    if before.isascii() and _NEGATION_WORD.search(before.lower()) is None:
        return False  # (non-ASCII text may hold letters that match ASCII ones ignoring case, e.g. "\u017f")
    return _NEGATED.search(text, lo, start) is not None


def find_install_commands(text: str, code_spans: list[tuple[int, int]], starts: list[int] | None = None) -> list[Ref]:
    """The install commands' refs; `starts`: where a command may start (see _commands), if known."""
    refs: list[Ref] = []
    done_to = 0
    code_starts = [a for a, _ in code_spans]
    for m in _commands(text, starts):
        at = m.start()
        if at < done_to:
            continue  # inside the previous command's arguments
        kind = m.lastgroup or ""
        start = m.end()
        in_code = _in_spans(at, code_spans, code_starts)
        prose = not in_code and not _inside_inline_code(text, at)
        end = _segment_end(text, start, _MAX_COMMAND if not prose else 400)
        before = len(refs)
        if not in_code and _negated(text, at):
            continue  # "not `pip install sklearn`", "instead of pip install bs4": advice against it
        toks = _tokens(text, start, end)
        if kind in ("pip", "uvadd", "pipenv", "pipx"):
            tool = kind if kind != "uvadd" else "poetry" if m.group(0).startswith("poetry") else "uvadd"
            _collect(refs, toks, prose, PIP_VALUE_OPTS, pip_ref, tool, single=False)
        elif kind == "pipxrun":
            _collect(refs, toks, prose, PIP_VALUE_OPTS | {"--spec"}, pip_ref, "pipx", single=True)
        elif kind == "conda":
            _collect(refs, toks, prose, CONDA_VALUE_OPTS, _conda_ref, "conda", single=False)
        elif kind == "npm":
            _collect(refs, toks, prose, NPM_VALUE_OPTS, npm_ref, "npm", single=False)
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
        done_to = end if not prose else _names_end(refs, before, start)
    return refs


def _names_end(refs: list[Ref], first: int, start: int) -> int:
    """`max([start] + [r.span[1] for r in refs[first:]])`: a loop, no function nor list made per command."""
    end = start
    for r in refs[first:]:
        if r.span[1] > end:
            end = r.span[1]
    return end


_INDEX_OPTS = ("-i", "--index-url", "--extra-index-url", "--registry", "--index", "--default-index")


def _collect(
    refs: list[Ref],
    toks: list[tuple[str, int]],
    prose: bool,
    value_opts: set[str],
    make: Callable[[str, int, str], Ref | None],
    tool: str,
    single: bool,
) -> None:
    skip_next = False
    saw_comma = False
    first = len(refs)
    index_url = ""
    extra = False
    for i, (tok, off) in enumerate(toks):
        if skip_next:
            skip_next = False
            continue
        if tok.startswith("-"):
            opt, eq, val = tok.partition("=")
            if opt in _INDEX_OPTS:
                index_url = val if eq else (toks[i + 1][0] if i + 1 < len(toks) else "")
                extra = opt == "--extra-index-url"
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
        ref = make(tok, off, tool)
        if ref is not None:
            refs.append(ref)
        elif prose:
            break
        if single or last:
            break
    if index_url:
        for r in refs[first:]:
            r.index_url, r.extra_index = index_url, extra


def _npx(refs: list[Ref], toks: list[tuple[str, int]], prose: bool) -> None:
    it = iter(toks)
    explicit = False  # with -p/--package, the first positional is a command, not a package
    for tok, off in it:
        if tok in ("-p", "--package"):
            nxt = next(it, None)
            if nxt and (r := npm_ref(nxt[0], nxt[1], "npx")):
                refs.append(r)
            explicit = True
            continue
        if tok.startswith("--package="):
            if r := npm_ref(tok[10:], off + 10, "npx"):
                refs.append(r)
            explicit = True
            continue
        if explicit and not tok.startswith("-"):
            return
        if tok.startswith("-"):
            if tok in NPX_VALUE_OPTS:
                next(it, None)
            continue
        if prose:
            acc = _prose_accept(tok)
            if acc is None:
                return
            tok = acc[0]
        if r := npm_ref(tok, off, "npx"):
            refs.append(r)
        return
