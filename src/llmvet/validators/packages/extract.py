"""Find every package an answer tells the reader to install or import, with its exact span.

Three sources, all returning `Ref`s whose `span` covers just the package name in the answer text:
- install commands anywhere: fenced code, inline code and plain prose lines (extract_commands.py);
- manifests shown in code blocks: requirements files, pyproject.toml, setup.py/setup.cfg, Pipfile,
  package.json (extract_manifests.py);
- imports in Python and JS/TS code blocks, leaving out stdlib, Node built-ins, relative imports and
  modules the answer itself defines (extract_imports.py).

Pure functions, no I/O: cheap enough to run inline for a typical answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from llmvet.validators.packages.extract_commands import find_install_commands
from llmvet.validators.packages.extract_imports import (
    IMPORT_LANGS,
    JS_LANGS,
    PY_LANGS,
    block_imports,
    is_local,
    is_stdlib,
    local_modules,
    split_local,
)
from llmvet.validators.packages.extract_manifests import manifest_refs, may_show_manifest
from llmvet.validators.packages.manifest_names import FileWords
from llmvet.validators.packages.marks import marks
from llmvet.validators.packages.refs import Ecosystem, Extraction, Ref

__all__ = [
    "JS_LANGS",
    "PY_LANGS",
    "Ecosystem",
    "Extraction",
    "Ref",
    "extract",
    "find_install_commands",
    "is_local",
    "is_stdlib",
    "local_modules",
]


class Block(Protocol):
    """The parts of a fenced code block extraction reads (llmvet.text's CodeBlock has them)."""

    @property
    def language(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def span(self) -> tuple[int, int]: ...


def _prose_above(text: str, start: int) -> str:
    """The prose just above a block's fence (not reaching into an earlier block)."""
    # (conditional expressions, not max(): the builtin parses its arguments by keywords, ~1 k instructions)
    fence_line_start = text.rfind("\n", 0, start - 1 if start > 1 else 0) + 1
    lo = fence_line_start - 200
    before = text[lo if lo > 0 else 0 : fence_line_start]
    if "```" in before or "~~~" in before:
        a, b = before.rfind("```"), before.rfind("~~~")
        before = before[(a if a > b else b) + 3 :]
    return before


def may_name_file(words: FileWords, text: str, block: Block) -> bool:
    """Can a file name stand where manifest_refs looks for one: in the 200 characters above the
    block's fence line, the fence line, or the block's first line?"""
    start, code = block.span[0], block.code
    lo = text.rfind("\n", 0, start - 1 if start > 1 else 0) + 1 - 200  # (no max(): see _prose_above)
    if lo < 0:
        lo = 0
    if not words.may_name(lo, start + len(code)):
        return False  # not even with the whole block (most blocks): its first line need not be found
    first = len(code) - len(code.lstrip())
    nl = code.find("\n", first)
    return words.may_name(lo, start + (len(code) if nl < 0 else nl))


def extract(
    text: str, blocks: Sequence[Block], *, imports: bool = True, context: str = "", defined: Collection[str] = ()
) -> Extraction:
    """All references in `text`. `blocks` are the answer's fenced code blocks (ctx.code_blocks).
    A stream's window also gets what earlier text said: `context`, lines that may name files the answer
    defines, and `defined`, the project and module names earlier windows showed it defines."""
    out = Extraction()
    found = marks(text)  # (one pass for commands and file words; None without Hyperscan)
    if found is None or found[0]:  # (a third of answers: no place a command may start, nothing to read)
        out.refs.extend(find_install_commands(text, [b.span for b in blocks], None if found is None else found[0]))
    own: set[str] = set(defined)
    import_refs: list[Ref] = []
    words = FileWords(text, None if found is None else found[1])
    any_words = bool(blocks) and words.any()  # (most answers: no block can name a file, none is probed)
    for b in blocks:
        lang, code, start = b.language, b.code, b.span[0]
        named = any_words and may_name_file(words, text, b)
        if named or may_show_manifest(lang, code):  # (most blocks: neither, and no manifest_refs call)
            before = _prose_above(text, start) if named else ""
            refs, names, manifest_only = manifest_refs(lang, code, start, before, named)
            out.refs.extend(refs)
            own |= names
            if manifest_only:
                continue
        if imports and lang in IMPORT_LANGS:  # (block_imports finds none in any other language)
            import_refs.extend(block_imports(lang, code, start))
    if import_refs:
        if context:  # (the lines a stream's window brings along are not in `found`)
            kept, local = split_local(f"{text}\n{context}", import_refs, own)
        else:
            kept, local = split_local(text, import_refs, own, None if found is None else found[2])
        out.refs.extend(kept)
        out.local_modules |= local
    out.own = own
    return out
