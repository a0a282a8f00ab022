"""Distinct realistic ~1 KB coding answers, so a benchmark's server reads each answer once.

A serving process sees every answer once. Checking one canned answer again and again flatters any
work that gets cheaper on text it has seen (a lazily built automaton, a memo keyed by a line), so the
overhead benchmark's "distinct" upstream answers from this pool instead, in turn.

Each answer has the shape of benchmarks/bare.py's REALISTIC one: a line on the task, an install
command, a short code block, prose and a confidence statement. The package is one of the real ones
the loopback fake registry knows (so the packages validator passes on a warm cache, as in most real
traffic); the prose is two or three answers from tests/data/uncertainty/dev.jsonl (the development
split; never the held-out or sealed sets), chosen and ordered at random with a fixed seed. Dev answers
that mention installing or importing are left out, so a prose sentence never names a package.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (package to install, module to import, a call that uses it): real names the fake registry records.
PACKAGES = [
    ("pandas", "pandas", 'df = pandas.read_csv("{file}.csv")\nprint(df.describe())'),
    (
        "requests",
        "requests",
        'reply = requests.get("https://example.com/{file}", timeout=10)\nreply.raise_for_status()',
    ),
    ("httpx", "httpx", 'reply = httpx.get("https://example.com/{file}", timeout=10)\nprint(reply.json())'),
    ("numpy", "numpy", 'values = numpy.loadtxt("{file}.txt")\nprint(values.mean(), values.std())'),
    ("rich", "rich", 'rich.print("[bold]{file}[/bold] loaded")'),
    ("click", "click", '@click.command()\n@click.argument("{file}")\ndef main({file}):\n    click.echo({file})'),
    ("flask", "flask", 'app = flask.Flask(__name__)\n\n@app.get("/{file}")\ndef show():\n    return {{"ok": True}}'),
    ("tqdm", "tqdm", 'for row in tqdm.tqdm(open("{file}.csv")):\n    handle(row)'),
    ("boto3", "boto3", 's3 = boto3.client("s3")\ns3.download_file("bucket", "{file}", "{file}.bin")'),
    ("pyarrow", "pyarrow", 'table = pyarrow.csv.read_csv("{file}.csv")\nprint(table.num_rows)'),
    ("redis", "redis", 'r = redis.Redis()\nr.set("{file}", 1)'),
    ("pytest", "pytest", 'def test_{file}():\n    with pytest.raises(ValueError):\n        int("x")'),
]
FILES = ["sales", "orders", "events", "users", "report", "metrics", "invoices", "logs", "prices", "stock"]
CONFIDENCE = [
    "I'm fairly confident about this approach; check the documentation for your version if an argument is rejected.",
    "I'm not certain the defaults are the same in older releases, so check the changelog if behaviour differs.",
    "I'm confident about the calls above; the exact output format may differ between versions.",
    "I'm unsure whether your environment pins an older version; if so, some arguments may be missing.",
]


def dev_prose() -> list[str]:
    """Development-split answers with no install or import in them."""
    texts = []
    for line in (ROOT / "tests/data/uncertainty/dev.jsonl").read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"] if line.strip() else ""
        if len(text) > 120 and not any(w in text.lower() for w in ("install", "import", "require(", "`")):
            texts.append(text)
    return texts


def distinct_answers(n: int, seed: int = 19, size: int = 1000) -> list[str]:
    """`n` different answers of about `size` bytes each (seeded, so every run serves the same pool)."""
    rng = random.Random(seed)
    prose = dev_prose()
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        package, module, call = rng.choice(PACKAGES)
        file = rng.choice(FILES)
        parts = [
            f"Here is one way to do it with {package}. Install it first:\n\n```bash\npip install {package}\n```\n",
            f"```python\nimport {module}\n\n{call.format(file=file)}\n```\n",
        ]
        while len("\n\n".join(parts).encode()) < size - 120:
            parts.append(rng.choice(prose))
        parts.append(rng.choice(CONFIDENCE))
        answer = "\n\n".join(parts)
        if answer not in seen:
            seen.add(answer)
            out.append(answer)
    return out
