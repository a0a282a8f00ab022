"""Build the development corpus (corpus.jsonl) and the synthesised registry records (synthetic.json).

Offline, from local name lists (see README.md beside this file):
  --pypi-tsv  a snapshot of PyPI names (name, version, month, rank, summary)
  --npm-names all-the-package-names' names.json (every public npm name; MIT)
  --npm-tsv   a snapshot of npm names (name, version, downloads, summary)

Classes: real (recorded registry answers), alias / stdlib / local (imports that must not be flagged),
nonexistent (absent from both snapshots), placeholder (squats and placeholders found in the snapshot
by their summaries or their npm security-holding version). Seeded, so it rebuilds identically.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

HERE = Path(__file__).parent
rng = random.Random(20261125)

REAL_PYPI = sorted(p.stem for p in (HERE / "registry" / "pypi").glob("*.json"))
SQUAT_RECORDED = {
    "sklearn",
    "bs4",
    "playhouse",
    "dotenv",
    "pil",
    "botocote",
    "asurion-drive",
    "chainlit-graphql-orm",
    "aama",
}
REAL_PYPI = [n for n in REAL_PYPI if n not in SQUAT_RECORDED]
REAL_NPM = sorted(p.stem.replace("__", "/") for p in (HERE / "registry" / "npm").glob("*.json"))
REAL_NPM = [n for n in REAL_NPM if n not in ("events-web", "splide")]

ALIASES = [
    "cv2",
    "yaml",
    "sklearn.ensemble",
    "PIL.Image",
    "bs4",
    "dotenv",
    "playhouse.shortcuts",
    "dateutil.parser",
    "jwt",
    "google.cloud.storage",
    "azure.identity",
    "skimage.io",
    "Crypto.Cipher",
    "OpenSSL.crypto",
    "serial",
    "git",
    "zmq",
    "attr",
    "fitz",
    "docx",
    "pptx",
    "magic",
    "telegram.ext",
    "socketio",
    "dns.resolver",
    "nacl.secret",
    "MySQLdb",
    "psycopg2.extras",
    "rest_framework.views",
    "corsheaders",
    "google.protobuf.json_format",
    "grpc",
    "jose.jwt",
    "slugify",
    "markdown",
    "jinja2",
    "sqlalchemy.orm",
    "Bio.Seq",
    "kafka",
    "websocket",
]
STDLIB = [
    "os",
    "sys",
    "json",
    "re",
    "pathlib",
    "asyncio",
    "collections",
    "itertools",
    "functools",
    "typing",
    "dataclasses",
    "datetime",
    "logging",
    "subprocess",
    "argparse",
    "csv",
    "sqlite3",
    "unittest",
    "tomllib",
    "concurrent.futures",
    "urllib.request",
    "http.server",
    "xml.etree.ElementTree",
    "email.mime.text",
    "multiprocessing",
    "threading",
    "hashlib",
    "hmac",
    "secrets",
    "uuid",
    "statistics",
    "decimal",
    "fractions",
    "shutil",
    "tempfile",
    "zipfile",
    "importlib.metadata",
    "contextlib",
    "enum",
    "abc",
]
LOCAL = [
    "my_utils",
    "helpers",
    "config",
    "models",
    "database",
    "schemas",
    "services",
    "app_settings",
    "tasks",
    "data_loader",
    "preprocess",
    "train_model",
    "api_client",
    "routes",
    "crud",
    "auth_utils",
    "scraper",
    "pipeline",
    "storage_backend",
    "notifier",
    "validators",
    "constants",
    "core",
    "worker",
    "cli_tools",
    "reporting",
    "metrics",
    "cache_layer",
    "email_sender",
    "image_utils",
]

PY_STEMS = [
    "flask",
    "django",
    "fastapi",
    "pandas",
    "numpy",
    "torch",
    "sklearn",
    "langchain",
    "openai",
    "pydantic",
    "sqlalchemy",
    "celery",
    "redis",
    "boto3",
    "pytest",
    "requests",
    "aiohttp",
    "httpx",
    "matplotlib",
    "scipy",
    "transformers",
    "streamlit",
    "selenium",
    "pyspark",
    "polars",
    "tensorflow",
    "keras",
    "spacy",
    "nltk",
]
WORDS = [
    "auth",
    "cache",
    "utils",
    "toolkit",
    "connector",
    "helper",
    "pro",
    "async",
    "validator",
    "sdk",
    "client",
    "extensions",
    "plus",
    "lite",
    "agent",
    "stream",
    "bridge",
    "sync",
    "guard",
    "profiler",
    "optimizer",
    "loader",
    "router",
    "middleware",
    "vision",
    "embeddings",
    "retry",
    "ratelimit",
    "jwt",
    "oauth",
    "graphql",
    "websocket",
    "scheduler",
    "monitor",
    "tracer",
    "secure",
    "fastpath",
    "autoconfig",
    "schema",
    "migrate",
    "testkit",
    "mock",
]
JS_STEMS = [
    "react",
    "express",
    "vue",
    "next",
    "axios",
    "lodash",
    "redux",
    "tailwind",
    "prisma",
    "mongoose",
    "jest",
    "vite",
    "zod",
    "socket",
    "graphql",
    "webpack",
    "eslint",
    "node",
    "svelte",
    "fastify",
]
JS_WORDS = [
    "hooks",
    "utils",
    "auth",
    "router",
    "cache",
    "validator",
    "form",
    "state",
    "query",
    "toolkit",
    "helper",
    "middleware",
    "logger",
    "plugin",
    "components",
    "fetch",
    "store",
    "guard",
    "i18n",
    "charts",
    "modal",
]

# Labelling rule for the placeholder class (by hand-checked wording in the snapshot's summaries).
PLACEHOLDER_WORDS = re.compile(
    r"placeholder|security research|dependency confusion|slopsquat|typosquat|name reserved|reserved (?:by|for)|"
    r"\bparked\b|dummy package|security holding|prevent(?:s|ing)? (?:typo|dependency|squat)|proof of concept|"
    r"\bpoc\b|bug bounty|not installable|no functional code|research package",
    re.I,
)


def load_tsv(path: str) -> list[dict]:
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def nonexistent(pypi_names: set[str], npm_names: set[str]) -> tuple[list[str], list[str]]:
    py, js = set(), set()
    while len(py) < 130:
        a, b = rng.choice(PY_STEMS), rng.choice(WORDS)
        form = rng.randrange(4)
        n = {0: f"{a}-{b}", 1: f"{a}{b}", 2: f"py{a}-{b}", 3: f"{a}-{b}-{rng.choice(WORDS)}"}[form]
        if canonicalize_name(n) not in pypi_names:
            py.add(n)
    while len(js) < 70:
        a, b = rng.choice(JS_STEMS), rng.choice(JS_WORDS)
        form = rng.randrange(3)
        n = {0: f"{a}-{b}", 1: f"@{a}/{b}-{rng.choice(JS_WORDS)}", 2: f"{a}-{b}-{rng.choice(JS_WORDS)}"}[form]
        if n not in npm_names:
            js.add(n)
    return sorted(py), sorted(js)


def synth_pypi(row: dict) -> dict:
    """A registry record from one snapshot row: one release, its month, its summary. The snapshot has
    no description and no URLs, so neither is made up: description empty, project_urls absent."""
    month = row["month"] or "2020-01"
    v = row["version"]
    fn = f"{canonicalize_name(row['name']).replace('-', '_')}-{v}.tar.gz"
    return {
        "info": {
            "name": row["name"],
            "summary": row["summary"],
            "version": v,
            "description": "",
            "project_urls": None,
            "home_page": None,
        },
        "releases": {v: [{"upload_time_iso_8601": f"{month}-15T00:00:00Z", "yanked": False, "filename": fn}]},
        "synthetic": "from a snapshot row",
    }


def answer(kind: str, eco: str, names: list[str]) -> str:
    """A realistic answer that mentions `names` the way `kind` says."""
    if eco == "npm":
        t = rng.randrange(4)
        if t == 0:
            return f"Install the dependencies:\n\n```bash\nnpm install {' '.join(names)}\n```\n\nThen wire it up in `index.js`."
        if t == 1:
            reqs = "\n".join(f"const m{i} = require('{n}');" for i, n in enumerate(names))
            return f"Add them with `yarn add {' '.join(names)}` and:\n\n```js\n{reqs}\n```\n"
        if t == 2:
            deps = ",\n".join(f'    "{n}": "^1.0.0"' for n in names)
            return (
                f'Your `package.json`:\n\n```json\n{{\n  "name": "demo",\n  "dependencies": {{\n{deps}\n  }}\n}}\n```\n'
            )
        return (
            f"Use `pnpm add {' '.join(names)}`. After that, import it:\n\n```ts\n"
            + "\n".join(f"import x{i} from '{n}';" for i, n in enumerate(names))
            + "\n```\n"
        )
    t = rng.randrange(6)
    if t == 0:
        return f"To get started, install the packages:\n\n```bash\npip install {' '.join(names)}\n```\n\nThen run the script."
    if t == 1:
        return "Here is a `requirements.txt`:\n\n```\n" + "\n".join(f"{n}>=1.0" for n in names) + "\n```\n"
    if t == 2:
        deps = "\n".join(f'    "{n}",' for n in names)
        return f'In `pyproject.toml`:\n\n```toml\n[project]\nname = "demo"\ndependencies = [\n{deps}\n]\n```\n'
    if t == 3:
        return " ".join(f"You can install it with `pip install {n}`." for n in names) + " It works on Python 3.11."
    if t == 4:
        return f"Use uv:\n\n```sh\nuv add {' '.join(names)}\n```\n"
    return f"Run this in your shell: python -m pip install -U {' '.join(names)}\n\nThen restart the kernel."


def import_answer(kind: str, mods: list[str]) -> str:
    lines = []
    for m in mods:
        if "." in m and rng.random() < 0.5:
            mod, _, attr = m.rpartition(".")
            lines.append(f"from {mod} import {attr}")
        else:
            lines.append(f"import {m}")
    code = "\n".join(lines) + "\n\n\ndef main():\n    pass\n"
    if kind == "local":
        files = "".join(f"First create `{m}.py` with your helpers.\n" for m in mods)
        return f"{files}\nThen in `main.py`:\n\n```python\n{code}```\n"
    return f"Here is the code:\n\n```python\n{code}```\n"


def main() -> None:  # noqa: C901  # a one-off data script, read top to bottom
    ap = argparse.ArgumentParser()
    ap.add_argument("--pypi-tsv", required=True)
    ap.add_argument("--npm-names", required=True)
    ap.add_argument("--npm-tsv", required=True)
    a = ap.parse_args()
    pypi_rows = load_tsv(a.pypi_tsv)
    pypi_names = {canonicalize_name(r["name"]) for r in pypi_rows}
    npm_names = set(json.loads(Path(a.npm_names).read_text()))
    npm_rows = load_tsv(a.npm_tsv)

    squat_rows = [r for r in pypi_rows if (r.get("summary") and PLACEHOLDER_WORDS.search(r["summary"]))]
    squat_rows = rng.sample(squat_rows, 150)
    synthetic = {"pypi": {r["name"]: synth_pypi(r) for r in squat_rows}, "npm": {}}
    npm_holding = [r["name"] for r in npm_rows if r["version"].endswith("-security")]
    for n in npm_holding:
        if n not in ("events-web", "splide"):
            synthetic["npm"][n] = {
                "name": n,
                "description": "security holding package",
                "dist-tags": {"latest": "0.0.1-security"},
                "versions": {"0.0.1-security": {}},
                "time": {"created": "2020-01-01T00:00:00Z", "0.0.1-security": "2020-01-01T00:00:00Z"},
                "synthetic": "from a snapshot row",
            }
    (HERE / "synthetic.json").write_text(json.dumps(synthetic, indent=0, sort_keys=True))

    py_missing, js_missing = nonexistent(pypi_names, npm_names)
    items = []

    def add(kind: str, eco: str, names: list[str], text: str, cls: str) -> None:
        items.append({"class": cls, "text": text, "expect": [{"name": n, "ecosystem": eco} for n in names]})

    def chunks(seq, lo=1, hi=3):
        seq = list(seq)
        rng.shuffle(seq)
        i = 0
        while i < len(seq):
            k = rng.randint(lo, hi)
            yield seq[i : i + k]
            i += k

    for group in chunks(REAL_PYPI):
        add("install", "pypi", group, answer("install", "pypi", group), "real")
    for group in chunks(REAL_NPM):
        add("install", "npm", group, answer("install", "npm", group), "real")
    for group in chunks(py_missing):
        add("install", "pypi", group, answer("install", "pypi", group), "nonexistent")
    for group in chunks(js_missing):
        add("install", "npm", group, answer("install", "npm", group), "nonexistent")
    squats = [r["name"] for r in squat_rows] + sorted(SQUAT_RECORDED)
    for group in chunks(squats, 1, 2):
        add("install", "pypi", group, answer("install", "pypi", group), "placeholder")
    for n in npm_holding:
        add("install", "npm", [n], answer("install", "npm", [n]), "placeholder")
    for cls, pool in (("alias", ALIASES), ("stdlib", STDLIB), ("local", LOCAL)):
        for group in chunks(pool, 1, 4):
            add("import", "pypi", [m.split(".")[0] for m in group], import_answer(cls, group), cls)

    with open(HERE / "corpus.jsonl", "w") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
    counts = {}
    for it in items:
        counts[it["class"]] = counts.get(it["class"], 0) + len(it["expect"])
    print(len(items), "answers;", counts)


if __name__ == "__main__":
    main()
