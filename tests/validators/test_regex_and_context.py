"""The regex validator and the Context helpers every validator relies on."""

from llmvet.validators.base import Context
from llmvet.validators.regex import RegexValidator


async def check(text, **config):
    return await RegexValidator(RegexValidator.Config(**config)).check(Context(text=text))


async def test_findings_per_pattern_are_capped_and_the_rest_counted():
    verdict = await check("x " * 100, must_not_match=["x"], max_findings=5)
    assert len(verdict.findings) == 5
    assert verdict.findings[-1].evidence["more_matches"] == 95
    assert [f.span for f in verdict.findings] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


async def test_must_match_and_ignore_case():
    assert (await check("Hello", must_match=["hello"], ignore_case=True)).status.value == "passed"
    failed = await check("Hello", must_match=["hello"])
    assert failed.findings[0].code == "regex.must_match" and failed.findings[0].span is None


def test_code_blocks_and_prose_spans():
    text = "Intro.\n```python\nprint(1)\n```\nMiddle.\n~~~\nraw\n~~~\nEnd."
    ctx = Context(text=text)
    assert [(b.language, b.code) for b in ctx.code_blocks] == [("python", "print(1)\n"), ("", "raw\n")]
    assert [text[a:b] for a, b in ctx.prose_spans] == ["Intro.\n", "\nMiddle.\n", "\nEnd."]
    for block in ctx.code_blocks:
        assert text[block.span[0] : block.span[1]] == block.code


def test_an_unclosed_fence_stays_prose_and_markers_must_pair():
    text = "Start\n```a\nnever closed\n~~~\nnot a closer for backticks\n"
    ctx = Context(text=text)
    assert ctx.code_blocks == []
    assert ctx.prose_spans == [(0, len(text))]
    # Many unclosed openers (this was quadratic with a single regex): still no blocks, every line prose.
    many = "```a\n" * 2000
    assert Context(text=many).code_blocks == [] and Context(text=many).prose_spans == [(0, len(many))]


def test_sentences_skip_code_and_keep_spans():
    text = "First sentence. Second one!\n```\ncode. here.\n```\nThird?"
    ctx = Context(text=text)
    assert [s.text for s in ctx.sentences] == ["First sentence.", "Second one!", "Third?"]
    for s in ctx.sentences:
        assert text[s.span[0] : s.span[1]] == s.text


def test_context_parts_are_the_plain_functions_computed_once():
    """Context's cached parts (a lock-free cached_property) give what the text functions give, for whole
    and partial (stream) text, and are computed once: a second read is the same object."""
    import random

    from llmvet import text as parse

    rng = random.Random(5)
    pieces = ["```", "~~~", "```py\n", "\n", "x = 1\n", "Intro. ", "Two? ", " ", "\t", "`", "- a\n", "1. b\n"]
    for i in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        partial = bool(i % 2)
        ctx = Context(text=text, partial=partial)
        fences = parse.find_fences(text, open_ended=partial)
        assert ctx.code_blocks == parse.code_blocks(text, fences), text
        assert ctx.prose_spans == parse.prose_spans(text, fences), text
        assert ctx.sentences == parse.sentences(text, parse.prose_spans(text, fences)), text
        assert ctx.code_blocks is ctx.code_blocks and ctx.sentences is ctx.sentences
