"""Rebuild the shipped data files under src/llmvet/data/packages/ (run by hand; offline).

Inputs (see src/llmvet/data/packages/README.md for provenance and licences):
  --pypi-tsv   a PyPI name list with a `rank_among_15000_most_downloaded` column
  --npm-tsv    an npm name list with a `downloads_a_month` column
  --pipreqs    the `mapping` file from the pipreqs wheel (Apache-2.0)
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

OUT = Path(__file__).resolve().parents[3] / "src" / "llmvet" / "data" / "packages"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pypi-tsv", required=True)
    ap.add_argument("--npm-tsv", required=True)
    ap.add_argument("--pipreqs", required=True)
    ap.add_argument("--top", type=int, default=10000)
    a = ap.parse_args()
    csv.field_size_limit(sys.maxsize)

    ranked = []
    with open(a.pypi_tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            r = row.get("rank_among_15000_most_downloaded") or ""
            if r.isdigit():
                ranked.append((int(r), canonicalize_name(row["name"])))
    ranked.sort()
    (OUT / "popular-pypi.txt").write_text("\n".join(n for _, n in ranked[: a.top]) + "\n")

    npm = []
    with open(a.npm_tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            d = row.get("downloads_a_month") or ""
            if d.isdigit():
                npm.append((-int(d), row["name"]))
    npm.sort()
    (OUT / "popular-npm.txt").write_text("\n".join(n for _, n in npm[: a.top]) + "\n")

    lines = []
    for line in Path(a.pipreqs).read_text().splitlines():
        mod, _, dist = line.strip().partition(":")
        if mod and dist:
            lines.append(f"{mod}:{dist}")
    (OUT / "import-map-pipreqs.txt").write_text("\n".join(sorted(set(lines))) + "\n")

    builtins = subprocess.run(
        ["node", "-e", "console.log(require('module').builtinModules.join('\\n'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (OUT / "node-builtins.txt").write_text(builtins)


if __name__ == "__main__":
    main()
