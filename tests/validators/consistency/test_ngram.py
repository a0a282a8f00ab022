"""SelfCheckGPT's unigram scorer: the formula by hand on a tiny corpus, and the ordering it exists for."""

from __future__ import annotations

import math

import pytest

from llmvet.validators.consistency.ngram import tokenize, unigram_scores


def test_tokens_split_clitics_and_punctuation_like_spacy():
    assert tokenize("She didn't win, Curie's prize.") == ["she", "did", "n't", "win", ",", "curie", "'s", "prize", "."]


def test_max_and_mean_negative_log_probability_with_add_one_smoothing():
    # answer "a b" + samples "a", "a c": counts a=3, b=1, c=1; 5 tokens; vocabulary 3 + <unk> = 4
    (s,) = unigram_scores(["a b"], "a b", ["a", "a c"], k=1.0)
    denominator = 5 + 4
    assert s.max_nll == pytest.approx(-math.log(2 / denominator))  # b: (1 + 1) / 9
    assert s.mean_nll == pytest.approx((-math.log(4 / denominator) - math.log(2 / denominator)) / 2)


def test_a_word_no_sample_repeats_scores_higher_than_one_every_sample_repeats():
    samples = ["Ada Lovelace was born in London in 1815."] * 3
    born, moved = unigram_scores(
        ["Ada Lovelace was born in London in 1815.", "She moved to Lima in 1840."],
        "Ada Lovelace was born in London in 1815. She moved to Lima in 1840.",
        samples,
    )
    assert moved.max_nll > born.max_nll and moved.mean_nll > born.mean_nll
