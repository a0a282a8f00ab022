"""Request side: the instruction asking for one explicit uncertainty statement."""

from __future__ import annotations

import copy

from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.request import DEFAULT_INSTRUCTION

ON = UncertaintyValidator(UncertaintyValidator.Config(add_instruction=True))
CUSTOM = UncertaintyValidator(UncertaintyValidator.Config(add_instruction=True, instruction="State your confidence."))


def test_off_by_default_returns_the_body_untouched():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    v = UncertaintyValidator(UncertaintyValidator.Config())
    assert v.prepare_request(body, "chat.completions") is body


def test_chat_without_system_message_gets_one_first():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    snapshot = copy.deepcopy(body)
    out = ON.prepare_request(body, "chat.completions")
    assert out["messages"][0] == {"role": "system", "content": DEFAULT_INSTRUCTION}
    assert out["messages"][1] == {"role": "user", "content": "hi"}
    assert body == snapshot  # the caller's body is not mutated


def test_chat_existing_system_or_developer_message_is_extended():
    body = {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]}
    out = CUSTOM.prepare_request(body, "chat.completions")
    assert out["messages"][0]["content"] == "Be terse.\n\nState your confidence."
    assert len(out["messages"]) == 2
    dev = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rules."}]},
            {"role": "user", "content": "x"},
        ]
    }
    out = CUSTOM.prepare_request(dev, "chat.completions")
    assert out["messages"][0]["content"][-1] == {"type": "text", "text": "State your confidence."}
    assert dev["messages"][0]["content"] == [{"type": "text", "text": "Rules."}]


def test_idempotent_for_reasks():
    body = {"messages": [{"role": "user", "content": "hi"}]}
    once = ON.prepare_request(body, "chat.completions")
    assert ON.prepare_request(once, "chat.completions") == once
    r = ON.prepare_request({"input": "hi"}, "responses")
    assert ON.prepare_request(r, "responses") == r


def test_responses_route_uses_instructions():
    assert ON.prepare_request({"input": "hi"}, "responses")["instructions"] == DEFAULT_INSTRUCTION
    out = CUSTOM.prepare_request({"input": "hi", "instructions": "You are a tutor."}, "responses")
    assert out["instructions"] == "You are a tutor.\n\nState your confidence."


def test_completions_route_prefixes_the_prompt():
    out = CUSTOM.prepare_request({"prompt": "Q: 2+2?\nA:"}, "completions")
    assert out["prompt"] == "State your confidence.\n\nQ: 2+2?\nA:"
    out = CUSTOM.prepare_request({"prompt": ["a", "b"]}, "completions")
    assert out["prompt"] == ["State your confidence.\n\na", "State your confidence.\n\nb"]
    tokens = {"prompt": [1, 2, 3]}
    assert CUSTOM.prepare_request(tokens, "completions")["prompt"] == [1, 2, 3]


def test_other_routes_pass_through():
    body = {"input": "x"}
    assert ON.prepare_request(body, "embeddings") is body
