"""The report's summary from the shared buckets (SQLite and Redis), and `llmvet report` on bad input."""

from __future__ import annotations

import datetime as dt
import random
import time

from llmvet.observe import rollup
from llmvet.observe.drift import ALERTS_STREAM, DriftConfig
from llmvet.observe.report import summarize
from tests.observe.test_drift import BEFORE, record


async def test_summary_per_model(store):
    now = time.time()
    rng = random.Random(5)
    a, b = rollup.Rollup(store, replica="a"), rollup.Rollup(store, replica="b")
    sent = {"gpt-x": 0, "llama": 0}
    for i in range(400):
        model = "gpt-x" if i % 4 else "llama"
        sent[model] += 1
        (a if i % 2 else b).add(record(rng, BEFORE, now - 3600 * 20 + i * 150, model=model))
    a.add(record(rng, BEFORE, now - 3600 * 30, model="old"))  # outside the last day
    await a.flush(now)
    await b.flush(now)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    await store.incr("budget", f"0123456789ab:{day}", 1200, ttl=3600)  # the consistency validator's counter
    await store.incr("budget", f"anon:{day}", 5000, ttl=3600)
    await store.append(
        ALERTS_STREAM,
        [
            {"type": "drift_alert", "ts": now - 90_000, "model": "gpt-x"},
            {
                "type": "drift_alert",
                "ts": now - 60,
                "model": "gpt-x",
                "rule": "default",
                "dimension": "finding",
                "psi": 0.3,
                "p_value": 1e-9,
                "moved": {},
            },
        ],
    )

    s = await summarize(store, now=now, cfg=DriftConfig(), budget_limit=5000)
    assert [m["model"] for m in s["models"]] == ["gpt-x", "llama"]  # most traffic first; "old" is too old
    gx = s["models"][0]
    assert gx["requests"] == sent["gpt-x"] and gx["rules"] == {"default": sent["gpt-x"]}
    assert sum(n for _, n in gx["actions"]) == sent["gpt-x"]
    assert gx["actions"][0][0] == "allow"
    assert {code for code, _ in gx["findings"]} <= {
        "uncertainty.statement_missing",
        "package.missing",
        "uncertainty.refusal",
    }
    refusals = dict(gx["findings"]).get("uncertainty.refusal", 0)
    assert gx["refusals"] == ([["policy", refusals]] if refusals else [])
    assert sum(gx["lengths"].values()) == sent["gpt-x"]
    assert list(gx["lengths"]) == sorted(gx["lengths"], key=lambda r: int(r.split("-")[0].rstrip("+")))
    assert sum(bar["n"] for bar in gx["series"]) == sent["gpt-x"] and len(gx["series"]) <= 49
    assert gx["avg_ms"] == {"total": 10.0, "upstream": 9.0, "validate": 1.0}
    assert [a["ts"] for a in s["alerts"]] == [now - 60] and gx["alerts"] == s["alerts"]
    assert gx["drift"]["default"]["decision"]["n_baseline"] > 0  # traffic stopped 3 h ago: none current
    assert s["budgets"] == [
        {"key": "anon", "day": day, "used": 5000, "limit": 5000, "exhausted": True, "share": 1.0},
        {"key": "0123456789ab", "day": day, "used": 1200, "limit": 5000, "exhausted": False, "share": 0.24},
    ]

    only = await summarize(store, now=now, model="llama", hours=6)
    assert [m["model"] for m in only["models"]] == ["llama"]
    assert only["models"][0]["requests"] < sent["llama"]  # 6 h of the 16.7 h of traffic


def test_report_command_says_what_is_wrong(capsys):
    from llmvet.cli import main

    assert main(["report", "--store", "redis://127.0.0.1:1/0"]) == 2
    assert "cannot read the store redis://127.0.0.1:1/0" in capsys.readouterr().err
    assert main(["report", "--hours", "0"]) == 2
    assert "--hours must be positive" in capsys.readouterr().err


def test_report_prints_names_from_clients_literally(tmp_path, capsys):
    """Model names come from clients: rich markup in one must neither crash the report nor style it."""
    import asyncio

    from llmvet.cli import main
    from llmvet.store import open_store

    url = f"sqlite:///{tmp_path / 'r.db'}"
    now = time.time()

    async def fill() -> None:
        store = await open_store(url)
        r = rollup.Rollup(store, replica="a")
        for model in ("m[/x]", "[red]m2[/red]"):
            r.add(record(random.Random(1), BEFORE, now - 60, model=model))
        await r.flush(now)
        await store.close()

    asyncio.run(fill())
    assert main(["report", "--store", url]) == 0
    printed = capsys.readouterr().out
    assert "m[/x]" in printed and "[red]m2[/red]" in printed


def test_dashboard_bar_labels_are_cut_before_escaping():
    """A long label is shortened, then escaped: cutting escaped text can split an entity ("&l")."""
    from llmvet.observe.dashboard import hbars

    svg = str(hbars([["<b>code</b>&more-" + "x" * 30, 3]]))
    label = svg.split('class="label">')[1].split("</text>")[0]
    assert label == "&lt;b&gt;code&lt;/b&gt;&amp;more-xxxxxxx"
