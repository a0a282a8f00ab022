"""Finding install commands, manifests and imports in answers, with exact spans."""

from __future__ import annotations

import pytest

from llmvet.validators.base import Context
from llmvet.validators.packages.extract import extract


def refs(text: str, **kw):
    ex = extract(text, Context(text=text).code_blocks, **kw)
    for r in ex.refs:  # every span covers exactly the name it reports (`npm create x` runs create-x)
        shown = text[r.span[0] : r.span[1]]
        assert shown == r.name or (r.tool == "npm-create" and r.name.endswith(shown)), (r, shown)
    return ex.refs


def names(text: str, **kw) -> list[tuple[str, str, str]]:
    return [(r.ecosystem, r.name, r.kind) for r in refs(text, **kw)]


@pytest.mark.parametrize(
    "cmd, expected",
    [
        ("pip install requests", ["requests"]),
        ("pip3 install -U requests 'flask[async]>=2' numpy==1.26.0", ["requests", "flask", "numpy"]),
        ("python -m pip install --upgrade --index-url https://x.example/simple foo-bar", ["foo-bar"]),
        ("python3.11 -m pip install -r requirements.txt -e . pandas", ["pandas"]),
        ("pip install git+https://github.com/a/b.git ./local/pkg /abs/x.whl https://e.x/p.tar.gz httpx", ["httpx"]),
        ("pip install 'pkg @ https://e.x/pkg.zip' other", ["pkg", "other"]),
        ("uv add fastapi 'uvicorn[standard]'", ["fastapi", "uvicorn"]),
        ("uv pip install polars", ["polars"]),
        ("poetry add django@^4.2 --group dev pytest", ["django", "pytest"]),
        ("pipenv install requests --dev", ["requests"]),
        ("pipx install black", ["black"]),
        ("pip install <package-name> $PKG {name}", []),
        ("sudo pip install awscli && echo done", ["awscli"]),
        ("pip install numpy \\\n    scipy", ["numpy", "scipy"]),
    ],
)
def test_pip_family(cmd, expected):
    text = f"```bash\n{cmd}\n```\n"
    assert [n for e, n, k in names(text) if e == "pypi"] == expected


@pytest.mark.parametrize(
    "cmd, expected",
    [
        ("npm install express", ["express"]),
        ("npm i -D typescript @types/node@20.1.0 vite@latest", ["typescript", "@types/node", "vite"]),
        ("yarn add react react-dom", ["react", "react-dom"]),
        ("yarn global add serve", ["serve"]),
        ("pnpm add -D vitest", ["vitest"]),
        ("npx create-react-app my-app", ["create-react-app"]),
        ("npx -p cowsay cowsay hi", ["cowsay"]),
        ("npm create vite@latest my-app -- --template react", ["create-vite"]),
        ("npm install github:user/repo ./local file:../x lodash", ["lodash"]),
        ("npm install alias@npm:real-pkg@1.2.3", ["real-pkg"]),
    ],
)
def test_npm_family(cmd, expected):
    text = f"```sh\n{cmd}\n```\n"
    assert [n for e, n, k in names(text) if e == "npm"] == expected


def test_pins_are_recorded():
    text = "```\npip install requests==99.0 flask>=2\nnpm install left-pad@1.3.0 chalk@^5\n```"
    rs = {r.name: r.version for r in refs(text)}
    assert rs == {"requests": "99.0", "flask": None, "left-pad": "1.3.0", "chalk": None}


def test_commands_that_name_another_index():
    rs = refs(
        "```\npip install --extra-index-url https://pkgs.acme.example/simple acme-core requests\n"
        "pip install -i=https://x.example/simple foo\nnpm i --registry https://npm.acme.example @acme/ui\n```"
    )
    assert [(r.name, r.index_url) for r in rs] == [
        ("acme-core", "https://pkgs.acme.example/simple"),
        ("requests", "https://pkgs.acme.example/simple"),
        ("foo", "https://x.example/simple"),
        ("@acme/ui", "https://npm.acme.example"),
    ]


def test_conda_names_are_their_own_ecosystem():
    text = "```\nconda install -c conda-forge numpy=1.26 conda-forge::pytorch\n```"
    assert names(text) == [("conda", "numpy", "install"), ("conda", "pytorch", "install")]


def test_inline_code_and_prose():
    text = (
        "First run `pip install requests` and then `npm i axios`.\n"
        "You can also pip install httpx to get async support.\n"
        "Or just pip install the library you like.\n"
    )
    assert names(text) == [
        ("pypi", "requests", "install"),
        ("npm", "axios", "install"),
        ("pypi", "httpx", "install"),
    ]


def test_prose_lists_with_commas_and_and():
    text = "Just pip install requests, flask and numpy, then run the app. Or pip install httpx beforehand."
    assert [n for _, n, _ in names(text)] == ["requests", "flask", "numpy", "httpx"]
    assert [n for _, n, _ in names("Run pip install requests and run the tests.")] == ["requests"]


def test_advice_against_an_install_is_not_a_recommendation():
    text = "Use `pip install scikit-learn` (not `pip install sklearn`), and avoid pip install bs4."
    assert [n for _, n, _ in names(text)] == ["scikit-learn"]
    assert [n for _, n, _ in names("```\n# not this:\npip install sklearn\n```")] == ["sklearn"]  # code is code


def test_markdown_and_html_dressing():
    text = (
        "Then **pip install fastapi-jwt-guard** and “pip install httpx”.\n"
        "<code>pip install rich</code> or `deno add npm:chalk`\n"
    )
    assert [n for _, n, _ in names(text)] == ["fastapi-jwt-guard", "httpx", "rich", "chalk"]


def test_requirements_file_mentioned_in_words():
    text = "Add these to your requirements file:\n\n```\nflask\nfastapi-jwt-guard\n```"
    assert [(n, k) for _, n, k in names(text)] == [("flask", "manifest"), ("fastapi-jwt-guard", "manifest")]


def test_prose_stops_at_sentence_end():
    text = "Install it with pip install fastapi. Then run it."
    assert names(text) == [("pypi", "fastapi", "install")]


def test_requirements_block_by_filename_and_by_shape():
    a = "Put this in requirements.txt:\n\n```\nrequests==2.31.0\nflask  # web\n-r base.txt\n\nnumpy>=1.26\n```\n"
    assert [(n, k) for _, n, k in names(a)] == [("requests", "manifest"), ("flask", "manifest"), ("numpy", "manifest")]
    b = "```text\ndjango>=4.2\ncelery==5.3.1\n```"
    assert [n for _, n, _ in names(b)] == ["django", "celery"]
    c = "```text\nhello world\nthis is prose\n```"
    assert names(c) == []


def test_pyproject_pep621_and_poetry():
    text = """```toml
[project]
name = "myapp"
dependencies = [
    "httpx>=0.27",
    "pydantic[email]==2.7.0",  # comment ]
]
[project.optional-dependencies]
dev = ["pytest"]

[tool.poetry.dependencies]
python = "^3.11"
rich = "13.7.1"
local = { path = "../local" }
typer = { version = "^0.12", extras = ["all"] }
```"""
    rs = refs(text)
    assert [(r.name, r.version) for r in rs] == [
        ("httpx", None),
        ("pydantic", "2.7.0"),
        ("pytest", None),
        ("rich", "13.7.1"),
        ("typer", None),
    ]


def test_setup_py_and_setup_cfg():
    text = """```python
from setuptools import setup
setup(name="x", install_requires=["requests>=2", 'click'])
```

setup.cfg:
```ini
[options]
install_requires =
    attrs>=23
    pyyaml
```"""
    assert [n for _, n, k in names(text) if k == "manifest"] == ["requests", "click", "attrs", "pyyaml"]


def test_package_json():
    text = """```json
{
  "name": "my-app",
  "dependencies": {"express": "^4.18.2", "left-pad": "1.3.0", "local": "file:../local", "x": "github:u/x"},
  "devDependencies": {"typescript": "5.4.5", "@types/node": "^20"}
}
```"""
    rs = refs(text)
    assert [(r.name, r.version) for r in rs] == [
        ("express", None),
        ("left-pad", "1.3.0"),
        ("typescript", "5.4.5"),
        ("@types/node", None),
    ]


def test_python_imports_skip_stdlib_relative_and_local_modules():
    text = """Create `helpers.py` and a package `mypkg/__init__.py`:

```python
import os, sys
import numpy as np
from . import sibling
from .models import User
from sklearn.model_selection import train_test_split
import google.cloud.storage
from helpers import load
from mypkg.core import run
try:
    import ujson as json
except ImportError:
    import json
```"""
    rs = refs(text)
    assert [(r.name, r.module, r.optional) for r in rs] == [
        ("numpy", "numpy", False),
        ("sklearn", "sklearn.model_selection", False),
        ("google", "google.cloud.storage", False),
        ("ujson", "ujson", True),
    ]
    assert all(r.kind == "import" for r in rs)


def test_python_imports_from_unparsable_snippet():
    text = "```python\nimport pandas as pd\ndf = pd.read_csv(...)\n    for x in :\nfrom tqdm import tqdm\n```"
    assert [n for _, n, _ in names(text)] == ["pandas", "tqdm"]


def test_js_imports():
    text = """```ts
import express from 'express';
import { readFile } from "node:fs/promises";
import path from 'path';
const cfg = require('./config');
import type { Foo } from '@acme/types/sub';
import '@/styles.css';
const _ = require("lodash/fp");
export * from 'zod';
const m = await import('chalk');
```"""
    assert [n for _, n, _ in names(text)] == ["express", "@acme/types", "lodash", "zod", "chalk"]


def test_imports_can_be_switched_off():
    text = "```python\nimport numpy\n```\n```bash\npip install numpy\n```"
    assert names(text, imports=False) == [("pypi", "numpy", "install")]


def test_plain_prose_mentioning_pip_is_not_a_command():
    text = "We use pip and npm every day; pipeline installs are different."
    assert names(text) == []


def test_local_modules_in_a_long_import_list():
    mods = ["numpy", "pandas", "helpers", "app", "scipy", "rich", "click", "mylib", "tqdm", "attrs", "yaml"]
    code = "\n".join(f"import {m}" for m in mods)
    text = (
        "Layout:\n\n```\nproject/\n├── app/\n│   └── main.py\n└── src/mylib/core.py\n```\n"
        f"Create `helpers.py` too.\n\n```python\n{code}\n```\n"
    )
    got = [n for _, n, _ in names(text)]
    assert got == ["numpy", "pandas", "scipy", "rich", "click", "tqdm", "attrs", "yaml"]


@pytest.mark.parametrize("spelled", ["\u017fetup.py", "SETUP.PY", "pac\u212aage.json", "requ\u0131rements.txt"])
def test_a_file_name_with_letters_ignorecase_folds_is_read_as_that_file(spelled):
    """The file-name pattern ignores case, so "\u017f" matches "s" and "\u212a" matches "k": the kind of
    manifest must be read from such a name too (it raised KeyError, failing the whole check)."""
    code = {
        "\u017fetup.py": "from setuptools import setup\nsetup(install_requires=['flask'])\n",
        "SETUP.PY": "from setuptools import setup\nsetup(install_requires=['flask'])\n",
        "pac\u212aage.json": '{"dependencies": {"flask": "1.0.0"}}\n',
        "requ\u0131rements.txt": "flask\n",
    }[spelled]
    lang = "json" if "json" in spelled else "python" if "setup" in spelled.lower() or "\u017f" in spelled else ""
    found = refs(f"Put this in {spelled}:\n\n```{lang}\n{code}```\n")
    assert [(r.name, r.kind) for r in found] == [("flask", "manifest")]
