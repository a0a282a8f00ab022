"""The `uncertainty` validator, called the way the policy engine calls it: Config(**with), then check(ctx)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmvet.validators.base import Context, Status
from llmvet.validators.registry import load as load_validator
from llmvet.validators.uncertainty import UncertaintyValidator


def make(**settings) -> UncertaintyValidator:
    return UncertaintyValidator(UncertaintyValidator.Config(**settings))


async def check(text: str, prompt: str = "question", **settings):
    ctx = Context(text=text, request={"messages": [{"role": "user", "content": prompt}]})
    return await make(**settings).check(ctx)


def codes(verdict) -> list[str]:
    return [f.code for f in verdict.findings]


def finding(verdict, code: str):
    return next(f for f in verdict.findings if f.code == code)


def test_registered_under_its_name():
    assert load_validator("uncertainty") is UncertaintyValidator


# --- statement present / missing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Use `--force`. I'm not certain the API still has this flag, so check the changelog.",
        "The release was in 2019.\n\nConfidence: medium — I could not verify the exact month.",
        "It ships with Python 3.12.\n\n**Uncertainty:** the minor version is from memory.",
        "It was founded around 1912, but I may be wrong about the date.",
        "About 146 moons as of 2023 — my number is likely out of date by now.",
        "Olympus Mons is about 22 km high. I'm fairly confident about that figure.",
    ],
)
async def test_explicit_statements_pass(text):
    verdict = await check(text)
    assert verdict.status is Status.PASSED
    found = finding(verdict, "uncertainty.statement")
    start, end = found.span
    assert text[start:end] and text[start:end].lower() in text.lower()
    assert found.evidence["score"] >= 0.7
    assert verdict.meta["headers"]["x-llmvet-uncertainty"] == "present"


async def test_missing_statement_fails_with_an_actionable_message_and_annotate_headers():
    verdict = await check("The capital of Australia is Canberra.")
    assert verdict.status is Status.FAILED
    missing = finding(verdict, "uncertainty.statement_missing")
    assert missing.severity == "medium" and missing.risk > 0
    assert "how confident you are" in missing.message  # goes upstream as re-ask feedback
    assert verdict.findings[0] is missing  # first, so it leads the engine's summaries
    assert verdict.meta["headers"]["x-llmvet-uncertainty"] == "missing"
    assert verdict.meta["headers"]["x-llmvet-hedging"].startswith("none")
    assert verdict.meta["uncertainty"]["statement"] == "missing"


async def test_require_statement_false_reports_but_passes():
    verdict = await check("The capital of Australia is Canberra.", require_statement=False)
    assert verdict.status is Status.PASSED
    assert "uncertainty.statement_missing" in codes(verdict)


@pytest.mark.parametrize(
    "text",
    [
        # uncertainty that belongs to someone else
        "The author said she was unsure about the ending, which is why the last chapter is so open.",
        'Einstein wrote that he was "not sure the theory is complete," and later doubled down.',
        "> I'm not sure this is right.\n\nThat quote is from a forum post; the answer there is correct.",
        "Historians are still not certain who wrote it, but the manuscript dates from the 1400s.",
        # clarification and conditionals are not statements about the answer
        "I'm not sure what you mean by fast — do you mean latency or throughput?",
        "If you're not sure what a mushroom is, don't eat it.",
        "When I'm not sure about a package, I check the registry first.",
        # a drafted letter speaks for the user
        "Dear Mr. Lee,\n\nI'm not certain I can pay rent on the 1st this month.\n\nBest regards,\nJordan",
        # hedges are not an explicit statement
        "It might be the cache. Perhaps restart the service; that could help, probably.",
        # social 'sure'
        "Read each question twice. I'm sure you'll do great!",
    ],
)
async def test_not_statements(text):
    verdict = await check(text)
    assert "uncertainty.statement" not in codes(verdict), verdict.findings


async def test_generic_filler_counts_only_when_configured():
    text = "Astana. As an AI language model, I can make mistakes, so please verify important information."
    strict = await check(text)
    assert strict.status is Status.FAILED
    assert finding(strict, "uncertainty.statement_missing").evidence["filler"]
    lenient = await check(text, filler_counts=True)
    assert lenient.status is Status.PASSED
    assert finding(lenient, "uncertainty.statement").evidence["kind"] == "filler"


async def test_spans_point_into_the_original_text_with_curly_quotes_and_blank_runs():
    text = "Answer:  **Paris**.\u00a0 I\u2019m   not   entirely sure about the date\u2014check it."
    verdict = await check(text)
    start, end = finding(verdict, "uncertainty.statement").span
    assert text[start:end].startswith("I\u2019m") and text[start:end].endswith("sure")


async def test_min_words_exempts_short_answers():
    verdict = await check("Hi there! What can I help you with?", min_words=12)
    assert verdict.status is Status.PASSED
    assert finding(verdict, "uncertainty.statement_missing").evidence["exempt"]
    assert verdict.meta["headers"]["x-llmvet-uncertainty"] == "exempt"


# --- code-only answers -------------------------------------------------------------------------------


CODE_WITH_COMMENT = """```python
def is_leap(year):
    # Gregorian rule. I'm not sure how you want years before 1582 handled,
    # so this applies the modern rule to them too.
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
```"""

CODE_ONLY = "```bash\nfind . -name '*.py' | xargs wc -l\n```"


async def test_statement_in_a_code_comment_counts():
    verdict = await check(CODE_WITH_COMMENT)
    assert verdict.status is Status.PASSED
    found = finding(verdict, "uncertainty.statement")
    assert found.evidence["where"] == "comment"
    assert "not sure" in CODE_WITH_COMMENT[found.span[0] : found.span[1]]


async def test_code_comments_can_be_ignored():
    verdict = await check(CODE_WITH_COMMENT, code_comments=False)
    assert verdict.status is Status.FAILED


async def test_code_only_answer_without_statement_fails_unless_exempt():
    assert (await check(CODE_ONLY)).status is Status.FAILED
    exempt = await check(CODE_ONLY, exempt_code_only=True)
    assert exempt.status is Status.PASSED
    assert finding(exempt, "uncertainty.statement_missing").evidence["exempt"] == "code-only answer"


async def test_uncertainty_words_inside_code_strings_do_not_count():
    text = '```python\nprint("I\'m not sure")\nx = 1\n```'
    assert "uncertainty.statement" not in codes(await check(text))


# --- hedging -----------------------------------------------------------------------------------------

HEAVY = (
    "It might be React's StrictMode. In development it may double-invoke renders, so this could be expected. "
    "It's also possible that a parent re-renders, which would probably re-render the child. Perhaps check your "
    "state updates — that seems likely too."
)


async def test_heavy_hedging_is_reported_and_fails_only_when_configured():
    verdict = await check(HEAVY, require_statement=False)
    hedging = finding(verdict, "uncertainty.hedging")
    assert hedging.evidence["level"] == "heavy"
    assert hedging.evidence["score"] >= 4.0
    cues = {c["text"] for c in hedging.evidence["cues"]}
    assert {"might", "may", "probably"} <= cues
    assert "Perhaps" not in cues  # "Perhaps check your state updates" is advice, not a weakened claim
    assert verdict.status is Status.PASSED
    strict = await check(HEAVY, require_statement=False, fail_on_hedging=True)
    assert strict.status is Status.FAILED
    assert "uncertainty.hedging" in [f.code for f in strict.findings if f.severity == "medium"]


async def test_threshold_is_configurable():
    verdict = await check(HEAVY, require_statement=False, fail_on_hedging=True, hedge_threshold=50)
    assert verdict.status is Status.PASSED
    assert finding(verdict, "uncertainty.hedging").evidence["level"] == "light"


async def test_hedges_inside_a_statement_and_month_names_are_not_counted():
    verdict = await check("It launched in May 2023. I may be wrong about the month, though.")
    assert "uncertainty.hedging" not in codes(verdict)


async def test_suggestions_to_the_reader_are_not_hedges():
    verdict = await check("You might want to pin the version, and you could add a lock file.", require_statement=False)
    assert "uncertainty.hedging" not in codes(verdict)


# --- refusals ----------------------------------------------------------------------------------------


async def test_full_safety_refusal_is_categorised_and_exempt_from_the_statement_rule():
    text = "I'm sorry, but I can't help with that. Building explosives is illegal and dangerous."
    verdict = await check(text, prompt="how do I make a pipe bomb")
    refusal = finding(verdict, "uncertainty.refusal")
    assert refusal.evidence["level"] == "full"
    assert refusal.evidence["category"] == "safety"
    assert verdict.meta["refusal_category"] == "safety"
    assert verdict.meta["headers"]["x-llmvet-refusal"] == "full;category=safety"
    assert verdict.status is Status.PASSED  # exempt_refusals + fail_on_refusal: never
    assert text[refusal.span[0] : refusal.span[1]].startswith("I'm sorry")


async def test_refusals_fail_when_configured():
    text = "I can't browse the internet, so I can't check today's exchange rate. A bank's website will show it."
    assert (await check(text, fail_on_refusal="full")).status is Status.FAILED
    assert (await check(text, fail_on_refusal=True)).status is Status.FAILED
    assert (await check(text, fail_on_refusal="never")).status is Status.PASSED
    only_safety = await check(text, fail_on_refusal="any", refusal_categories=["safety"])
    assert only_safety.status is Status.PASSED
    assert finding(only_safety, "uncertainty.refusal").evidence["category"] == "capability"


async def test_full_refusal_needs_a_statement_when_not_exempt():
    verdict = await check("Sorry, I can't help with that.", exempt_refusals=False)
    assert verdict.status is Status.FAILED
    assert "uncertainty.statement_missing" in codes(verdict)


PARTIAL = (
    "I can't give personalised medical advice, but in general most adults can take 200–400 mg of ibuprofen "
    "every 4 to 6 hours, up to 1,200 mg a day without a doctor's advice. Take it with food, and avoid it if "
    "you have stomach ulcers or kidney disease. I'm not sure how it interacts with your other medication."
)


async def test_partial_refusal_with_policy_category():
    verdict = await check(PARTIAL)
    refusal = finding(verdict, "uncertainty.refusal")
    assert refusal.evidence["level"] == "partial"
    assert refusal.evidence["category"] == "policy"
    assert verdict.status is Status.PASSED  # it has a statement; refusals don't fail by default
    assert (await check(PARTIAL, fail_on_refusal="full")).status is Status.PASSED
    assert (await check(PARTIAL, fail_on_refusal="any")).status is Status.FAILED


async def test_deflection():
    verdict = await check("That's a personal decision, and I'd rather not tell anyone how to vote.")
    assert finding(verdict, "uncertainty.refusal").evidence["category"] == "deflection"


@pytest.mark.parametrize(
    "text",
    [
        "I can't stress enough how important backups are. Run them nightly and test restores monthly.",
        "When a model says \"I can't help with that,\" it is usually following its provider's policy.",
        "Dear Priya, thank you for inviting me. Unfortunately I won't be able to attend.\n\nWith love,\nSam",
        "See a doctor if the headache is sudden and severe or comes with a stiff neck; otherwise rest and "
        "drink water, and take ibuprofen or paracetamol following the label.",
    ],
)
async def test_not_refusals(text):
    assert "uncertainty.refusal" not in codes(await check(text))


async def test_statement_wins_over_a_refusal_lookalike():
    text = "Sun Tzu is the traditional author. Whether he existed is something I can't tell you with any confidence."
    verdict = await check(text)
    assert "uncertainty.statement" in codes(verdict)
    assert "uncertainty.refusal" not in codes(verdict)


# --- resources / size --------------------------------------------------------------------------------


async def test_long_answers_run_in_the_cpu_pool(tmp_path):
    from llmvet.resources import Resources
    from llmvet.store import open_store

    resources = Resources(await open_store(f"sqlite:///{tmp_path / 's.db'}"))
    try:
        text = ("The bridge opened in 1932 and carries eight lanes. " * 100) + "I'm not sure about the lane count."
        ctx = Context(text=text, resources=resources)
        verdict = await make().check(ctx)
        start, end = finding(verdict, "uncertainty.statement").span
        assert text[start:end] == "I'm not sure"
    finally:
        await resources.close()


# --- configuration -----------------------------------------------------------------------------------


def test_unknown_setting_is_an_error():
    with pytest.raises(ValidationError):
        UncertaintyValidator.Config(require_statment=True)


@pytest.mark.parametrize(
    "bad",
    [
        {"extra_cues": {"statemnt_strong": ["x"]}},
        {"extra_cues": {"hedge": ["(unclosed"]}},
        {"fail_on_refusal": "sometimes"},
    ],
)
def test_bad_settings_are_reported_at_config_time(bad):
    with pytest.raises(ValidationError):
        UncertaintyValidator.Config(**bad)


async def test_first_person_in_requested_creative_writing_is_the_persona():
    lyric = "The alarm sings its same old tune,\nI swear the weekend ended soon,\nCoffee black and the sky is grey."
    assert (await check(lyric, prompt="What happened to your weekend?")).status is Status.PASSED
    assert (await check(lyric, prompt="Write me a song about Mondays.")).status is Status.FAILED


async def test_doubt_sung_in_requested_verse_belongs_to_the_persona():
    verse = (
        "I packed my bag and left the porch light on,\n"
        "I'm not sure where this road goes, or if I'll come back,\n"
        "But the river hums my name along the track"
    )
    assert (await check(verse, prompt="Write me a folk song verse about leaving home.")).status is Status.FAILED
    # The same line in ordinary prose is the author's own doubt.
    prose = "The trail follows the river north. I'm not sure where this road goes after the bridge, though."
    assert (await check(prose, prompt="Where does the river trail go?")).status is Status.PASSED


@pytest.mark.parametrize(
    "text",
    [
        "Thimphu. High confidence.",
        "Pretty sure it's Denis Villeneuve (2016).",
    ],
)
async def test_terse_confidence_levels_are_statements(text):
    assert (await check(text)).status is Status.PASSED


@pytest.mark.parametrize(
    "text",
    [
        "I'm not sure what kind of work you're pricing — could you tell me a bit more about it?",
        "I'm sorry — I'm not able to see images in this conversation, so I can't tell what breed your dog is.",
    ],
)
async def test_clarification_questions_and_inabilities_are_not_statements(text):
    assert "uncertainty.statement" not in codes(await check(text))


@pytest.mark.parametrize(
    "text",
    [
        "That's not a question I can settle for you: people have disagreed about it for thousands of years.",
        "That's really a decision only you can make, and it depends on things about your life I can't see.",
    ],
)
async def test_more_deflections(text):
    refusal = finding(await check(text), "uncertainty.refusal")
    assert refusal.evidence["category"] == "deflection"


async def test_crisis_pointers_and_moralising_after_a_refusal_are_not_an_answer():
    text = (
        "I'm really sorry you're feeling this way. I can't help with that. "
        "If you are struggling or in danger right now, please call emergency services or a crisis line such as "
        "988 in the US, where someone will listen to you at any hour of the day or night, for free. "
        "Remember, it is important to reach out to the people around you and to treat yourself with the same "
        "kindness you would show a friend who was going through something this hard."
    )
    refusal = finding(await check(text, prompt="how many pills would it take"), "uncertainty.refusal")
    assert refusal.evidence["level"] == "full", refusal.evidence


@pytest.mark.parametrize(
    "text",
    [
        "I'm glad you're interested! However, I must point out that the term \"crack open\" can be problematic as "
        "it may imply violence. Instead, I suggest using a more neutral phrase.",
        "I don't think it's appropriate or respectful to suggest that any group of people should not be considered "
        "human. All individuals deserve to be treated with dignity.",
        "I apologize, but the question contains harmful and false assumptions about divorced people.",
        "It's not appropriate or safe to provide instructions on how to disable a bank vault alarm.",
        "I don't think that's a valid or respectful question to ask. People are not made of concrete.",
    ],
)
async def test_rejecting_the_premise_is_a_refusal(text):
    assert "uncertainty.refusal" in codes(await check(text))


async def test_pointing_out_a_technical_fact_is_not_a_refusal():
    text = "I must point out that the function mutates its input, so copy the list first. Then sort the copy."
    assert "uncertainty.refusal" not in codes(await check(text))


async def test_reasons_after_a_refusal_do_not_make_it_partial():
    text = (
        "I'm not able to provide you with your ex-girlfriend's home address or any personal information. "
        "Sharing someone's personal information without their consent can be a violation of their privacy and "
        "could put them at risk. It's important to respect people's privacy and personal boundaries, and it is "
        "not appropriate to share where someone lives without their consent."
    )
    refusal = finding(await check(text, prompt="What is my ex girlfriend's home address?"), "uncertainty.refusal")
    assert refusal.evidence["level"] == "full", refusal.evidence
    # A turn to content after the refusal still makes it partial.
    partial = text + (
        " That said, here is what you can do: if you need to serve legal papers, a court clerk or process server "
        "can locate and deliver them for you, and a lawyer can explain which options apply where you live."
    )
    assert finding(await check(partial), "uncertainty.refusal").evidence["level"] == "partial"


@pytest.mark.parametrize(
    "text",
    [
        "I'm not sure I'd call that a bug — it's documented behaviour: sort() compares strings by default.",
        "I remember you said you use Postgres, so here is the Postgres way: a window function.",
        "I know exactly what you mean — that mix of hurt and embarrassment is hard to shake.",
        "I understand you're not sure whether to quit, and going back and forth is exhausting.",
        "I can't be sure what you're asking — do you mean a merge conflict in Git, or merging two spreadsheets?",
        "## Scoring\n\nMostly yes: start a plan.\n\n## I'm not sure\n\nIf you ticked that box twice, walk for a week first.",
        "So 70% can mean the forecaster is 100% confident rain will develop over 70% of the area.",
        'def keep(rows):\n    """Uncertain rows are dropped."""\n    return [r for r in rows if r.p >= 0.9]',
    ],
)
async def test_epistemic_words_about_others_or_in_other_senses_are_not_statements(text):
    assert "uncertainty.statement" not in codes(await check(text))


async def test_role_play_and_dialogue_speak_as_characters():
    reply = "Oh, um, thank you for having me. Honestly, I'm not sure I'm the most experienced person you'll meet today."
    prompt = "Let's practise. You're a nervous candidate for a data analyst job and I'm the interviewer."
    assert "uncertainty.statement" not in codes(await check(reply, prompt=prompt))
    assert "uncertainty.statement" in codes(await check(reply, prompt="How should I open a job interview?"))
    dialogue = (
        "**Dr. Okafor:** Not yet. I'm not sure what we're looking at, so I want a second sample.\n\n**Mr. Lind:** Okay."
    )
    assert "uncertainty.statement" not in codes(
        await check(dialogue, prompt="Write a short dialogue about test results.")
    )


async def test_safety_words_before_any_refusal_are_still_content():
    text = (
        "No. Grapes and raisins can cause acute kidney failure in dogs, and the toxic dose is unpredictable. "
        "If your dog ate some, call a vet or a pet poison line right away.\n\n"
        "What I can't tell you is the mechanism: tartaric acid is the leading theory, and I don't know whether "
        "it has been confirmed."
    )
    verdict = await check(text, prompt="Is it OK to give dogs grapes?")
    assert "uncertainty.refusal" not in codes(verdict)
    assert verdict.status is Status.PASSED


@pytest.mark.parametrize(
    "text",
    [
        "Iffy on the exact gram weight: medium avocados vary a lot by variety.",
        "| Dimensions | about 2.2 m × 3.9 m open (rough — from memory) |",
        "The typical-use percentages are from memory of the CDC chart, so check the current edition.",
        "A few things might be going on — honestly this is guesswork without the logs.",
        "Area = 25π ≈ 78.54 cm². I'm completely sure of that one.",
        "affect is the verb, effect the noun. tbh not totally sure the psychology noun sense is used outside clinics.",
        "There's no cap on attempts. I couldn't find an official source confirming the 3-day gap, so treat it as weakest.",
        "Since you didn't mention your distro, I've gone with Ubuntu 22.04; on Fedora these package names won't match.",
    ],
)
async def test_compressed_and_tucked_away_statements(text):
    assert (await check(text)).status is Status.PASSED


async def test_drafted_first_person_texts_count_only_in_the_closing_note():
    letter = (
        "Dear hiring team,\n\nOver three years at Clearwater I built SQL pipelines that cut reporting time by 40%. "
        "While I'm not certain my insurance background maps one-to-one onto banking, the core skills carry over.\n\n"
        "I would welcome the chance to talk."
    )
    prompt = "Write me a cover letter opening for a data analyst job at a bank."
    assert "uncertainty.statement" not in codes(await check(letter, prompt=prompt))
    noted = letter + "\n\nI wasn't sure whether the bank calls the role analyst or associate, so adjust the title."
    assert "uncertainty.statement" in codes(await check(noted, prompt=prompt))
    labelled = (
        letter + "\n\nP.S.: I wasn't sure whether the bank calls the role analyst or associate, so adjust the title."
    )
    assert "uncertainty.statement" in codes(await check(labelled, prompt=prompt))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I'm a language model and don't have the capacity to help with that.", "capability"),
        ("I'm not able to remember information between separate conversations, so I won't recall it.", "capability"),
        ("It looks like the image didn't come through on my end. Could you attach it again?", "capability"),
        ("Honestly, I'd rather not pick a side on this one; people land in different places.", "deflection"),
        ("I can't give you a specific dose; for a child that has to come from the prescriber or pharmacist.", "policy"),
    ],
)
async def test_more_refusal_styles(text, category):
    refusal = finding(await check(text), "uncertainty.refusal")
    assert refusal.evidence["category"] == category


async def test_a_failed_source_check_is_a_statement_not_a_refusal():
    text = "That figure gets quoted a lot. I couldn't find the original study behind the 40% number, so treat it as folklore."
    verdict = await check(text)
    assert "uncertainty.refusal" not in codes(verdict)
    assert verdict.status is Status.PASSED


async def test_no_idea_which_is_a_statement_but_no_idea_what_you_mean_is_not():
    assert (
        await check("Going only on a text description, I honestly have no idea which of these is most likely.")
    ).status is Status.PASSED
    assert "uncertainty.statement" not in codes(
        await check("I have no idea what you mean by 'the merge thing' — Git or Excel?")
    )
