"""consistency: sentence splitting, the factual-sentence trigger, the lexical score, re-ask plumbing helpers.

No model here (lexical-only paths); the embedding paths are in test_validator.py.
"""

from llmvet.validators.base import Sentence
from llmvet.validators.consistency import sampling
from llmvet.validators.consistency.scoring import (
    content_terms,
    is_factual,
    merge_fragments,
    score_sentences,
    split_sentences,
)


def test_initials_and_abbreviations_do_not_split_sentences():
    text = "Frank A. McLain (1890–1962) was a lawyer. Dr. Smith met him in St. Louis in 1920.\n\nA new paragraph starts here."
    got = [s.text for s in split_sentences(text)]
    assert got == [
        "Frank A. McLain (1890–1962) was a lawyer.",
        "Dr. Smith met him in St. Louis in 1920.",
        "A new paragraph starts here.",
    ]
    for s in split_sentences(text):
        assert text[s.span[0] : s.span[1]] == s.text


def test_fragments_are_not_merged_across_lines():
    text = "Item A.\nNext line."
    parts = [Sentence("Item A.", (0, 7)), Sentence("Next line.", (8, 18))]
    assert [s.text for s in merge_fragments(text, parts)] == ["Item A.", "Next line."]


def test_code_blocks_are_not_sentences():
    text = "Use the helper below. It was added in Python 3.11.\n\n```python\nprint('Hello World. Again.')\n```\n\nThat is all."
    spans = [s.span for s in split_sentences(text)]
    code_start = text.index("```")
    code_end = text.rindex("```") + 3
    assert all(not (code_start <= a < code_end) for a, _ in spans)
    assert [s.text for s in split_sentences(text)][-1] == "That is all."


def test_factual_sentences_have_names_or_numbers():
    assert is_factual("He was born in Dublin.")
    assert is_factual("the tower is 330 metres tall")
    assert not is_factual("I hope this helps you a lot.")
    assert not is_factual("Was Ada Lovelace born in London?")


def test_content_terms_drop_stop_words():
    assert content_terms("He was born in the city of Dublin in 1708.") == ["born", "city", "dublin", "1708"]


def test_lexical_score_counts_how_many_samples_use_each_word():
    samples = [
        ["Ada Lovelace was born in London in 1815."],
        ["Born in London in 1815, Ada wrote notes."],
        ["Ada was born in 1815."],
    ]
    good, bad = score_sentences(
        ["Ada was born in London in 1815.", "Ada was born in Paris in 1830."], samples, encode=None, semantic_weight=0.5
    )
    assert good.score < 0.2 and bad.score > 0.4
    assert bad.unsupported_terms == ["paris", "1830"]
    assert good.semantic == 0.0  # no encoder: the lexical signal alone
    assert bad.closest is not None and "1815" in bad.closest  # lexical-only still gives the closest sentence


def test_no_samples_means_nothing_is_supported():
    (s,) = score_sentences(["Ada was born in 1815."], [], encode=None)
    assert s.score == 1.0


def test_paraphrase_question_replaces_only_the_last_user_turn():
    req = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "old q"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "who was Ada?"},
        ]
    }
    extra, msgs = sampling.with_question(req, "chat.completions", "Who was Ada Lovelace?")
    assert extra == {}
    assert [m["content"] for m in msgs] == ["be brief", "old q", "a", "Who was Ada Lovelace?"]
    assert req["messages"][-1]["content"] == "who was Ada?"  # the original request is untouched
    assert sampling.with_question({"input": "who?"}, "responses", "Who then?") == (
        {},
        [{"role": "user", "content": "Who then?"}],
    )
    assert sampling.with_question({"prompt": "who?"}, "completions", "Who then?") == ({"prompt": "Who then?"}, None)


def test_overrides_cap_tokens_with_the_field_of_the_route():
    answer = "x" * 400  # ~104 tokens estimated
    cap = sampling.sample_cap({}, "chat.completions", answer, 1024)
    assert 2 * 104 + 150 < cap < 500  # twice the answer plus room for a preamble
    # a one-word answer still leaves a re-ask room for "Sure! Let me work through this…" before its answer
    assert sampling.sample_cap({}, "chat.completions", "Canberra.", 1024) >= 256
    assert sampling.sample_cap({"max_tokens": 50}, "chat.completions", answer, 1024) == 50
    assert sampling.overrides({}, "responses", 1.0, 99) == {"max_output_tokens": 99, "temperature": 1.0}
    assert sampling.overrides({}, "chat.completions", None, 99) == {"max_completion_tokens": 99}
    assert sampling.overrides({"max_tokens": 5}, "chat.completions", None, 99) == {"max_tokens": 99}
    assert sampling.overrides({}, "completions", None, 99) == {"max_tokens": 99}


def test_clean_paraphrase_strips_labels_and_quotes():
    assert sampling.clean_paraphrase('Restated question: "Who was Ada Lovelace?"') == "Who was Ada Lovelace?"


def test_a_sample_without_sentences_is_never_the_closest():
    """A re-asked answer that is all code has no sentences; with no similarity anywhere it must not be picked."""
    import numpy as np

    def orthogonal(texts):  # every distinct text at cosine 0 from the others
        return np.eye(len(texts), dtype=np.float32)

    (s,) = score_sentences(["Ada was born in 1815."], [[], ["Paris is big."]], encode=orthogonal)
    assert s.closest == "Paris is big." and s.closest_sample == 1 and s.similarity == 0.0
    assert s.score > 0.9
