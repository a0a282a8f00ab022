"""Hedges that weaken a claim count; idioms, politeness formulas, advice softeners, frequency adverbs and
the permission "may" of legal and medical writing do not (issue 15). Each negative has a twin that hides a
real hedge among the same formulas, so a blanket exclusion cannot pass."""

from __future__ import annotations

import json

import httpx
import pytest

from benchmarks.uncertainty_hedging import answer_prf, load, predict, span_counts, span_pr
from llmvet.validators.base import Context
from llmvet.validators.uncertainty import UncertaintyValidator
from tests.support import DATA as TEST_DATA
from tests.support.fake_upstream import Reply

UNCERTAINTY = TEST_DATA / "uncertainty"


async def hedges(text: str, **settings) -> tuple[str, list[str]]:
    config = UncertaintyValidator.Config(require_statement=False, embeddings=False, **settings)
    verdict = await UncertaintyValidator(config).check(Context(text=text))
    found = [f for f in verdict.findings if f.code == "uncertainty.hedging"]
    if not found:
        return "none", []
    return found[0].evidence["level"], [c["text"] for c in found[0].evidence["cues"]]


# (formula that is not a hedge, the same formula with a real hedge added)
PAIRS = [
    ("Try the ramen place. I think you'll love it.", "Try the ramen place. I think it closes at nine."),
    ("Could you please paste the stack trace?", "Could you please paste the stack trace? It might be the driver."),
    ("May I suggest the blue one? It matches the sofa.", "May I suggest the blue one? It probably matches the sofa."),
    ("It might be worth checking the fuse box first.", "The fuse might be blown; it might be worth checking."),
    ("You failed twice, but I believe in you.", "I believe the test centre reopens on Monday."),
    ("Feel free to ask if anything is unclear.", "Feel free to ask; the form seems to be optional."),
    ("You may want to back up the disk before resizing.", "The resize may fail on a full disk."),
    ("Perhaps the best way to start is with scales.", "Perhaps scales are the wrong place to start."),
    ("What kind of bike do you ride?", "The chain is kind of worn, from the photo."),
    ("Maybe try restarting the router first.", "Maybe the router is the problem."),
    ("A tenant may terminate the lease with two months' notice.", "The lease may have been renewed automatically."),
    ("Non-disclosure may result in the order being set aside.", "The judge may not have seen the letter."),
    ("Athletes may have resting rates of 40 to 60 beats.", "Your reading may be off if you had coffee."),
    (
        "The dose is usually 200 mg, roughly every six hours.",
        "The dose is usually 200 mg, though the evidence is mixed.",
    ),
    ("It may be prudent to send a written demand first.", "It would appear that the demand was never sent."),
    ("What I can do is suggest a folder structure.", "Early trials suggest that it shortens the illness."),
]


@pytest.mark.parametrize("plain, hedged", PAIRS, ids=[p[0][:30] for p in PAIRS])
async def test_formulas_are_not_hedges_but_real_hedges_beside_them_are(plain, hedged):
    assert (await hedges(plain))[0] == "none"
    level, cues = await hedges(hedged)
    assert level != "none" and cues


async def test_the_same_hedges_repeated_are_still_heavy():
    text = (
        "I think you'll love it. It might be the cache, or maybe the proxy; it's probably not DNS, "
        "though it could be. Perhaps the certificate expired."
    )
    level, cues = await hedges(text)
    assert level == "heavy"
    assert "I think" not in cues  # the well-wish is not among the cues
    assert {"might", "maybe", "probably", "Perhaps"} <= set(cues)


def test_own_development_batches_keep_their_precision():
    # q1, q2, q4 were labelled under issue 15's definition before the cue changes; floors, not targets
    records = load([UNCERTAINTY / f"quality-q{i}.jsonl" for i in (1, 2, 4)])
    preds = predict(records, {})
    p, r, _ = answer_prf([x["hedging"] != "none" for x in records], [x["hedged"] for x in preds])
    assert p >= 0.75 and r >= 0.8, (p, r)
    spanned = [(x, y) for x, y in zip(records, preds, strict=True) if "hedge_spans" in x]
    cue_p, cue_r = span_pr([span_counts(x, y) for x, y in spanned])
    assert cue_p >= 0.7 and cue_r >= 0.6, (cue_p, cue_r)


KINDS = {"hedge", "polite", "idiom", "root", "frequency", "statement"}


@pytest.mark.parametrize("name, prefix", [("quality-q4.jsonl", "q4-"), ("sealed-q5.jsonl", "q5-")])
def test_span_labelled_batches_are_well_formed(name, prefix):
    rows = [json.loads(ln) for ln in (UNCERTAINTY / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(rows) >= 30 and all(r["id"].startswith(prefix) for r in rows)
    assert len({r["persona"] for r in rows}) >= 6
    for r in rows:
        for s in r["hedge_spans"]:
            assert r["text"][s["start"] : s["end"]] == s["text"] and s["kind"] in KINDS, (r["id"], s)
        assert (r["hedging"] == "none") == (not any(s["kind"] == "hedge" for s in r["hedge_spans"])), r["id"]
        assert r["statement"] in ("present", "missing") and r["refusal"] in ("none", "partial", "full")
        assert (r["refusal"] == "none") == (r["category"] is None)
    others = {json.loads(ln)["text"] for p in UNCERTAINTY.glob("*.jsonl") if p.name != name for ln in p.open()}
    assert not {r["text"] for r in rows} & others


POLICY = """
version: 1
name: hedging
rules:
  - name: plain
    match: {models: ["*"]}
    validators:
      - use: uncertainty
        with: {require_statement: false, fail_on_hedging: true, embeddings: false}
    on_fail: block
"""

CHATTY = (
    "Ooh, fun! Could you tell me your budget? May I suggest the lake trail. I think you'll love it, and "
    "perhaps the best way to see it is at dawn. It might be worth packing a jacket. Feel free to ask more. "
    "I believe in you!"
)
HEDGED = (
    "It might be the lake trail, or maybe the ridge; it's probably closed, though it could be open. "
    "Perhaps ask a ranger."
)


@pytest.mark.parametrize("answer, blocked", [(CHATTY, False), (HEDGED, True)])
def test_through_the_proxy_only_real_hedging_is_blocked(fake, make_proxy, answer, blocked):
    fake.reset(lambda b: Reply(text=answer))
    proxy = make_proxy(POLICY)
    body = {"model": "m", "messages": [{"role": "user", "content": "which trail?"}]}
    raw = httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=10)
    assert (answer.encode() in raw.content) is not blocked  # the bytes the client gets
    assert raw.headers["x-llmvet-hedging"].startswith("heavy" if blocked else "none")
    assert raw.headers["x-llmvet-decision"] == ("block" if blocked else "allow")
