"""Short factual answers (issue 20): yes/no and negation, numbers, names; the contradiction share and its
threshold; default triggers; k paraphrases; instance ids on findings. Lexical scoring only (no model load):
the key-fact comparison does not use the embedding model."""

from __future__ import annotations

import httpx
import openai
import pytest

from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context, Status
from llmvet.validators.consistency import ConsistencyConfig, ConsistencyValidator
from llmvet.validators.consistency.facts import contradiction_share, is_factual_question, key_facts
from tests.support.fake_upstream import Reply
from tests.validators.consistency.test_validator import Script

PRIME_Q = "Is 91 a prime number?"
WRONG_YES = "Yes, 91 is a prime number."
RIGHT_NO = "No, it is not a prime number: 91 = 7 × 13."
RIGHT_NO_SHORT = "No."


@pytest.fixture(scope="module")
async def resources(tmp_path_factory):
    r = Resources(await open_store(f"sqlite:///{tmp_path_factory.mktemp('short') / 's.db'}"))
    yield r
    await r.close()


def make(**cfg) -> ConsistencyValidator:
    cfg.setdefault("daily_token_budget", None)
    cfg.setdefault("semantic_weight", 0.0)
    return ConsistencyValidator(ConsistencyConfig(**cfg))


def ctx(text: str, question: str, resources, script=None) -> Context:
    request = {"model": "m", "messages": [{"role": "user", "content": question}]}
    return Context(text=text, request=request, model="m", resources=resources, reask_fn=script)


# ---- key facts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, sample, question, kind",
    [
        (WRONG_YES, RIGHT_NO, PRIME_Q, "yes/no"),
        (WRONG_YES, RIGHT_NO_SHORT, PRIME_Q, "yes/no"),
        ("91 is prime.", "It is not prime, since 7 divides it.", PRIME_Q, "yes/no"),  # polarity without yes/no
        ("The capital of Australia is Sydney.", "Canberra.", "What is the capital of Australia?", "name"),
        ("Apollo 11 landed in 1968.", "It landed on the Moon in July 1969.", "When did Apollo 11 land?", "number"),
        ("They were both film directors.", "They were not both film directors.", "What did they share?", "negation"),
        # a conclusion after the reasoning, not the first word, says yes or no
        ("No, 149 = 7 × 21.", "None of 2, 3, 5, 7 or 11 divides 149, so yes, it is prime.", "Is 149 prime?", "yes/no"),
        ("It was written by Emily Brontë.", "Charlotte Brontë.", "Who wrote Jane Eyre?", "name"),  # a shared surname
        ("Sydney.", "Not Sydney, as many assume: it is Canberra.", "What is the capital of Australia?", "name"),
        ("sydney", "Canberra.", "What is the capital of Australia?", "name"),  # a one-word answer in lower case
        ("23 × 92 = 23 × 90 + 23 × 2 = 2116.", "23 × 92 = 23 × 90 + 23 × 2 = 2024.", "What is 23 × 92?", "number"),
    ],
)
def test_a_sample_stating_another_key_fact_contradicts_the_answer(answer, sample, question, kind):
    assert contradiction_share(answer, [sample], question).reasons == [kind]
    # ...however much longer the sample is
    padded = f"{sample} " + "This is a well-known fact that is covered in many introductory books. " * 8
    assert contradiction_share(answer, [padded], question).reasons == [kind]


@pytest.mark.parametrize(
    "answer, sample, question",
    [
        (RIGHT_NO, RIGHT_NO_SHORT, PRIME_Q),
        (RIGHT_NO, "No — 91 = 13 × 7, so it is composite.", PRIME_Q),
        ("Canberra.", "The capital of Australia is Canberra, not Sydney.", "What is the capital of Australia?"),
        ("July 20, 1969.", "Apollo 11 landed in 1969.", "When did Apollo 11 land?"),
        ("They were both film directors.", "Both of them directed films.", "What did they share?"),
        # names the question already uses are not key facts: repeating them neither supports nor contradicts
        ("Marie Curie won it in 1903.", "She won the prize in 1903.", "When did Marie Curie win the Nobel Prize?"),
        ("Saint Petersburg.", "Not Moscow, as many assume: it is Saint Petersburg.", "What is the capital of Russia?"),
        ("Cervantes.", "It was written by Miguel de Cervantes.", "Who wrote Don Quixote?"),
        ("It's 2,240.", "56 × 40 = 2240.", "What is 56 × 40?"),
    ],
)
def test_a_sample_agreeing_in_other_words_does_not_contradict(answer, sample, question):
    assert contradiction_share(answer, [sample], question).reasons == [None]


def test_negations_are_key_facts_and_question_numbers_are_not():
    yes, no = key_facts(WRONG_YES, PRIME_Q), key_facts(RIGHT_NO, PRIME_Q)
    assert yes.polarity is True and no.polarity is False
    assert "91" not in no.numbers and {"7", "13"} <= set(no.numbers)
    assert "not" in key_facts("They were not both film directors.").claim_terms


def test_factual_questions_are_told_from_requests_for_made_up_text():
    for q in (PRIME_Q, "capital of Australia?", "Who wrote Hamlet", "Name the largest moon of Saturn."):
        assert is_factual_question(q), q
    for q in ("Write a poem about the sea.", "Translate 'good morning' into French.", "Thanks!", ""):
        assert not is_factual_question(q), q


# ---- the check --------------------------------------------------------------------------------


async def test_yes_no_answer_is_checked_by_default_and_a_majority_of_contradictions_fails_it(resources):
    script = Script([RIGHT_NO, RIGHT_NO_SHORT, "Yes, it is prime.", "No. 91 is 7 times 13.", "No, it isn't."])
    verdict = await make(samples=5).check(ctx(WRONG_YES, PRIME_Q, resources, script))
    assert verdict.status is Status.FAILED, verdict.meta
    finding = verdict.findings[0]
    assert finding.code == "consistency.contradicted_answer"
    assert finding.evidence["kinds"] == ["yes/no"] and finding.evidence["contradicting_samples"] == [0, 1, 3, 4]
    assert verdict.meta["contradiction_share"] == 0.8
    assert WRONG_YES[finding.span[0] : finding.span[1]] == WRONG_YES


async def test_the_right_answer_passes_against_the_same_kind_of_samples(resources):
    script = Script([RIGHT_NO_SHORT, "No — 91 = 13 × 7.", "Yes, it is prime.", "It is not prime.", "No."])
    verdict = await make(samples=5).check(ctx(RIGHT_NO, PRIME_Q, resources, script))
    assert verdict.meta["contradiction_share"] == 0.2
    assert "consistency.contradicted_answer" not in [f.code for f in verdict.findings]


@pytest.mark.parametrize("n", [3, 5, 10])
async def test_the_same_share_of_contradicting_samples_fails_at_every_n(resources, n):
    """A mean over samples is averaged away as N grows; a share with a fixed threshold is not."""
    against = -(-2 * n // 3)  # two thirds, rounded up
    texts = [RIGHT_NO_SHORT] * against + ["Yes, 91 is prime."] * (n - against)
    verdict = await make(samples=n).check(ctx(WRONG_YES, PRIME_Q, resources, Script(texts)))
    assert verdict.status is Status.FAILED and verdict.findings[0].code == "consistency.contradicted_answer"
    assert verdict.meta["contradiction_share"] == pytest.approx(against / n, abs=1e-4)


async def test_one_word_and_no_name_answers_are_checked_but_creative_requests_are_not(resources):
    cap_q = "What is the capital of Australia?"
    script = Script(["Canberra.", "The capital is Canberra.", "Canberra is the capital of Australia."])
    verdict = await make().check(ctx("Sydney.", cap_q, resources, script))
    assert verdict.status is Status.FAILED and verdict.meta["contradiction_share"] == 1.0
    assert script.calls and script.calls[0]["n"] == 3
    plain = Script(["They were not both film directors."] * 3)
    verdict = await make().check(ctx("They were both film directors.", "What did they share?", resources, plain))
    assert "skipped" not in verdict.meta and verdict.status is Status.FAILED
    poem = Script(["x"])
    verdict = await make().check(ctx("The sea is grey and wide.", "Write a poem about the sea.", resources, poem))
    assert verdict.status is Status.PASSED and "factual question" in verdict.meta["skipped"] and not poem.calls


def test_policy_check_notes_say_what_a_trigger_skips():
    notes = make(min_answer_chars=80, min_factual_sentences=1).problems()
    assert any("yes/no" in n and "80" in n for n in notes)
    assert any("They were both film directors." in n for n in notes)
    assert make().problems() == []  # the defaults skip nothing by answer shape
    from llmvet.policy.loader import parse_policy  # what `llmvet policy check` prints, with the line

    text = "version: 1\nname: p\nrules:\n  - name: r\n    validators:\n      - use: consistency\n"
    (warning,) = parse_policy(text + "        with: {min_answer_chars: 80}\n", "p.yaml").warnings
    assert "p.yaml:6" in str(warning) and "yes/no answers" in str(warning)


async def test_k_paraphrases_get_one_answer_each(resources):
    restated = ["Is the number 91 prime?", "Does 91 have no divisors other than 1 and itself?", "Is 91 a prime?"]
    script = Script(restated, [RIGHT_NO_SHORT], ["Yes."], [RIGHT_NO])
    verdict = await make(mode="paraphrase", paraphrases=3).check(ctx(WRONG_YES, PRIME_Q, resources, script))
    first, *answers = script.calls
    assert first["n"] == 3 and PRIME_Q in first["messages"][0]["content"]
    assert sorted(c["messages"][-1]["content"] for c in answers) == sorted(restated)
    assert all(c["n"] == 1 for c in answers)
    assert verdict.meta["paraphrases"] == restated and verdict.meta["samples"] == 3
    assert verdict.meta["extra_usage"]["calls"] == 4
    assert verdict.meta["contradiction_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert verdict.status is Status.FAILED


async def test_mode_both_compares_with_samples_and_paraphrase_answers(resources):
    script = Script(["Is 91 prime?", "Is ninety-one a prime number?"], [RIGHT_NO_SHORT] * 2, ["Yes."], ["No."])
    verdict = await make(mode="both", samples=2, paraphrases=2).check(ctx(WRONG_YES, PRIME_Q, resources, script))
    ns = sorted(c["n"] for c in script.calls)
    assert ns == [1, 1, 2, 2]  # samples (2), restatements (2), one answer per restatement
    assert verdict.meta["samples"] == 4


# ---- through the proxy: two instances in one rule, told apart by id --------------------------

POLICY = """
version: 1
name: short-facts
rules:
  - name: facts
    validators:
      - use: consistency
        id: resampled
        with: {samples: 3, semantic_weight: 0, daily_token_budget: null}
      - use: consistency
        id: reworded
        with: {mode: paraphrase, paraphrases: 2, semantic_weight: 0, daily_token_budget: null}
    on_fail: annotate
"""


def upstream(body: dict) -> Reply:
    from llmvet.text import prompt_text

    asked = prompt_text(body)
    if "max_completion_tokens" not in body:
        return Reply(text=WRONG_YES)  # the client's own request
    if asked.startswith("Restate"):
        return Reply(text=["Is 91 prime?", "Is ninety-one a prime number?"])
    return Reply(text=[RIGHT_NO] * int(body.get("n", 1)))


def test_findings_of_two_instances_carry_their_ids_in_the_bytes_the_client_gets(fake, make_proxy):
    fake.reset(upstream)
    proxy = make_proxy(POLICY)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": PRIME_Q}])
    assert raw.headers["x-llmvet-decision"] == "annotate"
    findings = raw.parse().model_extra["llmvet"]["findings"]
    assert sorted(f["id"] for f in findings if f["code"] == "consistency.contradicted_answer") == [
        "resampled",
        "reworded",
    ]
    assert all(f["validator"] == "consistency" for f in findings)
    reasks = [r for r in fake.requests if "x-llmvet-internal" in r.headers]
    assert len(reasks) == 1 + 1 + 2  # samples (n=3), restatements (n=2), one answer per restatement
    assert all(r.headers["x-llmvet-internal"] == proxy.proxy.settings.internal_token for r in reasks)
    resp = httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": PRIME_Q}]},
        timeout=60,
    )
    assert b'"id":"reworded"' in resp.content.replace(b" ", b"")


async def test_judge_compares_a_short_answer_with_each_paraphrase_answer(resources):
    judge_says_no = '{"verdicts": ["no"]}'
    script = Script(["Is 91 prime?", "Is ninety-one a prime number?"], [RIGHT_NO], [RIGHT_NO_SHORT], [judge_says_no])
    v = make(mode="paraphrase", paraphrases=2, judge=True, judge_model="judge-mini")
    verdict = await v.check(ctx(WRONG_YES, PRIME_Q, resources, script))
    judge_calls = [c for c in script.calls if c["body"].get("model") == "judge-mini"]
    assert len(judge_calls) == 2 and all(c["body"]["temperature"] == 0 for c in judge_calls)
    assert {c["messages"][0]["content"].split("\n\n")[0] for c in judge_calls} == {
        f"Context: {RIGHT_NO}",
        f"Context: {RIGHT_NO_SHORT}",
    }
    assert verdict.status is Status.FAILED and verdict.findings[0].code == "consistency.unsupported_sentence"
    assert verdict.meta["judge"]["calls"] == 2 and verdict.meta["extra_usage"]["calls"] == 5


def test_judge_calls_count_against_the_token_cap():
    from llmvet.validators.consistency import asking

    c = ctx(WRONG_YES, PRIME_Q, None)
    plain = asking.plan(ConsistencyConfig(samples=5), c)
    judged = asking.plan(ConsistencyConfig(samples=5, judge=True), c)
    assert judged.judge_per_sample > 0 and judged.per_sample == plain.per_sample + judged.judge_per_sample
    cap = judged.per_sample + plain.per_sample  # room for one judged sample, and for more plain ones
    assert asking.plan(ConsistencyConfig(samples=5, max_extra_tokens=cap), c).n == cap // plain.per_sample > 1
    assert asking.plan(ConsistencyConfig(samples=5, judge=True, max_extra_tokens=cap), c).n == 1


def test_mode_both_drops_samples_before_paraphrases_when_the_cap_is_tight():
    from llmvet.validators.consistency import asking

    c = ctx(WRONG_YES, PRIME_Q, None)
    full = asking.plan(ConsistencyConfig(mode="both", samples=3, paraphrases=2), c)
    assert (full.samples, full.paraphrases, full.n) == (3, 2, 5)
    tight = asking.plan(
        ConsistencyConfig(mode="both", samples=3, paraphrases=2, max_extra_tokens=full.restate + 3 * full.per_sample), c
    )
    assert (tight.samples, tight.paraphrases) == (1, 2) and tight.estimate <= full.restate + 3 * full.per_sample


async def test_a_short_answer_without_a_key_fact_is_judged_by_its_words(resources):
    question = "What did the two of them do for a living?"
    script = Script(["They were both actors.", "Both of them were stage actors.", "They acted in films."])
    verdict = await make().check(ctx("They were both film directors.", question, resources, script))
    assert verdict.meta["contradiction_share"] == 0.0  # nothing to compare by key fact...
    assert verdict.status is Status.FAILED  # ...but no other answer uses its words
    assert verdict.findings[0].code == "consistency.divergent_sentence"
    agreeing = Script(["They were both film directors.", "Both directed films; they were film directors."] * 2)
    verdict = await make().check(ctx("They were both film directors.", question, resources, agreeing))
    assert verdict.status is Status.PASSED
