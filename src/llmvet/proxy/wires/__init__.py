"""The three OpenAI response shapes llmvet vets, one module each; see `base.Wire` for the contract."""

from llmvet.proxy.wires.base import Part, Wire
from llmvet.proxy.wires.chat import ChatWire
from llmvet.proxy.wires.completions import CompletionsWire
from llmvet.proxy.wires.responses import ResponsesWire

WIRES: dict[str, Wire] = {w.route: w for w in (ChatWire(), CompletionsWire(), ResponsesWire())}

__all__ = ["WIRES", "ChatWire", "CompletionsWire", "Part", "ResponsesWire", "Wire"]
