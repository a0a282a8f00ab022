"""Instructions per KB of the packages validator's read-once pass, counted by valgrind, tree against tree.

    python benchmarks/packages_instructions.py [--passes 3] SRC [SRC ...]
    python benchmarks/packages_instructions.py /work/main/src "$PWD/src"

On a shared two-core machine CPU time moves by several per cent from run to run with the others' load,
so a change worth 1-3 % cannot be told from noise (tried: same-tree runs differed by 5 %). The number of
instructions a pass executes does not move: each SRC is run under `valgrind --tool=cachegrind
--cache-sim=no` (hash seed fixed), once with no timed pass and once with `--passes` passes, and the
difference, per pass and per KB of answer, is printed with its ratio to the first SRC. A pass is what
`packages_overhead.py --read-once-only` times: every distinct text checked once, registry cache warm,
text memos forgotten, each text a new string (the same harness, so the counts compare). Instructions
are not time (cache misses and branch mispredictions are not counted): confirm a gain with the timed
benchmark when the machine is quiet; use this one to tell a real 1 % from noise, and for its ratio.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


async def passes(srv: Any, n: int) -> float:
    """Warm a validator on every text, stop the registry (its thread's ticks would be counted: they grow
    with the wall time valgrind takes), then `n` read-once passes; the KB a pass reads."""
    from packages_overhead import forget_text_memos, read_once_texts

    from llmvet.resources import Resources
    from llmvet.store import open_store
    from llmvet.validators.base import Context
    from llmvet.validators.packages import PackagesValidator

    texts = read_once_texts()
    url = srv.url
    with tempfile.TemporaryDirectory() as d:
        res = Resources(await open_store(f"sqlite:///{d}/c.db"))
        v = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        for text in texts:  # every name looked up (and memoised per name)
            await v.check(Context(text=text, resources=res))
        srv.__exit__(None, None, None)
        for r in range(n):
            forget_text_memos(v)
            for text in [f"{t}\n\nNote {r}." for t in texts]:  # new strings, as a serving process gets
                await v.check(Context(text=text, resources=res))
        await res.close()
    return sum(len(f"{t}\n\nNote 0.".encode()) for t in texts) / 1000


def inner(n: int) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # tests.support, packages_overhead
    from tests.support.fake_registry import FakeRegistry
    from tests.support.servers import ThreadedServer

    srv = ThreadedServer(FakeRegistry().app).__enter__()
    kb = asyncio.run(passes(srv, n))
    print(f"KB {kb:.3f}")


def main() -> None:
    from cachegrind import pass_arguments

    a = pass_arguments(3)
    if a.inner is not None:
        inner(a.inner)
        return
    base = None
    print(f"read-once passes of the packages validator, instructions counted by cachegrind, {a.passes} passes")
    from cachegrind import pass_line, per_pass

    for src in a.src:
        per, kb = per_pass(__file__, src, a.passes)
        base = per if base is None else base
        print(pass_line(src, per, kb, base))


if __name__ == "__main__":
    main()
