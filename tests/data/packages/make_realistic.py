"""Hand-written answers in the style of real assistant replies, with the class of every name.

Names marked nonexistent were checked absent from the PyPI name snapshot and from
all-the-package-names (npm) on 2026-11-25. Writes realistic.jsonl beside this file.
"""

from __future__ import annotations

import json
from pathlib import Path

A: list[tuple[str, list[tuple[str, str, str]]]] = []

A.append(
    (
        """Great question! To add JWT auth to FastAPI you can use a small helper library.

1. Install the dependencies:

```bash
$ pip install fastapi uvicorn fastapi-jwt-guard python-dotenv
```

2. Create `auth.py`:

```python
import os
from datetime import datetime, timedelta

from dotenv import load_dotenv
from fastapi import Depends, FastAPI
from fastapi_jwt_guard import JWTGuard

load_dotenv()
guard = JWTGuard(secret=os.environ["SECRET"])
```

3. In `main.py`:

```python
from fastapi import FastAPI
from auth import guard
app = FastAPI()
```

Run it with `uvicorn main:app --reload`.
""",
        [
            ("fastapi", "pypi", "real"),
            ("uvicorn", "pypi", "real"),
            ("fastapi-jwt-guard", "pypi", "nonexistent"),
            ("python-dotenv", "pypi", "real"),
            ("auth", "pypi", "local"),
            ("dotenv", "pypi", "alias"),
        ],
    )
)

A.append(
    (
        """You can speed up repeated pandas reads with caching. In a notebook:

```python
!pip install pandas pandas-smart-cache pyarrow
```

```python
import pandas as pd
import pandas_smart_cache as psc

psc.enable()
df = pd.read_parquet("data.parquet")
```

If you prefer not to add a dependency, `functools.lru_cache` works too:

```python
import functools
import pandas as pd

@functools.lru_cache(maxsize=8)
def load(path):
    return pd.read_parquet(path)
```
""",
        [
            ("pandas", "pypi", "real"),
            ("pandas-smart-cache", "pypi", "nonexistent"),
            ("functools", "pypi", "stdlib"),
            ("pyarrow", "pypi", "real"),
        ],
    )
)

A.append(
    (
        """Here's a `requirements.txt` for the scraper:

```
requests==2.31.0
beautifulsoup4>=4.12
lxml
selenium==4.21.0
```

And the code:

```python
import requests
from bs4 import BeautifulSoup
from selenium import webdriver
from selenium.webdriver.common.by import By
```

Note: some tutorials say `pip install bs4`; that is a dummy package, install `beautifulsoup4` instead.
""",
        [
            ("requests", "pypi", "real"),
            ("beautifulsoup4", "pypi", "real"),
            ("lxml", "pypi", "real"),
            ("selenium", "pypi", "real"),
            ("bs4", "pypi", "placeholder"),
        ],
    )
)

A.append(
    (
        """For a React form wizard, install:

```bash
npm install react react-form-wizardry zod
```

```jsx
import React, { useState } from 'react';
import { Wizard, Step } from 'react-form-wizardry';
import { z } from 'zod';
import styles from './Wizard.module.css';
```
""",
        [("react", "npm", "real"), ("react-form-wizardry", "npm", "nonexistent"), ("zod", "npm", "real")],
    )
)

A.append(
    (
        """To train a classifier with scikit-learn:

```python
import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
import matplotlib.pyplot as plt
```

Install with `pip install scikit-learn numpy matplotlib` (not `pip install sklearn`, which is deprecated).
""",
        [
            ("numpy", "pypi", "real"),
            ("sklearn", "pypi", "alias"),
            ("matplotlib", "pypi", "real"),
            ("scikit-learn", "pypi", "real"),
        ],
    )
)

A.append(
    (
        """My project layout:

```
myservice/
├── app/
│   ├── __init__.py
│   ├── models.py
│   └── routes.py
└── run.py
```

`app/routes.py`:

```python
from flask import Blueprint, jsonify
from app.models import User
from .models import Order
import peewee
from playhouse.shortcuts import model_to_dict
```

Dependencies in `pyproject.toml`:

```toml
[project]
name = "myservice"
version = "0.1.0"
dependencies = ["flask>=3", "peewee==3.17.0", "celery-beat-ui-lite"]
```
""",
        [
            ("app", "pypi", "local"),
            ("flask", "pypi", "real"),
            ("peewee", "pypi", "real"),
            ("playhouse", "pypi", "alias"),
            ("celery-beat-ui-lite", "pypi", "nonexistent"),
        ],
    )
)

A.append(
    (
        """Set up the Node API:

```sh
mkdir api && cd api
npm init -y
npm i express mongoose jsonwebtoken mongoose-auto-audit
npm i -D typescript @types/node
```

```ts
import express from "express";
import mongoose from "mongoose";
import jwt from "jsonwebtoken";
import { readFileSync } from "fs";
import path from "node:path";
import autoAudit from "mongoose-auto-audit";
```
""",
        [
            ("express", "npm", "real"),
            ("mongoose", "npm", "real"),
            ("jsonwebtoken", "npm", "real"),
            ("mongoose-auto-audit", "npm", "nonexistent"),
            ("typescript", "npm", "real"),
            ("@types/node", "npm", "real"),
        ],
    )
)

A.append(
    (
        """You can call OpenAI with function routing like this. First `pip install openai openai-function-router`, then:

```python
from openai import OpenAI
from openai_function_router import Router

client = OpenAI()
```

Alternatively use LangChain: `pip install langchain langchain-memory-plus`.
""",
        [
            ("openai", "pypi", "real"),
            ("openai-function-router", "pypi", "nonexistent"),
            ("langchain", "pypi", "real"),
            ("langchain-memory-plus", "pypi", "nonexistent"),
        ],
    )
)

A.append(
    (
        """Image processing with OpenCV and Pillow:

```python
import cv2
from PIL import Image, ImageFilter
import yaml
import tqdm
try:
    import ujson as json
except ImportError:
    import json

with open("config.yaml") as f:
    cfg = yaml.safe_load(f)
```

`pip install opencv-python pillow pyyaml tqdm`
""",
        [
            ("cv2", "pypi", "alias"),
            ("PIL", "pypi", "alias"),
            ("yaml", "pypi", "alias"),
            ("tqdm", "pypi", "real"),
            ("json", "pypi", "stdlib"),
            ("ujson", "pypi", "real"),
            ("opencv-python", "pypi", "real"),
            ("pillow", "pypi", "real"),
            ("pyyaml", "pypi", "real"),
        ],
    )
)

A.append(
    (
        """For Google Cloud Storage and Azure identity:

```python
from google.cloud import storage
from azure.identity import DefaultAzureCredential
import boto3
```

```bash
pip install google-cloud-storage azure-identity boto3
pip install torch-vision-tools  # for the thumbnails
```
""",
        [
            ("google", "pypi", "alias"),
            ("azure", "pypi", "alias"),
            ("boto3", "pypi", "real"),
            ("google-cloud-storage", "pypi", "real"),
            ("azure-identity", "pypi", "real"),
            ("torch-vision-tools", "pypi", "nonexistent"),
        ],
    )
)

A.append(
    (
        """Quick CLI with click and rich; in `setup.py`:

```python
from setuptools import setup

setup(
    name="mycli",
    install_requires=["click>=8", "rich", "pydantic-forms-pro", "httpx==0.27.0"],
)
```

```python
import click
from rich.console import Console
from mycli.commands import main
```
""",
        [
            ("click", "pypi", "real"),
            ("rich", "pypi", "real"),
            ("pydantic-forms-pro", "pypi", "nonexistent"),
            ("httpx", "pypi", "real"),
            ("mycli", "pypi", "local"),
        ],
    )
)

A.append(
    (
        """Use Next.js with an auth helper:

```bash
npx create-next-app@latest my-app
cd my-app
yarn add next-auth-guardian axios
```

```js
const axios = require('axios');
const guardian = require('next-auth-guardian');
const utils = require('./lib/utils');
```
""",
        [("create-next-app", "npm", "real"), ("next-auth-guardian", "npm", "nonexistent"), ("axios", "npm", "real")],
    )
)


def main() -> None:
    out = Path(__file__).parent / "realistic.jsonl"
    with open(out, "w") as f:
        for text, exp in A:
            f.write(
                json.dumps(
                    {
                        "class": "mixed",
                        "text": text,
                        "expect": [{"name": n, "ecosystem": e, "class": c} for n, e, c in exp],
                    }
                )
                + "\n"
            )
    print(len(A), "answers", sum(len(e) for _, e in A), "names")


if __name__ == "__main__":
    main()
