"""How packages cuts a stream into checkable windows: line by line, code lines with their fence."""

from __future__ import annotations

from llmvet.validators.packages.streaming import BLOCK_WINDOW_LIMIT, line_window, names_ahead


def feed(text: str, step: int = 5) -> list[tuple[int, int, int]]:
    """Every (start, end, release) the proxy would act on, feeding `text` `step` characters at a time."""
    state: dict = {}
    cleared, seen = 0, []
    for i in range(step, len(text) + step, step):
        start, end, release = line_window(text[:i], state, cleared, i >= len(text))
        if end > start and release > cleared:
            seen.append((start, end, release))
            cleared = release
    return seen


def test_prose_lines_are_released_one_by_one():
    text = "First line.\nSecond line.\nThird"
    windows = feed(text)
    assert [text[s:e] for s, e, _ in windows] == ["First line.\n", "Second line.\n", "Third"]


def test_code_lines_are_checked_with_their_fence_and_released_line_by_line():
    text = "Intro.\n```python\nimport os\nimport yaml\n```\nAfter.\n"
    windows = feed(text, step=3)
    fence = text.index("```python")
    in_block = [(s, e, r) for s, e, r in windows if fence < r <= text.index("```\nAfter")]
    assert len(in_block) >= 2  # released before the block closed, more than once
    assert all(text[s:].startswith("```python") for s, _, _ in in_block)  # each window carries the fence
    assert windows[-1][2] == len(text)


def test_a_block_over_the_limit_is_held_until_it_closes():
    body = "".join(f"x = {i}\n" for i in range(BLOCK_WINDOW_LIMIT // 6 + 50))
    text = "```python\n" + body + "```\nDone.\n"
    close = text.index("```\nDone")
    releases = [r for _, _, r in feed(text, step=64)]
    released_in_block = [r for r in releases if r <= close]
    assert max(released_in_block) <= BLOCK_WINDOW_LIMIT  # nothing past the limit before the close
    assert any(r > close for r in releases) and releases[-1] == len(text)


def test_names_in_the_line_being_written_are_found_once_complete():
    state: dict = {}
    text = ""
    found = []
    for word in ["Then", "run", "pip", "install", "fastyamlparserz", "and", "go"]:
        text += word + " "
        line_window(text, state, 0, False)
        found.append([r.name for r in names_ahead(text, state, imports=True)])
    assert found[:4] == [[], [], [], []]  # "Then run pip install": no name yet
    assert found[4] == ["fastyamlparserz"]  # complete once the space after it arrived
