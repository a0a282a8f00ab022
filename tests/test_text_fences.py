"""find_fences reads the fence lines found by one regex pass and pairs them in one walk; it must give
exactly what the two line patterns' definition gives (an opener paired with the first later closer of
its marker, openers inside a block skipped, an opener no closer follows left as prose), on every answer
of the test corpora, on answers joined into long multi-block texts, and on generated fence soup."""

from __future__ import annotations

import random

import pytest

from llmvet.text import code_blocks, find_fences
from tests.support.corpus import corpus_texts
from tests.validators.uncertainty.test_text_fast_paths import FENCE_OPEN
from tests.validators.uncertainty.test_text_fast_paths import reference_fences as reference


def corpus() -> list[str]:
    singles = corpus_texts()
    joined = ["\n\n".join(singles[i : i + k]) for k in (5, 25) for i in range(0, len(singles) - k + 1, k)]
    return singles + joined


# Fence lines of both markers, closers and openers, lines that are neither, and the line ends around them:
# unclosed openers of one marker before blocks of the other, markers at the very start and end.
PIECES = [
    "```", "~~~", "```python\n", "~~~ js\n", "```\n", "~~~\n", "  ```\n", "\t~~~ \n", "```  \t\n", "````\n",
    "~~~~\n", "x```\n", "``` ```\n", "```a`b\n", "~~~`\n", "```\r\n", "\n", "\n\n", " ", "\t", "code\n",
    "`", "~", "\u00a0```\n", "\u00e9\n",
]  # fmt: skip


def soup(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def check(texts: list[str]) -> tuple[int, int]:
    """Compare every text both ways; how many texts have blocks, and how many an opener left as prose."""
    with_blocks = with_unclosed = 0
    for text in texts:
        for open_ended in (False, True):
            got = find_fences(text, open_ended)
            assert got == reference(text, open_ended), (text, open_ended)
        closed = find_fences(text)
        with_blocks += bool(closed)
        opened = sum(1 for m in FENCE_OPEN.finditer(text) if not any(f[0] <= m.start() < f[1] for f in closed))
        with_unclosed += bool(opened)
    return with_blocks, with_unclosed


def test_fences_on_every_corpus_answer_and_joined_answers():
    texts = corpus()
    with_blocks, _ = check(texts)
    assert with_blocks > 500  # the corpora are full of code blocks (the comparison sees them)


@pytest.mark.parametrize("seed", [11, 12])
def test_fences_on_generated_fence_soup(seed):
    texts = soup(seed, 4000)
    with_blocks, with_unclosed = check(texts)
    assert with_blocks > 1000 and with_unclosed > 500  # both kinds of opener are exercised


def test_fences_on_generated_backtick_soup():
    """Texts without "~~~" (most answers) are read by a walk of their own: the same fences."""
    pieces = [p for p in PIECES if "~" not in p]
    rng = random.Random(13)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(4000)]
    with_blocks, with_unclosed = check(texts)
    assert with_blocks > 1000 and with_unclosed > 500


def test_blocks_read_their_code_and_info():
    text = "Run:\n\n```Bash \npip install x\n```\n~~~\nunclosed\n\n```py\nimport y\n```"
    blocks = code_blocks(text, find_fences(text))
    assert [(b.language, b.code) for b in blocks] == [("bash", "pip install x\n"), ("py", "import y\n")]
    assert all(text[b.span[0] : b.span[1]] == b.code for b in blocks)
