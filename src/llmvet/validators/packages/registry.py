"""Registry lookups: PyPI JSON API, the Simple API (PEP 691 JSON / PEP 700 upload times, HTML as a
fallback for old mirrors) and the npm registry.

One `RegistryClient` per validator instance. It
- answers from an in-process memory cache, then the shared store, then the network;
- runs at most `concurrency` requests at a time, each with its own timeout;
- shares one request between concurrent lookups of the same name (single flight);
- keeps an expired entry for `stale_ttl` more seconds so it can still answer when the registry is down;
- remembers when it saw a name missing, so a name registered afterwards can be flagged (slopsquatting).

Which registries to ask is registry_index.py; turning their answers into info dicts is registry_parse.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from packaging.utils import canonicalize_name

from llmvet import spans

# re-exported: the names callers imported from here before the split
from llmvet.store import keys
from llmvet.validators.packages.registry_index import (
    PUBLIC_NPM,
    PUBLIC_PYPI_SIMPLE,
    Index,
    canonical,
    json_api_for,
    npm_registry_url,
    pip_config_files,
    pip_index_url,
)
from llmvet.validators.packages.registry_parse import parse_npm, parse_pypi_json, parse_simple_html, parse_simple_json

if TYPE_CHECKING:
    from llmvet.resources import Resources

__all__ = [
    "PUBLIC_NPM",
    "PUBLIC_PYPI_SIMPLE",
    "Index",
    "Lookup",
    "RegistryClient",
    "canonical",
    "json_api_for",
    "npm_registry_url",
    "parse_npm",
    "parse_pypi_json",
    "parse_simple_html",
    "parse_simple_json",
    "pip_config_files",
    "pip_index_url",
]

SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_BIG_BODY = 256 * 1024  # parse larger JSON bodies in the thread pool
USER_AGENT = "llmvet-packages (+https://github.com/llmvet)"


@dataclass(slots=True)
class Lookup:
    """What a registry said about one name (or that it could not be asked)."""

    status: str  # "found" | "missing" | "unreachable"
    info: dict[str, Any] | None = None
    registry: str = ""
    cached: bool = False
    stale: bool = False
    error: str = ""
    seen_missing_at: float | None = None  # when llmvet saw this name missing before it appeared


def cache_counts(found: Iterable[Lookup]) -> dict[str, spans.AttributeValue]:
    """Where lookups past the memory cache were answered: the shared store, the registry, or neither."""
    counts = {"store_hits": 0, "fetched": 0, "stale": 0, "unreachable": 0}
    for lk in found:
        key = (
            "unreachable"
            if lk.status == "unreachable"
            else "stale"
            if lk.stale
            else "store_hits"
            if lk.cached
            else "fetched"
        )
        counts[key] += 1
    return {f"llmvet.registry.{k}": v for k, v in counts.items()}


class RegistryClient:
    """Cached, single-flight, concurrency-limited lookups; one per validator instance."""

    def __init__(
        self,
        *,
        positive_ttl: float = 86400,
        negative_ttl: float = 600,
        stale_ttl: float = 7 * 86400,
        concurrency: int = 16,
        timeout: float = 5.0,
        namespace: str = keys.PACKAGE_CACHE,
        memory_entries: int = 20000,
    ) -> None:
        self.positive_ttl = positive_ttl
        self.negative_ttl = negative_ttl
        self.stale_ttl = stale_ttl
        self.concurrency = concurrency
        self.timeout = timeout
        self.ns = namespace
        self.seen_ns = namespace + ":seen"
        self._mem: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._mem_max = memory_entries
        self._changes = 0  # how many times _mem was written (a peek made before the last needs a look)
        # (index id, name as asked) -> (record, index, its Lookup, cache key, found, fetched, _changes then)
        self._peeked: dict[tuple[str, str], tuple[dict[str, Any], Index, Lookup, str, bool, float, int]] = {}
        self._inflight: dict[str, asyncio.Future[Lookup]] = {}
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        self.requests = 0  # network requests made (for tests and benchmarks)

    # -- cache helpers
    @staticmethod
    def key(index: Index, name: str) -> str:
        n = canonical(name) if index.ecosystem == "pypi" else name.lower()
        return f"{index.id}:{n}"

    def _fresh(self, rec: dict[str, Any], now: float) -> bool:
        ttl = self.positive_ttl if rec.get("status") == "found" else self.negative_ttl
        return now - rec.get("fetched", 0) < ttl

    def _remember(self, k: str, rec: dict[str, Any]) -> None:
        self._changes += 1
        self._mem[k] = rec
        self._mem.move_to_end(k)
        while len(self._mem) > self._mem_max:
            self._mem.popitem(last=False)

    @staticmethod
    def _to_lookup(rec: dict[str, Any], index: Index, cached: bool, stale: bool = False) -> Lookup:
        return Lookup(rec["status"], rec.get("info"), index.label, cached, stale, "", rec.get("seen_missing_at"))

    def peek(self, index: Index, name: str, now: float | None = None) -> Lookup | None:
        """A fresh answer from the memory cache, or None (no awaiting: the warm path)."""
        made = self._peeked.get((index.id, name))  # what an earlier peek of the name as asked found
        if made is None or made[1] is not index:
            return self._peek_record(index, name, now)
        if made[6] != self._changes:  # the memory was written since: is the record still the one there?
            if self._mem.get(made[3]) is not made[0]:
                return self._peek_record(index, name, now)
            made = self._peeked[(index.id, name)] = (*made[:6], self._changes)
        # (the same record: its status and fetch time as read then; no one changes records)
        ttl = self.positive_ttl if made[4] else self.negative_ttl
        return made[2] if (time.time() if now is None else now) - made[5] < ttl else None

    def _peek_record(self, index: Index, name: str, now: float | None) -> Lookup | None:
        k = self.key(index, name)
        rec = self._mem.get(k)
        if rec is None or not self._fresh(rec, time.time() if now is None else now):
            return None
        lk = self._to_lookup(rec, index, True)
        if len(self._peeked) >= self._mem_max:
            self._peeked.clear()
        found, fetched = rec.get("status") == "found", rec.get("fetched", 0)
        self._peeked[(index.id, name)] = (rec, index, lk, k, found, fetched, self._changes)
        return lk

    async def lookup_many(self, res: Resources, items: list[tuple[Index, str]]) -> dict[tuple[str, str], Lookup]:
        """Look up (index, name) pairs; keys of the result are (index.id, name as given)."""
        now = time.time()
        out: dict[tuple[str, str], Lookup] = {}
        todo: dict[str, tuple[Index, str]] = {}
        for index, name in items:
            hit = self.peek(index, name, now)
            if hit is not None:
                out[(index.id, name)] = hit
            else:
                todo.setdefault(self.key(index, name), (index, name))
        if not todo:
            return out
        stale: dict[str, dict[str, Any]] = {}
        try:
            stored = await res.store.get_many(self.ns, list(todo))
        except Exception:  # a store outage must not stop registry checks
            stored = {}
        fetch: dict[str, tuple[Index, str]] = {}
        for k, (index, name) in todo.items():
            rec = stored.get(k)
            if rec is not None and self._fresh(rec, now):
                self._remember(k, rec)
                out[(index.id, name)] = self._to_lookup(rec, index, True)
            else:
                if rec is not None:
                    stale[k] = rec
                fetch[k] = (index, name)
        if fetch:
            results = await asyncio.gather(
                *(self._single_flight(res, k, i, n, stale.get(k)) for k, (i, n) in fetch.items())
            )
            for (index, name), lk in zip(fetch.values(), results, strict=True):
                out[(index.id, name)] = lk
        # names given in several spellings map to one key
        for index, name in items:
            if (index.id, name) not in out:
                k = self.key(index, name)
                rec = self._mem.get(k)
                if rec is not None:
                    out[(index.id, name)] = self._to_lookup(rec, index, True)
        return out

    def _single_flight(
        self, res: Resources, k: str, index: Index, name: str, stale: dict | None
    ) -> asyncio.Future[Lookup]:
        fut = self._inflight.get(k)
        if fut is None or fut.done():
            fut = asyncio.ensure_future(self._fetch(res, k, index, name, stale))
            self._inflight[k] = fut
            fut.add_done_callback(partial(self._landed, k))
        return asyncio.shield(fut)

    def _landed(self, k: str, fut: asyncio.Future[Lookup]) -> None:
        # a newer flight for the same key may already be registered: only forget our own
        if self._inflight.get(k) is fut:
            self._inflight.pop(k, None)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem = asyncio.Semaphore(self.concurrency)
            self._sem_loop = loop
        return self._sem

    async def _fetch(self, res: Resources, k: str, index: Index, name: str, stale: dict | None) -> Lookup:
        # The index by its id, not its URL: a private index's URL may carry credentials.
        attributes = {"llmvet.registry.ecosystem": index.ecosystem, "llmvet.registry.index": index.id}
        with spans.span("llmvet registry fetch", {**attributes, "llmvet.package": name}, client=True) as span:
            lookup = await self._fetch_one(res, k, index, name, stale)
            if span is not None:
                span.set_attributes({"llmvet.registry.status": lookup.status, "llmvet.registry.stale": lookup.stale})
        return lookup

    async def _fetch_one(self, res: Resources, k: str, index: Index, name: str, stale: dict | None) -> Lookup:
        try:
            async with self._semaphore():
                status, info = await self._request(res, index, name)
        except Exception as e:  # timeouts, DNS, refused, 5xx: the registry is unreachable
            err = f"{type(e).__name__}: {e}".strip().rstrip(":")
            if stale is not None:
                lk = self._to_lookup(stale, index, True, stale=True)
                lk.error = err
                return lk
            return Lookup("unreachable", None, index.label, error=err)
        now = time.time()
        rec: dict[str, Any] = {"status": status, "fetched": now, "info": info}
        try:
            if status == "missing":
                await res.store.add(self.seen_ns, k, now, ttl=365 * 86400)
            else:
                seen = await res.store.get(self.seen_ns, k)
                if seen is not None:
                    rec["seen_missing_at"] = float(seen)
            ttl = (self.positive_ttl if status == "found" else self.negative_ttl) + self.stale_ttl
            await res.store.set(self.ns, k, rec, ttl=ttl)
        except Exception:
            pass  # cache write failures only cost a later re-fetch
        self._remember(k, rec)
        return self._to_lookup(rec, index, False)

    async def _request(self, res: Resources, index: Index, name: str) -> tuple[str, dict[str, Any] | None]:
        # imported here, on the first cache miss: a scan answered from the cache never loads aiohttp
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout)
        headers = {"User-Agent": USER_AGENT}
        if index.ecosystem == "npm":
            url = f"{index.url.rstrip('/')}/{quote(name, safe='@').replace('/', '%2F')}"
            headers["Accept"] = "application/json"
            kind = "npm"
        elif index.json_url:
            url = f"{index.json_url.rstrip('/')}/{quote(canonicalize_name(name))}/json"
            headers["Accept"] = "application/json"
            kind = "pypi-json"
        else:
            url = f"{index.url.rstrip('/')}/{quote(canonicalize_name(name))}/"
            headers["Accept"] = SIMPLE_ACCEPT
            kind = "simple"
        self.requests += 1
        async with res.http.get(url, headers=headers, timeout=timeout, allow_redirects=True) as resp:
            if resp.status in (404, 410):
                return "missing", None
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status} from {url}")
            body = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
        if kind == "simple" and "json" not in ctype:
            info = parse_simple_html(body.decode("utf-8", "replace"), name)
        else:
            parse = {"npm": parse_npm, "pypi-json": parse_pypi_json, "simple": parse_simple_json}[kind]
            if len(body) > _BIG_BODY:
                info = await res.run_cpu(lambda: parse(orjson.loads(body)))
            else:
                info = parse(orjson.loads(body))
        if kind == "npm" and info.get("unpublished"):
            return "missing", info
        return "found", info
