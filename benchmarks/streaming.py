"""Streaming latency: the upstream directly against llmvet, in one run.

    python benchmarks/streaming.py [--chunks 200] [--delay 0.02] [--runs 3] [--cpu-answers 20]
        [--before-src DIR]

A loopback upstream streams a prose answer in `--chunks` events `--delay` seconds apart. For each
target the script prints the medians over `--runs` of: time to the first byte, to the first token,
the whole stream, the p99 of the gaps between chunks, and llmvet's CPU per streamed answer; then
llmvet's figures minus (or over) the direct ones from the same run. Targets: the bundled default
policy (stream mode auto: incremental), the same policy with `stream.mode: buffer`, the
coding-assistant policy (auto picks buffer there: its rule re-asks) and the same policy made
incremental (its re-ask replaced by a block, which is what a released stream can still do), and
the default policy with `stream.mode: passthrough` (forwards only, vets afterwards: the floor).

--bare adds the floor of the stack itself: a bare Starlette + aiohttp relay (benchmarks/bare.py) on
the same uvicorn, sending each upstream read as it comes, against the same relay reading the answer
whole and sending it at once. Its ratio is what writing an event at a time costs before any parsing
or checking: an incremental stream cannot be cheaper than that, relative to its buffered answer.

--before-src DIR also runs the two incremental targets and the default policy's buffer and passthrough
targets from another source tree (e.g. an export of main's src/), so a change is measured against what
it replaces in the same run; each tree's CPU ratio is against its own buffered answer.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from benchmarks.overhead import cpu_seconds, llmvet_cmd, serve, stop_all, uvicorn_cmd  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, Reply  # noqa: E402
from tests.support.servers import ThreadedServer, free_port  # noqa: E402

BODY = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Tell me about rivers."}]}

# Prose as models stream it: about a word an event, the space in front.
WORDS = [
    "the",
    "river",
    "runs",
    "north",
    "past",
    "old",
    "mills",
    "and",
    "quiet",
    "farms",
    "before",
    "it",
    "meets",
    "the",
    "sea",
    "at",
    "dusk",
]


def prose_events(chunks: int) -> list[Any]:
    """A chat stream of `chunks` word events, between a role event and a stop event, then [DONE]."""
    pieces = [("" if i == 0 else " ") + WORDS[i % len(WORDS)] for i in range(chunks)]
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench"}
    events: list[Any] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    ]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    events += [{**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]"]
    return events


def measure(url: str) -> dict[str, float]:
    started = time.perf_counter()
    first_byte = first_token = 0.0
    stamps: list[float] = []
    with httpx.stream("POST", url + "/v1/chat/completions", json=BODY, timeout=120) as r:
        for chunk in r.iter_raw():
            now = time.perf_counter() - started
            first_byte = first_byte or now
            if not first_token and b'"content":"the' in chunk:
                first_token = now
            stamps.append(now)
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps)) or [0.0]
    return {
        "first_byte": first_byte * 1000,
        "first_token": (first_token or first_byte) * 1000,
        "total": stamps[-1] * 1000,
        "gap_p99": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] * 1000,
    }


def policy_files(tmp: Path) -> dict[str, Path]:
    default = ROOT / "policies" / "default.yaml"
    buffered = tmp / "default-buffer.yaml"
    text = default.read_text()
    buffered.write_text(text.replace("    on_fail: annotate", "    stream: {mode: buffer}\n    on_fail: annotate", 1))
    coding = ROOT / "policies" / "coding-assistant.yaml"
    coding_incremental = tmp / "coding-incremental.yaml"  # what incremental can honour: block, not re-ask
    coding_incremental.write_text(
        coding.read_text().replace("    on_fail: reask", "    stream: {mode: incremental}\n    on_fail: block", 1)
    )
    passthrough = tmp / "default-passthrough.yaml"
    passthrough.write_text(
        text.replace("    on_fail: annotate", "    stream: {mode: passthrough}\n    on_fail: annotate", 1)
    )
    return {
        "llmvet default (incremental)": default,
        "llmvet default, stream.mode buffer": buffered,
        "llmvet default, stream.mode passthrough": passthrough,
        "llmvet coding-assistant (auto: buffer)": coding,
        "llmvet coding-assistant, incremental+block": coding_incremental,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.02)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu-answers", type=int, default=20, help="answers per target for the CPU figure")
    ap.add_argument("--cpu-delay", type=float, default=0.002)
    ap.add_argument("--before-src", help="also run the incremental targets from this source tree (its src/ folder)")
    ap.add_argument("--bare", action="store_true", help="also run a bare relay, read by read and buffered")
    args = ap.parse_args()
    events = prose_events(args.chunks)
    fake = FakeUpstream()
    fake.reset(lambda b: Reply(events=events, chunk_delay=args.delay))
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-stream-bench-"))
    procs = []
    with ThreadedServer(fake.app()) as upstream:
        targets = {"upstream (direct)": (upstream.url, None)}
        runs = [(name, policy, None) for name, policy in policy_files(tmp).items()]
        if args.before_src:
            before = os.pathsep.join([str(Path(args.before_src).resolve()), os.environ.get("PYTHONPATH", "")])
            runs += [(f"before: {n[len('llmvet ') :]}", p, before) for n, p, _ in runs if _compared(n)]
        for name, policy, pythonpath in runs:
            port = free_port()
            cmd = llmvet_cmd(upstream.url + "/v1", port, policy, f"sqlite:///{tmp / (str(port) + '.db')}")
            env = {"LLMVET_LOG_LEVEL": "warning", **({"PYTHONPATH": pythonpath} if pythonpath else {})}
            procs.append(serve(cmd, port, tmp / "servers.log", env))
            targets[name] = (f"http://127.0.0.1:{port}", procs[-1].pid)
        for name, app in [("bare relay, read by read", "relay"), ("bare relay, buffered", "buffer")] * args.bare:
            port = free_port()
            bare_env = {"BENCH_UPSTREAM": upstream.url + "/v1"}
            procs.append(serve(uvicorn_cmd(f"bare:stream_{app}_app", port), port, tmp / "servers.log", bare_env))
            targets[name] = (f"http://127.0.0.1:{port}", procs[-1].pid)
        try:
            results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.runs):  # alternate targets so load drifts hit all alike
                for name, (url, _pid) in targets.items():
                    results[name].append(measure(url))
            # CPU: the process clock ticks in 10 ms steps, so count it over many answers, events
            # `--cpu-delay` apart (still one event per read, as at the upstream's pace)
            fake.reset(lambda b: Reply(events=events, chunk_delay=args.cpu_delay))
            for _ in range(2):
                for name, (url, pid) in targets.items():
                    cpu = cpu_seconds(pid) if pid else 0.0
                    for _ in range(args.cpu_answers):
                        measure(url)
                    per_answer = (cpu_seconds(pid) - cpu) * 1000 / args.cpu_answers if pid else 0.0
                    for row in results[name]:
                        row["cpu_ms"] = row.get("cpu_ms", 0.0) + per_answer / 2
        finally:
            stop_all(procs, tmp)
    med = {n: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for n, rows in results.items()}
    print(f"{args.chunks} chunks x {args.delay * 1000:.0f} ms, medians of {args.runs} alternating runs\n")
    for name, m in med.items():
        print(
            f"{name:46} first byte {m['first_byte']:8.1f} ms  first token {m['first_token']:8.1f} ms  "
            f"whole {m['total']:8.1f} ms  gap p99 {m['gap_p99']:6.1f} ms  cpu {m['cpu_ms']:6.1f} ms"
        )
    direct = med["upstream (direct)"]
    print()
    for name, m in med.items():
        if name == "upstream (direct)":
            continue
        if name.startswith("bare "):
            buffered = med["bare relay, buffered"]
        else:  # the same policy's answer, buffered, from the same tree
            tree = "before: " if name.startswith("before: ") else "llmvet "
            own = "coding-assistant (auto: buffer)" if "coding-assistant" in name else "default, stream.mode buffer"
            buffered = med[tree + own]
        print(
            f"{name:46} first token +{m['first_token'] - direct['first_token']:.1f} ms, "
            f"gap p99 +{m['gap_p99'] - direct['gap_p99']:.1f} ms, "
            f"cpu {m['cpu_ms'] / buffered['cpu_ms']:.2f}x the buffered answer's (same tree)"
        )
    return 0


def _compared(name: str) -> bool:
    """The targets --before-src runs from the other tree too: the incremental ones, each policy's
    buffered answer (the baseline of its CPU ratio) and the default passthrough (the forwarding floor)."""
    return "incremental" in name or name.startswith("llmvet default") or "auto: buffer" in name


if __name__ == "__main__":
    raise SystemExit(main())
