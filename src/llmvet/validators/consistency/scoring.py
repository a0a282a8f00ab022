"""Score each sentence of an answer by how well other answers to the same question support it.

Two signals, averaged with one weight (default 0.5 each), no fitted parameters:
- semantic: for every sample, the best cosine similarity between the sentence and any of that
  sample's sentences (embeddings are L2-normalised), averaged over samples; score = 1 - that.
- lexical: for every content word of the sentence (stop words dropped), the share of samples that
  use it; score = 1 - the mean share. Names, dates and numbers a model made up rarely recur.
A sentence scores 0 when every sample says the same thing, towards 1 when none does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmvet.validators.base import Context, Sentence

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# Common English function words: they recur in any answer, so they say nothing about support. Negations
# (no, not, nor) are not among them: "it is not prime" and "it is prime" must not share every term.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself
    now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves s t don shall may might must upon via per within without among""".split()  # noqa: SIM905 - a word list reads best as text
)
# A sentence ending in one of these (or in a single initial) continues: "Frank A. McLain", "Dr. Smith".
_ABBREV = frozenset(
    "mr mrs ms dr prof st jr sr vs no gen col lt sgt capt rev hon gov sen rep c ca approx fig inc ltd co corp dept univ mt ft".split()  # noqa: SIM905
)
_ENDS_ABBREV = re.compile(r"(?:^|[\s(])([A-Za-z]{1,5})\.$")


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def content_terms(text: str) -> list[str]:
    toks = tokens(text)
    return [t for t in toks if t not in STOP_WORDS] or toks


def is_factual(sentence: str) -> bool:
    """A claim worth checking: has a number or a proper noun (a capitalised word past the first)."""
    s = sentence.strip()
    if not s or s.endswith("?"):
        return False
    if any(ch.isdigit() for ch in s):
        return True
    words = _TOKEN.findall(s)
    return any(w[0].isupper() and w.lower() not in STOP_WORDS for w in words[1:])


def merge_fragments(text: str, sentences: Sequence[Sentence]) -> list[Sentence]:
    """Undo splits after initials and abbreviations ("Frank A." + "McLain was…") within a paragraph."""
    out: list[Sentence] = []
    for s in sentences:
        if out:
            prev = out[-1]
            gap = text[prev.span[1] : s.span[0]]
            m = _ENDS_ABBREV.search(prev.text)
            if (
                m
                and "\n" not in gap
                and ((len(m.group(1)) == 1 and m.group(1).isupper()) or m.group(1).lower() in _ABBREV)
            ):
                span = (prev.span[0], s.span[1])
                out[-1] = Sentence(text[span[0] : span[1]], span)
                continue
        out.append(s)
    return out


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of an answer's prose (code blocks skipped), fragments merged."""
    return merge_fragments(text, Context(text=text).sentences)


@dataclass(slots=True)
class SentenceScore:
    score: float  # combined, in [0, 1]; higher = less supported
    semantic: float  # 1 - mean best similarity (0 when not computed)
    lexical: float  # 1 - mean share of samples using each content word
    closest: str | None = None  # the most similar sample sentence
    closest_sample: int | None = None  # which sample it came from
    similarity: float = 0.0
    unsupported_terms: list[str] = field(default_factory=list)  # content words no sample uses


Encoder = Callable[[list[str]], np.ndarray]


def score_sentences(
    sentences: Sequence[str],
    samples: Sequence[Sequence[str]],
    encode: Encoder | None,
    semantic_weight: float = 0.5,
) -> list[SentenceScore]:
    """Score `sentences` against `samples` (each a list of sentences).

    With `encode` (blocking; returns L2-normalised rows), all sentences of the answer and of every
    sample are encoded in one batch. Without it (or weight 0) only the lexical signal is used.
    """
    if not sentences:
        return []
    if not samples:
        return [SentenceScore(1.0, 1.0, 1.0) for _ in sentences]
    lexical = _lexical(sentences, samples)
    use_semantic = encode is not None and semantic_weight > 0
    if encode is not None and use_semantic:
        best_sim, best_idx = _best_matches(sentences, samples, encode)
    else:
        best_sim = np.zeros((len(sentences), len(samples)), dtype=np.float32)
        best_idx = np.full((len(sentences), len(samples)), -1)

    out: list[SentenceScore] = []
    w = semantic_weight if use_semantic else 0.0
    for i, (lex, missing) in enumerate(lexical):
        sem = 1.0 - float(best_sim[i].mean()) if use_semantic else 0.0
        sc = SentenceScore(w * sem + (1 - w) * lex, sem, lex, unsupported_terms=missing)
        if use_semantic and best_idx[i].max() >= 0:
            # The best sample among those with sentences (an empty sample's 0 can tie a real 0 and win).
            k = int(np.where(best_idx[i] >= 0, best_sim[i], -1.0).argmax())
            sc.closest, sc.closest_sample, sc.similarity = samples[k][int(best_idx[i, k])], k, float(best_sim[i, k])
        elif not use_semantic:
            sc.closest, sc.closest_sample, sc.similarity = _closest_by_words(sentences[i], samples)
        out.append(sc)
    return out


def _lexical(sentences: Sequence[str], samples: Sequence[Sequence[str]]) -> list[tuple[float, list[str]]]:
    """Per sentence: 1 - the mean share of samples using each content word, and the words none uses."""
    n = len(samples)
    sample_terms = [set(tokens(" ".join(ss))) for ss in samples]
    lexical: list[tuple[float, list[str]]] = []
    for s in sentences:
        terms = content_terms(s)
        if not terms:
            lexical.append((0.0, []))
            continue
        shares = [sum(t in st for st in sample_terms) / n for t in terms]
        missing = list(dict.fromkeys(t for t, sh in zip(terms, shares, strict=True) if sh == 0))
        lexical.append((1.0 - float(np.mean(shares)), missing))
    return lexical


def _best_matches(
    sentences: Sequence[str], samples: Sequence[Sequence[str]], encode: Encoder
) -> tuple[np.ndarray, np.ndarray]:
    """Per (sentence, sample): the best cosine similarity (clipped to [0, 1]) and the index of that sample
    sentence (-1 for an empty sample)."""
    best_sim = np.zeros((len(sentences), len(samples)), dtype=np.float32)
    best_idx = np.full((len(sentences), len(samples)), -1)
    flat = [s for ss in samples for s in ss]
    # One batch; repeated sentences (common across samples) are encoded once.
    unique = list(dict.fromkeys([*sentences, *flat]))
    rows = encode(unique)
    where = {t: i for i, t in enumerate(unique)}
    emb = rows[[where[t] for t in [*sentences, *flat]]]
    head, rest = emb[: len(sentences)], emb[len(sentences) :]
    pos = 0
    for k, ss in enumerate(samples):
        if ss:
            sims = head @ rest[pos : pos + len(ss)].T
            best_idx[:, k] = sims.argmax(1)
            best_sim[:, k] = np.clip(sims.max(1), 0.0, 1.0)
        pos += len(ss)
    return best_sim, best_idx


def _closest_by_words(sentence: str, samples: Sequence[Sequence[str]]) -> tuple[str | None, int | None, float]:
    """Lexical-only mode: the sample sentence sharing the largest share of this sentence's content words."""
    terms = set(content_terms(sentence))
    best: tuple[str | None, int | None, float] = (None, None, 0.0)
    if not terms:
        return best
    for k, ss in enumerate(samples):
        for cand in ss:
            overlap = len(terms & set(content_terms(cand))) / len(terms)
            if overlap > best[2]:
                best = (cand, k, overlap)
    return best
