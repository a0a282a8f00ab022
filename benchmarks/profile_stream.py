"""Where a streamed answer's CPU goes: per-event cost of each stream mode, and cProfile of one.

    python benchmarks/profile_stream.py [--events 2000] [--answers 5] [--delay 0.0005] [--profile incremental]
        [--top 30]

The app runs in this process, called directly as ASGI (no HTTP client in the figures); the upstream is
the loopback fake of the tests in a thread, streaming a word an event, `--delay` seconds apart (so the
proxy reads about one event at a time, as at a model's pace). CPU is this thread's own clock, so the
upstream's thread does not count. Prints microseconds of CPU per event for the default policy in each
stream mode, then, with --profile MODE, the top functions by cumulative time per event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import orjson  # noqa: E402
from profile_request import call, shorten  # noqa: E402
from streaming import prose_events  # noqa: E402

from llmvet.config import Settings  # noqa: E402
from llmvet.policy.loader import parse_policy  # noqa: E402
from llmvet.proxy.app import create_app  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, Reply  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402

MODES = ("incremental", "buffer", "passthrough")
BODY = orjson.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Rivers?"}]})


def policy(mode: str) -> str:
    text = (ROOT / "policies" / "default.yaml").read_text()
    return text.replace("    on_fail: annotate", f"    stream: {{mode: {mode}}}\n    on_fail: annotate", 1)


async def per_event(upstream: str, args: argparse.Namespace) -> tuple[dict[str, list[float]], cProfile.Profile | None]:
    """CPU per event of each mode, answers alternating between the modes so load drifts hit all alike."""
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        apps = {}
        for mode in MODES:
            settings = Settings(upstream=upstream, store=f"sqlite:///{tmp}/{mode}.db")
            apps[mode] = app = create_app(settings, parse_policy(policy(mode), f"{mode}.yaml"))
            await stack.enter_async_context(app.router.lifespan_context(app))
            if args.split:
                split_reads(app.state.proxy.upstream)
            _, out = await call(app, BODY)
            assert out.rstrip().endswith(b"[DONE]"), out[-300:]
        rounds: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.answers):
            for mode, app in apps.items():
                t0 = time.thread_time()
                await call(app, BODY)
                rounds[mode].append((time.thread_time() - t0) / args.events * 1e6)
        prof = None
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            await call(apps[args.profile], BODY)
            prof.disable()
    return rounds, prof


def split_reads(upstream: Any) -> None:
    """Hand the proxy one event per read, as a model's pace does, however the loopback coalesced them."""
    whole = upstream.iter_chunks

    async def one_event_each(resp: Any) -> AsyncIterator[bytes]:
        rest = b""
        async for chunk in whole(resp):
            *events, rest = (rest + chunk).split(b"\n\n")
            for event in events:
                yield event + b"\n\n"
        if rest:
            yield rest

    upstream.iter_chunks = one_event_each


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--answers", type=int, default=5)
    ap.add_argument("--delay", type=float, default=0.0005)
    ap.add_argument("--profile", choices=MODES)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--own", action="store_true", help="rank functions by their own time, not cumulative")
    ap.add_argument("--split", action="store_true", help="one event per read (the proxy's own per-event work)")
    args = ap.parse_args()
    fake = FakeUpstream()
    fake.reset(lambda b: Reply(events=prose_events(args.events), chunk_delay=args.delay))
    with ThreadedServer(fake.app()) as up:
        rounds, prof = asyncio.run(per_event(up.url + "/v1", args))
    for mode, times in rounds.items():
        print(
            f"{mode:12} {statistics.median(times):7.1f} us CPU/event (median of {args.answers}; min {min(times):.1f})"
        )
    if prof is not None:
        rows = []
        for (path, line, func), (_, calls, own, cum, _) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
            rows.append((own if args.own else cum, calls, f"{shorten(path)}:{line}({func})" if line else func))
        rows.sort(reverse=True)
        kind = "own time" if args.own else "cumulative"
        print(f"cProfile of one {args.profile} answer:\n   us/event  calls/event  function ({kind})")
        for cum, calls, where in rows[: args.top]:
            print(f"   {cum / args.events * 1e6:8.1f}  {calls / args.events:10.2f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
