"""Record (trimmed) live registry answers for the fake registry used by the offline tests.

Run by hand; it asks the public registries about the names given (a few dozen at most):
    python tests/data/packages/record.py pypi requests numpy ...
    python tests/data/packages/record.py npm express @types/node ...
Missing names are not recorded: the fake registry answers 404 for anything it has no file for.
Trimming keeps what the validator reads (summary, description head, URLs, versions, upload times)
so the files stay small; one file per release is kept.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from packaging.utils import canonicalize_name

HERE = Path(__file__).parent / "registry"


def trim_pypi(d: dict) -> dict:
    info = d["info"]
    keep = {k: info.get(k) for k in ("name", "summary", "version", "project_urls", "home_page", "download_url")}
    keep["description"] = (info.get("description") or "")[:1500]
    releases = {}
    for v, files in (d.get("releases") or {}).items():
        releases[v] = [
            {
                "upload_time_iso_8601": f.get("upload_time_iso_8601"),
                "yanked": f.get("yanked", False),
                "filename": f.get("filename"),
            }
            for f in files[:1]
        ]
    return {"info": keep, "releases": releases}


def trim_npm(d: dict) -> dict:
    versions = {}
    for v, doc in (d.get("versions") or {}).items():
        versions[v] = {k: doc[k] for k in ("deprecated",) if k in doc}
    return {
        "name": d.get("name"),
        "description": d.get("description"),
        "dist-tags": d.get("dist-tags"),
        "time": d.get("time"),
        "versions": versions,
        "homepage": d.get("homepage"),
        "repository": d.get("repository"),
        "readme": (d.get("readme") or "")[:1500],
    }


def fetch(url: str) -> dict | None:
    req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "llmvet-recorder"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def main() -> None:
    eco, names = sys.argv[1], sys.argv[2:]
    for name in names:
        if eco == "pypi":
            d = fetch(f"https://pypi.org/pypi/{canonicalize_name(name)}/json")
            path = HERE / "pypi" / f"{canonicalize_name(name)}.json"
            data = trim_pypi(d) if d else None
        else:
            d = fetch("https://registry.npmjs.org/" + name.replace("/", "%2F"))
            path = HERE / "npm" / (name.replace("/", "__") + ".json")
            data = trim_npm(d) if d else None
        if data is None:
            print(f"{eco} {name}: missing")
            continue
        path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))
        print(f"{eco} {name}: {path.stat().st_size} bytes")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
