"""SelfCheckGPT's unigram scorer (Manakul et al., 2023, section 5.3), written from the paper.

A unigram model is counted over the answer and every sample (lower-cased tokens, with add-k
smoothing: p(w) = (count(w) + k) / (tokens + k * vocabulary), the vocabulary including an unknown
token); a sentence scores the max (or the mean) of -log p over its tokens. A sentence with a word
that the samples never repeat gets a high max. No fitted parameters and no model: microseconds per
answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Close to spaCy's English tokenizer on prose: clitics ("n't", "'s") and punctuation are tokens of
# their own, hyphens and dashes split words.
_TOKEN = re.compile(r"\w+(?=n['’]t\b)|n['’]t\b|['’](?:s|re|ve|ll|d|m)\b|\w+|[^\w\s]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass(frozen=True, slots=True)
class NgramScore:
    max_nll: float  # the rarest token's -log p: "unigram-max"
    mean_nll: float  # "unigram-avg"


def unigram_scores(sentences: Sequence[str], answer: str, samples: Sequence[str], k: float = 1.0) -> list[NgramScore]:
    """Score each sentence of `answer` against a unigram model of the answer plus `samples`."""
    counts: Counter[str] = Counter()
    for text in (answer, *samples):
        counts.update(tokenize(text))
    total = sum(counts.values())
    vocabulary = len(counts) + 1  # + the unknown token, counted 0 times
    denominator = total + k * vocabulary
    unknown = -math.log(k / denominator) if k > 0 else math.inf

    def nll(token: str) -> float:
        c = counts.get(token, 0)
        return -math.log((c + k) / denominator) if c + k > 0 else unknown

    out = []
    for s in sentences:
        values = [nll(t) for t in tokenize(s)] or [0.0]
        out.append(NgramScore(max(values), sum(values) / len(values)))
    return out
