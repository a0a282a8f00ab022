"""A loopback fake of the PyPI JSON API, the PyPI Simple API (PEP 691 JSON + HTML) and the npm
registry, serving the recorded answers in tests/data/packages/registry/ (and synthesised ones from
tests/data/packages/synthetic.json). Run it with tests.support.servers.ThreadedServer.

Knobs for tests: `delay` (seconds before answering), `fail` (answer 503), `hits` (requests per path),
`add()` (register a name at run time, e.g. a squatter registering a hallucinated name).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

DATA = Path(__file__).resolve().parents[1] / "data" / "packages"


def load_records() -> dict[str, dict[str, Any]]:
    recs: dict[str, dict[str, Any]] = {"pypi": {}, "npm": {}}
    for p in (DATA / "registry" / "pypi").glob("*.json"):
        recs["pypi"][p.stem] = json.loads(p.read_text())
    for p in (DATA / "registry" / "npm").glob("*.json"):
        recs["npm"][p.stem.replace("__", "/")] = json.loads(p.read_text())
    syn = DATA / "synthetic.json"
    if syn.exists():
        for eco, items in json.loads(syn.read_text()).items():
            for name, rec in items.items():
                key = canonicalize_name(name) if eco == "pypi" else name
                recs[eco].setdefault(key, rec)
    return recs


class FakeRegistry:
    def __init__(self) -> None:
        self.records = load_records()
        self.delay = 0.0
        self.fail = False
        self.hits: Counter[str] = Counter()
        self.inflight = 0  # requests being answered right now
        self.max_inflight = 0  # the most at once since the last reset
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/pypi/{name}/json", self.pypi_json),
                Route("/simple/{name}/", self.simple),
                Route("/npm/{name:path}", self.npm),
            ]
        )

    def add(self, ecosystem: str, name: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.records[ecosystem][canonicalize_name(name) if ecosystem == "pypi" else name] = record

    async def _gate(self, request: Request) -> Response | None:
        with self._lock:
            self.hits[request.url.path] += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            with self._lock:
                self.inflight -= 1
        if self.fail:
            return JSONResponse({"message": "unavailable"}, status_code=503)
        return None

    async def pypi_json(self, request: Request) -> Response:
        if (r := await self._gate(request)) is not None:
            return r
        rec = self.records["pypi"].get(canonicalize_name(request.path_params["name"]))
        if rec is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(rec)

    async def simple(self, request: Request) -> Response:
        if (r := await self._gate(request)) is not None:
            return r
        name = canonicalize_name(request.path_params["name"])
        rec = self.records["pypi"].get(name)
        if rec is None:
            return Response("Not Found", status_code=404)
        files = []
        for version, fs in rec.get("releases", {}).items():
            for f in fs:
                fn = f.get("filename") or f"{name.replace('-', '_')}-{version}.tar.gz"
                files.append(
                    {
                        "filename": fn,
                        "url": f"https://files.example/{fn}",
                        "hashes": {},
                        "upload-time": f.get("upload_time_iso_8601"),
                        "yanked": f.get("yanked", False),
                    }
                )
        if "application/vnd.pypi.simple.v1+json" in request.headers.get("accept", ""):
            body = {
                "meta": {"api-version": "1.1"},
                "name": name,
                "files": files,
                "versions": list(rec.get("releases", {})),
            }
            return Response(json.dumps(body), media_type="application/vnd.pypi.simple.v1+json")
        links = "".join(
            f'<a href="{html.escape(f["url"])}"{" data-yanked" if f["yanked"] else ""}>{html.escape(f["filename"])}</a><br/>'
            for f in files
        )
        return HTMLResponse(f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>{links}</body></html>")

    async def npm(self, request: Request) -> Response:
        if (r := await self._gate(request)) is not None:
            return r
        name = request.path_params["name"].replace("%2F", "/").replace("%2f", "/")
        rec = self.records["npm"].get(name)
        if rec is None:
            return JSONResponse({"error": "Not found"}, status_code=404)
        return JSONResponse(rec)


@contextlib.contextmanager
def running_registry() -> Iterator[FakeRegistry]:
    """A FakeRegistry served on a loopback port (its `url` set) for as long as the block runs."""
    from tests.support.servers import ThreadedServer

    reg = FakeRegistry()
    with ThreadedServer(reg.app) as srv:
        reg.url = srv.url
        yield reg


def packages_validator(reg: FakeRegistry, **settings: Any) -> Any:
    """The packages validator pointed at `reg` for PyPI (Simple and JSON APIs) and npm."""
    from llmvet.validators.packages import PackagesValidator

    config = {
        "pypi_index_url": f"{reg.url}/simple",
        "pypi_json_url": f"{reg.url}/pypi",
        "npm_registry_url": f"{reg.url}/npm",
        **settings,
    }
    return PackagesValidator(PackagesValidator.Config(**config))


def pypi_policy(registry_url: str, on_fail: str, extra: str = "") -> str:
    """A policy of one rule: the packages validator on PyPI through the fake registry at `registry_url`."""
    return f"""
rules:
  - name: packages
    validators:
      - use: packages
        with: {{pypi_index_url: "{registry_url}/simple", pypi_json_url: "{registry_url}/pypi", ecosystems: [pypi]}}
    on_fail: {on_fail}
{extra}"""
