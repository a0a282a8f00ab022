"""Cost of assembling a streamed chat answer from its events (`ChatWire.stream_parts`), by length.

    python benchmarks/stream_assembly.py [--sizes 2000 20000 60000]

Prints milliseconds per answer and per 1,000 events for each length: a flat per-1,000 figure means
the assembly is linear in the stream's length (adding each delta to a growing string was not).
"""

from __future__ import annotations

import argparse
import time

from llmvet.proxy.sse import Event
from llmvet.proxy.wires.chat import ChatWire


def events(n: int) -> list[Event]:
    text = [Event(b"", None, {"choices": [{"index": 0, "delta": {"content": "word "}}]}) for _ in range(n)]
    call = {"index": 0, "function": {"arguments": '{"a":1}'}}
    calls = [Event(b"", None, {"choices": [{"index": 1, "delta": {"tool_calls": [call]}}]}) for _ in range(n // 4)]
    return text + calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 60000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    wire = ChatWire()
    print(f"{'events':>8} {'ms/answer':>10} {'ms/1k events':>13}")
    for n in args.sizes:
        evs = events(n)
        best = float("inf")
        for _ in range(args.rounds):
            start = time.perf_counter()
            wire.stream_parts(evs)
            best = min(best, time.perf_counter() - start)
        print(f"{len(evs):>8} {best * 1000:>10.1f} {best * 1e6 / len(evs):>13.2f}")


if __name__ == "__main__":
    main()
