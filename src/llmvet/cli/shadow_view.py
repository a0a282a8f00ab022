"""The shadow diff in the terminal: `llmvet report --shadow`, `llmvet audit shadow`, `llmvet policy replay`.

The diff itself (per rule and finding code, where the candidate would decide differently) is
`llmvet.observe.shadow_diff`; the dashboard shows the same one.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from llmvet.cli.common import out
from llmvet.observe.shadow_diff import ShadowDiff


def table(diff: ShadowDiff, what: str = "shadow") -> Table:
    """A rich table of the changes, titled with the totals."""
    d = diff.to_dict()
    title = (
        f"{what} {', '.join(d['candidates']) or '(none)'}: {d['differ']} of {d['compared']} "
        f"answers decided differently ({d['rate']:.1%})"
    )
    t = Table(title=escape(title))
    for col in ("rule", "finding code", "candidate", "enforced → candidate", "count", "rate of rule", "examples"):
        t.add_column(col)
    for c in d["changes"]:
        # Rule names and finding codes come from policies and plug-ins: never read them as rich markup.
        cells = (
            c["rule"],
            c["code"],
            c["change"],
            f"{c['enforced']} → {c['shadow']}",
            str(c["count"]),
            f"{c['rate']:.1%}",
            " ".join(c["examples"]),
        )
        t.add_row(*(escape(x) for x in cells))
    return t


def show(diff: ShadowDiff, as_json: bool, what: str = "shadow") -> None:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(diff.to_dict()) + b"\n")
        sys.stdout.flush()
    else:
        out.print(table(diff, what))


def read(store_url: str, since: float) -> Any:
    """The shadow diff of the store's audit since `since` (raises what the store raises)."""
    import asyncio

    from llmvet.observe.shadow_diff import read_diff
    from llmvet.store import open_store

    async def go() -> ShadowDiff:
        store = await open_store(store_url)
        try:
            return await read_diff(store, since)
        finally:
            await store.close()

    return asyncio.run(go())
