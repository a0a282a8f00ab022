"""Full vs partial refusals (alternatives after a refusal), casual refusals, and hedges that are politeness."""

from __future__ import annotations

import pytest

from llmvet.validators.base import Context
from llmvet.validators.uncertainty import UncertaintyValidator


async def check(text: str, **settings):
    ctx = Context(text=text, request={"messages": [{"role": "user", "content": "question"}]})
    return await UncertaintyValidator(UncertaintyValidator.Config(require_statement=False, **settings)).check(ctx)


def level(verdict) -> str:
    found = [f for f in verdict.findings if f.code == "uncertainty.refusal"]
    return found[0].evidence["level"] if found else "none"


def hedging(verdict) -> str:
    found = [f for f in verdict.findings if f.code == "uncertainty.hedging"]
    return found[0].evidence["level"] if found else "none"


FAKE_REVIEW = (
    "I'd rather not help write a fake customer review: posting reviews of your own business as a customer "
    "breaks the rules on most review sites and is illegal in some places.\n\n"
    "**Alternatives that actually work:**\n"
    "- Ask happy customers directly with a small card or a QR code on the bill, which gets far more reviews than "
    "you would expect from a single table.\n"
    "- Reply to existing reviews, since prospective diners read the replies as closely as the reviews.\n"
    "- Send a follow-up email after each reservation asking for honest feedback."
)


async def test_a_refusal_followed_by_alternatives_is_full():
    assert level(await check(FAKE_REVIEW)) == "full"


async def test_a_refusal_that_turns_to_the_request_is_still_partial():
    # the same length of text, but it answers the request (how to get reviews) after "but here is"
    text = FAKE_REVIEW.split("\n\n")[0] + (
        " But here is how to write the review request card itself: thank the guest by name, say in one line what "
        "you hope they enjoyed, ask for two minutes of honest feedback, print the QR code large enough to scan "
        "from across the table, and keep the card the same colour as your menu so it looks like part of the meal."
    )
    assert level(await check(text)) == "partial"


@pytest.mark.parametrize(
    "text",
    [
        "nah, i can't get into private accounts. muting her usually helps more than checking.",
        "can't help with getting into someone else's network, sorry. it's unauthorised access.",
        "I'm not going to tell a racist joke. Happy to tell you a pun instead, though!",
        "I'm not able to access your bank account. Your bank's app will show your balance.",
        "No. Not helping with pulling credentials off someone else's machine.",
    ],
)
async def test_casual_and_short_refusals_are_found(text):
    assert level(await check(text)) == "full"


async def test_not_helping_as_a_description_is_no_refusal():
    assert level(await check("The index is not helping with the slow query; the planner ignores it.")) == "none"


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Could you tell me which city you're in? Would you like the budget options too?",
        "Try Project Hail Mary. I think you'll love it: it's funny, fast and the science is the fun part.",
        "Might I suggest starting with the chorus? It's the part everyone knows.",
        "I'd suggest saying the names out loud before you pick one.",
        "You can't help with getting into the venue unless you have a badge.",  # no refusal: a rule stated
    ],
)
async def test_politeness_and_rules_are_neither_hedges_nor_refusals(text):
    verdict = await check(text)
    assert hedging(verdict) == "none"
    assert level(verdict) == "none"


async def test_real_hedges_still_count():
    verdict = await check("I think the flag was removed in 3.2, and it may be that the docs are out of date.")
    assert hedging(verdict) == "light"


async def test_frequency_adverbs_are_not_hedges_unless_weighted():
    text = "Children's ibuprofen is usually dosed by weight, with a chart on the box."
    assert hedging(await check(text)) == "none"
    # the behaviour before issue 15, for policies that want it back
    assert hedging(await check(text, hedge_frequency_weight=0.5)) == "light"
    assert hedging(await check(text, hedge_frequency_weight=0.5, hedge_light_min=1.0)) == "none"
    # a real hedge next to the frequency adverb still counts
    assert hedging(await check(text + " The syrup may be discontinued in some countries.")) == "light"
