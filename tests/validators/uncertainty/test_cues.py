"""Cue lists are data: a policy extends them with files or inline entries; bad data is reported, not fatal."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmvet.validators.base import Context, Status
from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.cues import CueError, build, load, read_cue_file, shipped_path

TEXT = "Paris is the capital of France (source: my notes, unchecked)."


async def run(text: str, **settings):
    v = UncertaintyValidator(UncertaintyValidator.Config(**settings))
    return v, await v.check(Context(text=text))


def test_shipped_file_loads_and_has_every_list():
    cues = load("en")
    for section in ("statement_strong", "statement_caveat", "filler", "hedge", "refusal", "deflection"):
        assert cues.get(section) is not None, section
    assert set(cues.categories) >= {"safety", "capability", "policy", "deflection"}
    assert shipped_path("en").name == "en.yaml"


async def test_inline_extra_cues_add_a_statement_phrase():
    _, before = await run(TEXT)
    assert before.status is Status.FAILED
    _, after = await run(TEXT, extra_cues={"statement_caveat": ["source: my notes, unchecked"]})
    assert after.status is Status.PASSED


async def test_extra_cue_file_with_macros_hedges_and_categories(tmp_path):
    extra = tmp_path / "team.yaml"
    extra.write_text(
        'macros:\n  hunch: "(?:hunch|gut feeling)"\n'
        'statement_strong:\n  - "my {hunch} says"\n'
        'hedge:\n  - "ish"\n'
        'refusal:\n  - "computer says no"\n'
        'refusal_categories:\n  policy:\n    - "house rules"\n',
        encoding="utf-8",
    )
    v, verdict = await run("My gut feeling says 1912-ish, give or take.", extra_cue_files=[str(extra)])
    assert verdict.status is Status.PASSED
    assert any(
        c["text"] == "ish" for f in verdict.findings if f.code == "uncertainty.hedging" for c in f.evidence["cues"]
    )
    _, refused = await run("Computer says no. House rules.", extra_cue_files=[str(extra)])
    refusal = next(f for f in refused.findings if f.code == "uncertainty.refusal")
    assert refusal.evidence["category"] == "policy"
    # the cue file is fine (without the embeddings extra, 'embedding pass off' is the one problem left)
    assert [p for p in v.problems() if not p.startswith("embedding pass off")] == []


async def test_missing_extra_file_is_a_problem_and_the_shipped_lists_still_work(tmp_path):
    v, verdict = await run("I'm not sure about the year.", extra_cue_files=[str(tmp_path / "nope.yaml")])
    assert any("nope.yaml" in p for p in v.problems())
    assert verdict.status is Status.PASSED


@pytest.mark.parametrize(
    "content, message",
    [
        ("hedges:\n  - maybe\n", "unknown section"),
        ("hedge: maybe\n", "list of strings"),
        ('statement_strong:\n  - "{nomacro} x"\n', "unknown macro"),
        ('hedge:\n  - "(oops"\n', "bad pattern"),
        # a global flag compiles alone but not joined into the section: named here, not a traceback
        ('hedge:\n  - "(?s)not.sure"\n', r"bad pattern '\(\?s\)not\.sure': global flags"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_cue_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CueError, match=message):
        build(read_cue_file(path), str(path))


def test_unknown_language_is_a_problem():
    v = UncertaintyValidator(UncertaintyValidator.Config(language="xx"))
    assert any("language" in p for p in v.problems())


def test_one_compiled_cue_set_however_load_is_called():
    """The validator asks for load(language, files, json); tools ask for load("en"): one compile."""
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    assert validator._load_cues() is load("en") is load("en", (), "") is load(extra_files=[])  # type: ignore[arg-type]
    assert load("en", extra_json='{"hedge": ["zzqx maybe"]}') is not load("en")


def test_a_policy_extra_cue_with_a_global_flag_is_a_clear_config_error():
    with pytest.raises(ValidationError, match=r"bad pattern '\(\?s\)zorblax\.quux'"):
        UncertaintyValidator.Config(extra_cues={"hedge": ["(?s)zorblax.quux"]})
    assert UncertaintyValidator.Config(extra_cues={"hedge": ["(?s:zorblax.quux)"]})  # scoped: fine
