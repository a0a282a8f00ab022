"""Code without comments leaves a blank comment view, which find_statements no longer scans: on real and
generated answers, skipping it gives exactly what scanning it gives."""

from __future__ import annotations

import json
import random
from pathlib import Path

from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.hits import Analysis, Options
from llmvet.validators.uncertainty.statements import find_statements, statement_candidates
from llmvet.validators.uncertainty.text import build_views

from .test_starts import dev_texts

REALISTIC = Path(__file__).resolve().parents[2] / "data" / "packages" / "realistic.jsonl"
CODE = [
    "```bash\npip install pandas\n```",
    "```python\nimport pandas\n\ndf = pandas.read_csv('x.csv')\nprint(df)\n```",
    "```\n    \t\n```",
    "~~~js\nconst x = require('y');\n~~~",
    "```python\nx = 1  # I'm not sure this is right\n```",  # a comment: scanned as before
    "```sql\nSELECT 1; -- maybe\n```",
    "```python\ndef f():\n    '''I might be wrong here.'''\n```",
    "```\nunclosed fence, no comment",
]


def answers() -> list[str]:
    rng = random.Random(41)
    dev = dev_texts()
    out = [json.loads(line)["text"] for line in REALISTIC.read_text(encoding="utf-8").splitlines() if line.strip()]
    out += [t for t in dev if "```" in t]
    for _ in range(300):
        parts = [rng.choice(dev) for _ in range(rng.randint(1, 3))] + [
            rng.choice(CODE) for _ in range(rng.randint(1, 3))
        ]
        rng.shuffle(parts)
        out.append("\n\n".join(parts))
    return out


def statements(text: str, skip_blank: bool, persona: bool, collect: bool) -> Analysis:
    cues = load("en")
    views = build_views(text)
    prose = cues.for_text(views.prose)
    out = Analysis()
    opts = Options(collect_candidates=collect)
    find_statements(views, prose, opts, [], statement_candidates(views.prose, prose), out, not persona, skip_blank)
    return out


def test_skipping_a_blank_comment_view_changes_nothing():
    skipped = scanned = 0
    for i, text in enumerate(answers()):
        views = build_views(text)
        if not views.has_code:
            continue
        blank = views.comments.isspace()
        skipped += blank
        scanned += not blank
        persona, collect = bool(i % 2), bool(i % 3)
        assert statements(text, True, persona, collect) == statements(text, False, persona, collect), text[:200]
    assert skipped > 100 and scanned > 30  # both paths ran on many answers
