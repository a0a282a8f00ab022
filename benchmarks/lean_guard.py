"""A lower bound for any guard on this stack: the least a proxy that vets and audits each answer does.

Served like the baselines of bare.py (`uvicorn lean_guard:lean_guard_app --factory`, BENCH_UPSTREAM
set). Per request it does what the default policy's job cannot skip, and nothing else: parse the
request and the answer as JSON, search the answer's text with the default policy's four secret
patterns in one RE2 pass, hash the answer, append a ~600-byte audit record to a journal file, queue it
for SQLite, and answer with a decision header. A background task appends the queue every 0.2 s
through llmvet's own SQLite store (one transaction, one trip to its thread), so the bound pays for
the same audit write llmvet does.

Left out, and what llmvet does there: routes and wires other than chat completions, API keys and
their labels, request limits and header forwarding rules, policy rules and their matching, re-asks,
validators as plug-ins with timeouts, the disconnect watcher, metrics, drift counts, provenance
headers, spans, draining, and the llmvet field in the body. `overhead.py --with-lean` runs it next to
the floor, so the gap between this and llmvet is what those features cost, and the gap between this
and the floor is what vetting and auditing a response costs on starlette + aiohttp whatever the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policies" / "default.yaml"


def secret_patterns() -> list[str]:
    """The bundled default policy's forbidden patterns (its one regex check), read from the file."""
    import yaml

    rule = yaml.safe_load(DEFAULT_POLICY.read_text())["rules"][0]
    return [p for v in rule["validators"] if v["use"] == "regex" for p in v["with"]["must_not_match"]]


def lean_guard_app() -> Any:
    import aiohttp
    import re2
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from llmvet.store.sqlite_store import SQLiteStore

    upstream = os.environ["BENCH_UPSTREAM"]
    secrets = re2.compile("|".join(f"(?:{p})" for p in secret_patterns()))
    state: dict[str, Any] = {}
    pending: list[dict[str, Any]] = []
    seq = 0

    async def writer() -> None:
        while True:
            await asyncio.sleep(0.2)
            if pending:
                batch = pending[:]
                pending.clear()
                await state["store"].append("audit", batch)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        folder = tempfile.mkdtemp(prefix="lean-guard-")
        state["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), auto_decompress=False)
        store = state["store"] = SQLiteStore(Path(folder) / "audit.db")
        await store.open()
        state["journal"] = os.open(os.path.join(folder, "journal.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        task = asyncio.create_task(writer())
        yield
        task.cancel()
        await state["http"].close()
        await store.close()
        os.close(state["journal"])
        shutil.rmtree(folder, ignore_errors=True)

    async def vet(request: Any) -> Response:
        nonlocal seq
        started = time.perf_counter()
        raw = await request.body()
        body = orjson.loads(raw)
        headers = {"content-type": "application/json"}
        if auth := request.headers.get("authorization"):
            headers["authorization"] = auth
        async with state["http"].post(upstream + "/chat/completions", data=raw, headers=headers) as r:
            answer, status = await r.read(), r.status
        asked = time.perf_counter()
        text = orjson.loads(answer)["choices"][0]["message"]["content"] or ""
        action = "annotate" if secrets.search(text) else "allow"
        seq += 1
        rec = {
            "ts": time.time(),
            "request_id": f"req_{seq}",
            "route": "/v1/chat/completions",
            "model": body.get("model"),
            "policy": "default",
            "rule": "default",
            "status": status,
            "action": action,
            "validators": [{"validator": "regex", "id": "secrets", "status": "fail" if action != "allow" else "pass"}],
            "findings": [],
            "timings_ms": {
                "total": round((time.perf_counter() - started) * 1000, 2),
                "upstream": round((asked - started) * 1000, 2),
            },
            "response_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "audit_id": f"lean-{seq}",
        }
        os.write(state["journal"], orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
        pending.append(rec)
        return Response(answer, status, media_type="application/json", headers={"x-llmvet-decision": action})

    return Starlette(routes=[Route("/v1/chat/completions", vet, methods=["POST"])], lifespan=lifespan)
