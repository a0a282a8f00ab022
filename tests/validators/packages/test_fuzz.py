"""Extraction never raises and every span points at its name, whatever the text (seeded fuzz)."""

from __future__ import annotations

import json
import random

from llmvet.validators.base import Context
from llmvet.validators.packages.extract import extract
from tests.support import DATA

PIECES = [
    "pip install ",
    "npm i ",
    "npx ",
    "uv add ",
    "poetry add ",
    "conda install -c x ",
    "```\n",
    "```python\n",
    "```json\n",
    "```toml\n",
    "`",
    "requests",
    "@scope/pkg@1.2.3",
    "'a[b]>=1'",
    '"',
    "'",
    "==",
    " -r ",
    " -e .",
    "\\\n",
    "\n",
    " ",
    "import os, numpy as np\n",
    "from . import x\n",
    "from a.b import (c,\n d)\n",
    "require('x')",
    'import y from "@a/b/c";\n',
    '[project]\ndependencies = ["q", ',
    "]",
    '{"dependencies": {',
    "}",
    "requirements.txt:\n",
    "try:\n    import z\nexcept ImportError:\n    pass\n",
    "…",
    "é",
    "\t",
    "#",
    ";",
    "&&",
    "<pkg>",
    "$X",
    "git+https://h/x.git",
    "./local",
    "name @ https://h/x.zip",
    "python -m pip install -U ",
]


def check(text: str) -> None:
    ex = extract(text, Context(text=text).code_blocks)
    for r in ex.refs:
        a, b = r.span
        assert 0 <= a < b <= len(text)
        shown = text[a:b]
        assert shown == r.name or (r.tool == "npm-create" and r.name.endswith(shown)), (r, shown, text)


def test_fuzzed_texts():
    rng = random.Random(4)
    for _ in range(1500):
        check("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 25))))


def test_mutated_corpus_answers():
    rng = random.Random(5)
    lines = (DATA / "packages" / "realistic.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    for _ in range(300):
        t = rng.choice(texts)
        i, j = sorted(rng.randrange(len(t) + 1) for _ in range(2))
        check(t[:i] + rng.choice(PIECES) + t[j:])
        check(t[:i])
