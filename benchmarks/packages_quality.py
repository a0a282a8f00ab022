"""Precision and recall of the packages validator per class, on the development corpus.

    python benchmarks/packages_quality.py [--corpus tests/data/packages/corpus.jsonl] [--blank-summaries]

Runs offline against the loopback fake registry (recorded + synthesised answers). Classes:
  nonexistent, placeholder      should be flagged (a finding whose code is in fail_on)
  real, alias, stdlib, local    should get no finding at all (any finding counts as a false positive)
--blank-summaries empties every summary/description the fake registry serves, to see how much of the
placeholder recall rests on wording alone (the rest comes from structure: one release, no files…).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from llmvet.resources import Resources  # noqa: E402
from llmvet.store import open_store  # noqa: E402
from llmvet.validators.base import Context  # noqa: E402
from llmvet.validators.packages import PackagesValidator  # noqa: E402
from tests.support.fake_registry import FakeRegistry  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402

FLAG_CLASSES = {"nonexistent", "placeholder"}


def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


async def evaluate(items: list[dict], url: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        res = Resources(await open_store(f"sqlite:///{d}/c.db"))
        v = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        fail_on = set(v.config.fail_on)
        stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        misses: dict[str, list[str]] = defaultdict(list)
        codes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for it in items:
            text = it["text"]
            verdict = await v.check(Context(text=text, resources=res))
            per_name: dict[str, list] = defaultdict(list)
            for f in verdict.findings:
                per_name[norm(f.evidence.get("name") or text[f.span[0] : f.span[1]])].append(f)
            for exp in it["expect"]:
                cls = exp.get("class", it["class"])
                fs = per_name.get(norm(exp["name"]), [])
                failing = [f for f in fs if f.code in fail_on]
                s = stats[cls]
                s["n"] += 1
                s["flagged"] += bool(failing)
                s["any_finding"] += bool(fs)
                for f in fs:
                    codes[cls][f.code] += 1
                wrong = (cls in FLAG_CLASSES and not failing) or (cls not in FLAG_CLASSES and fs)
                if wrong:
                    misses[cls].append(f"{exp['name']}: {[f.code for f in fs]}")
        await res.close()
    return {"stats": stats, "misses": misses, "codes": codes}


def report(out: dict) -> None:
    stats = out["stats"]
    tp = sum(stats[c]["flagged"] for c in FLAG_CLASSES if c in stats)
    fp = sum(stats[c]["flagged"] for c in stats if c not in FLAG_CLASSES)
    print(f"{'class':<12} {'names':>6} {'flagged':>8} {'rate':>7}  {'any finding':>11}")
    for cls in ("nonexistent", "placeholder", "real", "alias", "stdlib", "local"):
        s = stats.get(cls)
        if not s:
            continue
        print(
            f"{cls:<12} {s['n']:>6} {s['flagged']:>8} {s['flagged'] / s['n']:>7.3f}  {s['any_finding'] / s['n']:>11.3f}"
        )
    neg = sum(stats[c]["n"] for c in stats if c not in FLAG_CLASSES)
    neg_any = sum(stats[c]["any_finding"] for c in stats if c not in FLAG_CLASSES)
    print(f"\nrecall nonexistent = {stats['nonexistent']['flagged'] / stats['nonexistent']['n']:.3f}")
    print(f"recall placeholder = {stats['placeholder']['flagged'] / stats['placeholder']['n']:.3f}")
    print(f"precision (flagged names that should be) = {tp / max(1, tp + fp):.3f}")
    print(f"false-positive rate (real+alias+stdlib+local, any finding) = {neg_any / max(1, neg):.3f} ({neg_any}/{neg})")
    print("\nfinding codes per class:", json.dumps({k: dict(v) for k, v in out["codes"].items()}, sort_keys=True))
    for cls, ms in out["misses"].items():
        print(f"\n{cls} errors ({len(ms)}):")
        for m in ms[:15]:
            print("  ", m)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--corpus",
        nargs="+",
        default=[str(ROOT / "tests/data/packages/corpus.jsonl"), str(ROOT / "tests/data/packages/realistic.jsonl")],
    )
    ap.add_argument("--blank-summaries", action="store_true")
    a = ap.parse_args()
    items = [json.loads(line) for c in a.corpus for line in Path(c).read_text().splitlines() if line.strip()]
    reg = FakeRegistry()
    if a.blank_summaries:
        for rec in reg.records["pypi"].values():
            rec["info"]["summary"] = ""
            rec["info"]["description"] = ""
        for rec in reg.records["npm"].values():
            rec["description"] = ""
            rec["readme"] = ""
    with ThreadedServer(reg.app) as srv:
        out = asyncio.run(evaluate(items, srv.url))
    report(out)


if __name__ == "__main__":
    main()
