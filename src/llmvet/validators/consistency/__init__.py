"""`consistency`: re-ask the upstream (or ask a paraphrase) and flag sentences the other answers do not support."""

from llmvet.validators.consistency.config import ConsistencyConfig
from llmvet.validators.consistency.scoring import SentenceScore, score_sentences, split_sentences
from llmvet.validators.consistency.validator import ConsistencyValidator

__all__ = ["ConsistencyConfig", "ConsistencyValidator", "SentenceScore", "score_sentences", "split_sentences"]
