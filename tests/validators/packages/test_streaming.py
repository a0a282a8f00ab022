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


def test_prose_goes_out_word_by_word_and_a_command_line_whole():
    text = "First line here.\nThen run pip install foo now.\nLast"
    windows = feed(text, step=3)
    releases = [r for _, _, r in windows]
    command = text.index("Then run pip")
    line_end = text.index("\n", command) + 1
    assert all(text[r - 1].isspace() or r in (line_end, len(text)) for r in releases)  # whole words only
    assert len([r for r in releases if r <= command]) > 2  # the first line went out a few words at a time
    in_command_line = [r for r in releases if command < r < line_end]
    assert all(r <= text.index("pip") for r in in_command_line)  # nothing from the tool's name until the line ends
    assert line_end in releases and releases[-1] == len(text)
    # each window inside a line reads a few words before its release point (for negations)
    assert any(s < prev for (s, _, _), prev in zip(windows[1:], releases, strict=False) if prev not in (line_end,))


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


def _reads(words, separators, seeds, length, most_step, forget):
    """For `seeds` random texts of `length` words fed 1 to `most_step` characters at a time: (seed, at,
    the text so far, the names found ahead, the state kept between calls, the state with the `forget`
    keys dropped before each call). Each step asserts that both states find the same names ahead."""
    import random

    for seed in range(seeds):
        rng = random.Random(seed)
        text = "".join(rng.choice(words) + rng.choice(separators) for _ in range(length))
        cached: dict = {}
        whole: dict = {}
        at = 0
        while at < len(text):
            at = min(len(text), at + rng.randint(1, most_step))
            part = text[:at]
            line_window(part, cached, 0, False)
            line_window(part, whole, 0, False)
            for key in forget:
                whole.pop(key, None)
            got = [r.name for r in names_ahead(part, cached, imports=True)]
            assert got == [r.name for r in names_ahead(part, whole, imports=True)], (seed, at)
            yield seed, at, part, got, cached, whole


def test_a_line_read_again_finds_the_hints_a_whole_search_finds():
    """Names looked up ahead are the same whether the line being written is searched whole at every
    word or only from a little before its new text (the search a long prose line otherwise repeats)."""
    from llmvet.validators.packages.streaming import NO_HINT

    words = ["the", "river", "from", "fromage", "install", "reinstall", "pip", "numpy", "==", "1.2", "add", "adder"]
    words += ["import", "requests", ">=", "2", "x", "\n", "\n\n", "```python\n", "```\n", "  ", "  numpy", "requi"]
    words += ["pip install fastyamlparserz", "import yaml", "npm install left-pad", "requests==2.1", "\nnumpy"]
    ahead = searched = 0
    # (whole: no memory of earlier searches, the line is searched whole)
    for seed, at, _, got, cached, whole in _reads(words, ["", " ", " ", "\n"], 40, 120, 9, (NO_HINT,)):
        if NO_HINT in whole:  # this call searched for a hint: both searches found one, or neither
            assert cached[NO_HINT] == whole[NO_HINT], (seed, at)
            searched += 1
        ahead += bool(got)
    assert ahead > 20 and searched > 200  # the texts do name packages ahead, and lines were read again


def test_prose_without_a_tool_or_fence_is_not_extracted_again_and_finds_the_same():
    """A line that says "from" or "import" but names no install tool and holds no fence has nothing
    for extraction to find; names_ahead skips it, reading only the new text at each word. The names
    found are the same as with that memory dropped at every call (the line read whole), and the
    skip's verdict is `clean` on the text so far."""
    from llmvet.validators.packages.streaming import NO_HINT, NO_TOOL, clean

    words = ["the", "data", "from", "import", "requires", "add", "numpy", "pip", "pipeline", "micro", "mamba"]
    words += ["npm", "npmx", "py", "python3", "yarn", "`", "``", "~~", "~", "\n", "```python\n", "```\n", "uv"]
    words += ["pip install fastyamlparserz", "import yaml", "npm install left-pad", "from x import y", "-m", "pip3"]
    ahead = skipped = 0
    # (whole: no memory of earlier reads, `clean` of the whole text so far)
    for seed, at, part, got, cached, whole in _reads(words, ["", " ", " ", " ", "\n"], 60, 150, 7, (NO_HINT, NO_TOOL)):
        if NO_TOOL in whole:  # read this call: both reads say the same
            assert cached[NO_TOOL] == whole[NO_TOOL], (seed, at)
            start, length = whole[NO_TOOL]
            if length >= 0:
                assert clean(part[start : start + length]), (seed, at)
                skipped += 1
        ahead += bool(got)
    assert ahead > 20 and skipped > 100  # names were found ahead, and prose lines were skipped
