"""Dump everything the uncertainty and packages validators find on the test corpora, to compare two trees.

    PYTHONPATH=/tmp/before/src python benchmarks/dump_findings.py /tmp/before.jsonl
    PYTHONPATH=$PWD/src        python benchmarks/dump_findings.py /tmp/after.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl   # a speed change must leave the files byte-identical

Texts: every answer of tests/data/uncertainty/*.jsonl (with its prompt) and tests/data/packages/*.jsonl,
the realistic answers of benchmarks/answers.py and packages_overhead.py, answers joined five at a time
(long, mixed prose and code), and non-ASCII variants (curly apostrophes, no-break spaces, accented
letters: the paths that ASCII-only fast paths must not skip). Per text, one line per validator: uncertainty's whole
`Analysis` (every hit, span, level and candidate) and its verdict; packages' extracted references
(every field) and its verdict against the loopback fake registry (findings in their audit form, meta
without the timing). Labels are never read.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # tests.support, answers

from answers import ANSWERS  # noqa: E402

from llmvet.resources import Resources  # noqa: E402
from llmvet.store import open_store  # noqa: E402
from llmvet.validators.base import Context, Verdict  # noqa: E402
from llmvet.validators.packages import PackagesValidator  # noqa: E402
from llmvet.validators.packages.extract import extract  # noqa: E402
from llmvet.validators.uncertainty import UncertaintyValidator  # noqa: E402
from tests.support.fake_registry import FakeRegistry  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402


def corpus() -> list[tuple[str, str, str]]:
    """(id, prompt, text) of every text the dump covers."""
    out: list[tuple[str, str, str]] = []
    for folder in ("uncertainty", "packages"):
        for path in sorted((ROOT / "tests" / "data" / folder).glob("*.jsonl")):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    if isinstance(rec.get("text"), str):
                        out.append((f"{path.stem}:{i}", rec.get("prompt") or "", rec["text"]))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from packages_overhead import TYPICAL

    out += [(f"answers:{k}", "", v) for k, v in ANSWERS.items()] + [("typical", "", TYPICAL)]
    base = list(out)
    out += [(f"joined:{i}", "", "\n\n".join(t for _, _, t in base[i : i + 5])) for i in range(0, len(base) - 5, 25)]
    out += [
        (f"{i}:non-ascii", p, t.replace("'", "\u2019").replace(", ", ",\u00a0").replace("e", "\u00e9", 1))
        for i, p, t in base[::7]
    ]
    return out


def plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted(plain(v) for v in obj)
    return obj


def verdict_dict(v: Verdict) -> dict[str, Any]:
    meta = {k: v for k, v in v.meta.items() if k != "ms"}
    return {
        "status": v.status.value,
        "risk": v.risk,
        "findings": [f.to_dict(audit=True) for f in v.findings],
        "meta": plain(meta),
        "error": v.error,
    }


async def dump(out_path: Path) -> int:
    texts = corpus()
    unc = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    fake = FakeRegistry()
    with ThreadedServer(fake.app) as srv, tempfile.TemporaryDirectory() as d, out_path.open("w") as out:
        res = Resources(await open_store(f"sqlite:///{d}/c.db"))
        url = srv.url
        pkg = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        try:
            for tid, prompt, text in texts:
                request = {"messages": [{"role": "user", "content": prompt}]}
                analysis = unc.analyse(text, prompt)
                verdict = await unc.check(Context(text=text, request=request))
                row = {"id": tid, "analysis": plain(analysis), "verdict": verdict_dict(verdict)}
                out.write(json.dumps({"uncertainty": row}, sort_keys=True) + "\n")
                ctx = Context(text=text, request=request, resources=res)
                refs = extract(text, ctx.code_blocks)
                verdict = await pkg.check(ctx)
                row = {"id": tid, "extraction": plain(refs), "verdict": verdict_dict(verdict)}
                line = json.dumps({"packages": row}, sort_keys=True)
                out.write(line.replace(url, "http://registry") + "\n")  # the port differs between runs
        finally:
            await res.close()
    return len(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    import llmvet

    n = asyncio.run(dump(args.out))
    print(f"{n} texts dumped to {args.out} (llmvet from {Path(llmvet.__file__).parent})")


if __name__ == "__main__":
    main()
