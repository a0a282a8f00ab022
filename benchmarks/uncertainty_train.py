"""Train the uncertainty validator's statement classifier (logistic regression over word n-grams + sentence vector).

    LLMVET_EMBEDDING_MODEL=<local all-MiniLM-L6-v2> python benchmarks/uncertainty_train.py
    python benchmarks/uncertainty_train.py --exclude h8- --out /tmp/head-without-h8.json   # hold a batch out

Training sentences come from two places:
- labelled sentences (`--sentences`, default tests/data/uncertainty/train-sentences*.jsonl): {text, statement};
- labelled answers (`--answers`, default dev.jsonl and heldout2-15.jsonl; heldout16-17 are the final held-out measurement): in answers labelled `present`,
  the sentences holding a rule-path statement are positives; in answers labelled `missing`, every sentence
  the validator would send to the classifier (`gate_sentences`) is a negative.
The regularisation strength C is chosen by 5-fold sentence-level cross-validated average precision. The
decision threshold is chosen on whole answers: each heldout batch is scored (rules, then the classifier on
what the rules leave) by a model trained without it, and the threshold with the best pooled F1 among those
keeping precision >= --precision wins. Writes the head (n-gram vocabulary with idf and weights, embedding
weights, bias, threshold, model fingerprint) as JSON and checks that the runtime scorer reproduces
scikit-learn's probabilities.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from llmvet.embeddings import load_embedder
from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.detect import gate_sentences
from llmvet.validators.uncertainty.head import PROBE, StatementHead, head_path, ngrams, write_head

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uncertainty_prototypes import SEED_NEGATIVES

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "uncertainty"
DEFAULT_ANSWERS = [DATA / "dev.jsonl", *(DATA / f"heldout{i}.jsonl" for i in range(2, 16))]
DEFAULT_SENTENCES = sorted(DATA.glob("train-sentences*.jsonl"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sentences_from_answers(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    out: list[tuple[str, int]] = []
    for rec in records:
        gated = gate_sentences(rec["text"], validator.cues)
        if rec.get("statement") == "missing":
            out += [(g.text, 0) for g in gated]
        elif rec.get("statement") == "present":
            analysis = validator.analyse(rec["text"], rec.get("prompt", ""))
            for hit in analysis.statements:
                if hit.score < 0.5:
                    continue
                around = [g.text for g in gated if g.start <= hit.start < g.end]
                out.append((around[0] if around else hit.text, 1))
    return out


def dedupe(rows: list[tuple[str, int]]) -> tuple[list[str], np.ndarray]:
    """One row per text; texts labelled both ways are dropped (ambiguous out of context)."""
    labels: dict[str, set[int]] = {}
    for text, y in rows:
        labels.setdefault(" ".join(text.split()), set()).add(y)
    kept = [(t, ys.pop()) for t, ys in labels.items() if len(ys) == 1 and len(t) >= 4]
    return [t for t, _ in kept], np.array([y for _, y in kept], dtype=np.int8)


class Model:
    """TF-IDF of word n-grams (the runtime's own tokenizer) next to the sentence vector, one logistic regression."""

    def __init__(self, c: float) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.tfidf = TfidfVectorizer(analyzer=ngrams, min_df=2, sublinear_tf=True)
        self.lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)

    def fit(self, texts: list[str], vectors: np.ndarray, y: np.ndarray) -> Model:
        self.lr.fit(self._features(texts, vectors, fit=True), y)
        return self

    def predict(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        return self.lr.predict_proba(self._features(texts, vectors))[:, 1]

    def _features(self, texts: list[str], vectors: np.ndarray, fit: bool = False) -> Any:
        from scipy.sparse import csr_matrix, hstack

        words = self.tfidf.fit_transform(texts) if fit else self.tfidf.transform(texts)
        return hstack([words, csr_matrix(vectors)]).tocsr()

    def export(self) -> tuple[np.ndarray, dict[str, tuple[float, float]], float]:
        coef = self.lr.coef_[0]
        names = self.tfidf.get_feature_names_out()
        vocabulary = {str(g): (float(self.tfidf.idf_[i]), float(coef[i])) for i, g in enumerate(names)}
        return coef[len(names) :], vocabulary, float(self.lr.intercept_[0])


def out_of_fold(texts: list[str], x: np.ndarray, y: np.ndarray, c: float, folds: int = 5) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=7).split(x, y):
        model = Model(c).fit([texts[i] for i in train], x[train], y[train])
        probs[test] = model.predict([texts[i] for i in test], x[test])
    return probs


def answer_scores(records: list[dict[str, Any]], model: Model, embedder: Any) -> list[tuple[bool, float]]:
    """(gold present?, predicted score) per answer: 1.0 when the rules find a statement, else the highest
    classifier probability among the sentences the validator would send, 0.0 when there are none."""
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    out = []
    for rec in records:
        a = validator.analyse(rec["text"], rec.get("prompt", ""))
        if a.best_statement is not None:
            score = 1.0
        elif a.candidates and not validator._exemption(a):
            texts = [c.text for c in a.candidates]
            score = float(model.predict(texts, embedder.encode(texts)).max())
        else:
            score = 0.0
        out.append((rec["statement"] == "present", score))
    return out


def pick_threshold(pairs: list[tuple[bool, float]], precision: float) -> tuple[float, float, float]:
    """The threshold with the best answer-level F1 among those reaching `precision`: (t, P, R)."""
    best = (0.95, 0.0, 0.0, -1.0)
    for t in np.arange(0.30, 0.96, 0.05):
        tp = sum(1 for gold, s in pairs if gold and s >= t)
        fp = sum(1 for gold, s in pairs if not gold and s >= t)
        fn = sum(1 for gold, s in pairs if gold and s < t)
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f = 2 * p * r / max(p + r, 1e-9)
        if p >= precision and f > best[3]:
            best = (round(float(t), 2), p, r, f)
    if best[3] < 0:
        raise SystemExit(f"no threshold keeps answer-level precision >= {precision}; more or cleaner data is needed")
    return best[:3]


def main() -> int:
    from sklearn.metrics import average_precision_score

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--answers", type=Path, action="append", help="labelled answer JSONL (repeatable)")
    ap.add_argument("--sentences", type=Path, action="append", help="labelled sentence JSONL (repeatable)")
    ap.add_argument("--exclude", action="append", default=[], help="answer id prefix to leave out (repeatable)")
    ap.add_argument("--precision", type=float, default=0.96, help="answer-level precision the threshold must keep")
    ap.add_argument("--model-label", default="sentence-transformers/all-MiniLM-L6-v2 (int8)")
    ap.add_argument("--out", type=Path, default=head_path("en"))
    args = ap.parse_args()

    files = args.answers or DEFAULT_ANSWERS
    batches = {
        f: [r for r in read_jsonl(f) if not any(str(r.get("id", "")).startswith(p) for p in args.exclude)]
        for f in files
    }
    batches = {f: recs for f, recs in batches.items() if recs}
    sentence_rows = [
        (r["text"], int(r["statement"]))
        for f in (args.sentences or [p for p in DEFAULT_SENTENCES if p.exists()])
        for r in read_jsonl(f)
    ]
    sentence_rows += [(t, 0) for t in SEED_NEGATIVES]
    embedder = load_embedder(None, quantize=True)

    def training_set(answer_files: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
        texts, y = dedupe(sentences_from_answers([r for f in answer_files for r in batches[f]]) + sentence_rows)
        return texts, embedder.encode(texts, batch_size=64), y

    texts, x, y = training_set(list(batches))
    print(
        f"{sum(map(len, batches.values()))} answers and {len(sentence_rows)} labelled sentences -> {len(texts)} unique sentences, {int(y.sum())} statements"
    )
    results = []
    for c in (1.0, 4.0, 16.0):
        ap_c = average_precision_score(y, out_of_fold(texts, x, y, c))
        results.append((ap_c, c))
        print(f"C={c:<5} sentence-level out-of-fold average precision {ap_c:.4f}")
    ap_best, c_best = max(results)

    # The threshold is chosen on whole answers, each batch file scored by a model trained without it: what
    # matters is the answer-level decision after the rules, not sentence-level precision.
    pairs: list[tuple[bool, float]] = []
    for held in (f for f in batches if f.name != "dev.jsonl"):
        t_texts, t_x, t_y = training_set([f for f in batches if f != held])
        pairs += answer_scores(batches[held], Model(c_best).fit(t_texts, t_x, t_y), embedder)
    t, p, r = pick_threshold(pairs, args.precision)
    print(
        f"C={c_best}: threshold {t:.2f} -> leave-one-batch-out answer precision {p:.3f}, recall {r:.3f} ({len(pairs)} answers)"
    )

    model = Model(c_best).fit(texts, x, y)
    weights, vocabulary, bias = model.export()
    meta = {
        "model": args.model_label,
        "sentences": len(texts),
        "statements": int(y.sum()),
        "ngrams": len(vocabulary),
        "C": c_best,
        "cv_average_precision": round(float(ap_best), 4),
        "loo_answer_precision": round(p, 4),
        "loo_answer_recall": round(r, 4),
        "excluded": args.exclude,
    }
    write_head(args.out, weights, vocabulary, bias, t, embedder.encode([PROBE])[0], meta)
    # The runtime scorer is our own code; check it reproduces scikit-learn's probabilities.
    head = StatementHead.load(args.out)
    diff = np.abs(head.probabilities(texts[:200], x[:200]) - model.predict(texts[:200], x[:200])).max()
    if diff > 1e-3:
        raise SystemExit(f"runtime head disagrees with scikit-learn by {diff:.4f}")
    print(f"wrote {args.out} ({len(vocabulary)} n-grams; runtime matches scikit-learn within {diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
