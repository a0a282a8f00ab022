"""Registry lookups: PyPI JSON API, the Simple API (PEP 691 JSON / PEP 700 upload times, HTML as a
fallback for old mirrors) and the npm registry.

One `RegistryClient` per validator instance. It
- answers from an in-process memory cache, then the shared store, then the network;
- runs at most `concurrency` requests at a time, each with its own timeout;
- shares one request between concurrent lookups of the same name (single flight);
- keeps an expired entry for `stale_ttl` more seconds so it can still answer when the registry is down;
- remembers when it saw a name missing, so a name registered afterwards can be flagged (slopsquatting).
"""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import os
import re
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

if TYPE_CHECKING:
    from llmvet.resources import Resources

PUBLIC_PYPI_SIMPLE = "https://pypi.org/simple"
PUBLIC_NPM = "https://registry.npmjs.org"
SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_BIG_BODY = 256 * 1024  # parse larger JSON bodies in the thread pool
USER_AGENT = "llmvet-packages (+https://github.com/llmvet)"


canonical = lru_cache(maxsize=65536)(canonicalize_name)  # hot on the warm path


# ---------------------------------------------------------------- where the registries are


def pip_config_files() -> list[Path]:
    """pip's configuration files in the order pip reads them (later ones override earlier ones)."""
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files.append(Path("/etc/pip.conf"))
    home = Path.home()
    # like pip: an existing PIP_CONFIG_FILE replaces the user's own files
    if not (env_file and Path(env_file).exists()):
        if sys.platform == "win32":
            appdata = os.environ.get("APPDATA", "")
            files += [Path(appdata) / "pip" / "pip.ini", home / "pip" / "pip.ini"]
        elif sys.platform == "darwin":
            files += [home / ".pip" / "pip.conf", home / "Library" / "Application Support" / "pip" / "pip.conf"]
        else:
            xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
            files += [home / ".pip" / "pip.conf", Path(xdg_home) / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def pip_index_url(environ: dict[str, str] | None = None, files: list[Path] | None = None) -> str:
    """The index pip would install from: PIP_INDEX_URL, else index-url in pip's config files
    ([install] overrides [global]), else the public PyPI Simple index."""
    env = os.environ if environ is None else environ
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"].strip()
    found = None
    for path in pip_config_files() if files is None else files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        cp = configparser.RawConfigParser()
        try:
            cp.read_string(text)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if cp.has_option(section, "index-url"):
                found = cp.get(section, "index-url").strip()
    return found or PUBLIC_PYPI_SIMPLE


def npm_registry_url(environ: dict[str, str] | None = None, npmrc: Path | None = None) -> str:
    """NPM_CONFIG_REGISTRY, else `registry=` in ~/.npmrc, else the public npm registry."""
    env = os.environ if environ is None else environ
    for k in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
        if env.get(k):
            return env[k].strip()
    path = npmrc if npmrc is not None else Path.home() / ".npmrc"
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s*registry\s*=\s*(\S+)", line)
            if m:
                return m.group(1)
    except OSError:
        pass
    return PUBLIC_NPM


def json_api_for(index_url: str) -> str | None:
    """PyPI's JSON API base when the index is PyPI (or TestPyPI); None for other mirrors."""
    parts = urlsplit(index_url)
    if parts.hostname in ("pypi.org", "test.pypi.org") and parts.path.rstrip("/") in ("/simple", ""):
        return f"{parts.scheme}://{parts.netloc}/pypi"
    return None


@dataclass(frozen=True, slots=True)
class Index:
    ecosystem: str  # "pypi" | "npm"
    url: str  # Simple API base for PyPI, registry root for npm
    json_url: str | None = None  # PyPI JSON API base (richer metadata) when available
    id: str = field(init=False, compare=False)  # short stable id, part of cache keys

    def __post_init__(self) -> None:
        ident = hashlib.blake2s(f"{self.ecosystem} {self.url} {self.json_url}".encode(), digest_size=5).hexdigest()
        object.__setattr__(self, "id", ident)

    @property
    def label(self) -> str:
        return self.json_url or self.url


# ---------------------------------------------------------------- parsing registry answers


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _has_urls(*values: Any) -> bool:
    for v in values:
        if isinstance(v, dict) and any(isinstance(x, str) and x.strip() and x.strip().upper() != "UNKNOWN" for x in v.values()):
            return True
        if isinstance(v, str) and v.strip() and v.strip().upper() != "UNKNOWN":
            return True
    return False


def parse_pypi_json(data: dict[str, Any]) -> dict[str, Any]:
    info = data.get("info") or {}
    releases: dict[str, list[dict[str, Any]]] = data.get("releases") or {}
    if not releases and info.get("version"):
        releases = {info["version"]: data.get("urls") or []}
    times: list[float] = []
    n_files = 0
    live_files = 0
    for files in releases.values():
        for f in files:
            n_files += 1
            live_files += not f.get("yanked", False)
            t = _epoch(f.get("upload_time_iso_8601") or f.get("upload_time"))
            if t:
                times.append(t)
    desc = info.get("description") or ""
    return {
        "name": info.get("name") or "",
        "summary": (info.get("summary") or "")[:300],
        "description": desc[:1500],
        "description_len": len(desc.strip()),
        "has_urls": _has_urls(info.get("project_urls"), info.get("home_page"), info.get("download_url")),
        "versions": list(releases),
        "n_releases": sum(1 for f in releases.values() if f) or len(releases),
        "n_files": n_files,
        "installable": live_files > 0,
        "first_upload": min(times) if times else None,
        "last_upload": max(times) if times else None,
        "latest": info.get("version") or "",
        "deprecated": None,
    }


def _version_of_file(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        m = re.match(r"^.+?-(\d[^-]*?)(?:\.tar\.gz|\.zip|\.tar\.bz2|\.egg|\.exe|\.msi)$", filename)
        return m.group(1) if m else None


def parse_simple_json(data: dict[str, Any]) -> dict[str, Any]:
    files = data.get("files") or []
    versions = list(data.get("versions") or [])  # PEP 700
    with_files: set[str] = set()
    times = []
    live = 0
    for f in files:
        v = _version_of_file(f.get("filename", ""))
        if v:
            with_files.add(v)
            if v not in versions:
                versions.append(v)
        live += not f.get("yanked", False)
        t = _epoch(f.get("upload-time"))
        if t:
            times.append(t)
    return {
        "name": data.get("name") or "",
        "summary": "",
        "description": "",
        "description_len": None,  # unknown: the Simple API carries no metadata
        "has_urls": None,
        "versions": versions,
        "n_releases": len(with_files) or len(versions),
        "n_files": len(files),
        "installable": live > 0,
        "first_upload": min(times) if times else None,
        "last_upload": max(times) if times else None,
        "latest": versions[-1] if versions else "",
        "deprecated": None,
    }


def parse_simple_html(text: str, name: str) -> dict[str, Any]:
    files = []
    for m in re.finditer(r"<a\s[^>]*>([^<]+)</a>", text, re.I):
        tag = m.group(0)
        files.append({"filename": m.group(1).strip(), "yanked": "data-yanked" in tag})
    return parse_simple_json({"name": name, "files": files})


def parse_npm(data: dict[str, Any]) -> dict[str, Any]:
    times = data.get("time") or {}
    versions = data.get("versions") or {}
    latest = (data.get("dist-tags") or {}).get("latest") or (list(versions)[-1] if versions else "")
    latest_doc = versions.get(latest) or {}
    desc = data.get("description") or latest_doc.get("description") or ""
    readme = data.get("readme") or ""
    ver_times = [t for k, v in times.items() if k not in ("created", "modified", "unpublished") and (t := _epoch(v))]
    return {
        "name": data.get("name") or "",
        "summary": desc[:300],
        "description": readme[:1500],
        "description_len": len(readme.strip()) or len(desc.strip()),
        "has_urls": _has_urls(data.get("homepage"), data.get("repository"), latest_doc.get("homepage"),
                              latest_doc.get("repository") if isinstance(latest_doc.get("repository"), (str, dict)) else None),
        "versions": list(versions),
        "n_releases": len(versions),
        "n_files": len(versions),
        "installable": bool(versions),
        "first_upload": _epoch(times.get("created")) or (min(ver_times) if ver_times else None),
        "last_upload": max(ver_times) if ver_times else None,
        "latest": latest,
        "deprecated": latest_doc.get("deprecated") if isinstance(latest_doc.get("deprecated"), str) else None,
        "unpublished": bool(times.get("unpublished")) and not versions,
    }


# ---------------------------------------------------------------- the client


@dataclass(slots=True)
class Lookup:
    status: str  # "found" | "missing" | "unreachable"
    info: dict[str, Any] | None = None
    registry: str = ""
    cached: bool = False
    stale: bool = False
    error: str = ""
    seen_missing_at: float | None = None  # when llmvet saw this name missing before it appeared


class RegistryClient:
    def __init__(
        self,
        *,
        positive_ttl: float = 86400,
        negative_ttl: float = 600,
        stale_ttl: float = 7 * 86400,
        concurrency: int = 16,
        timeout: float = 5.0,
        namespace: str = "pkgcache",
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
        self._mem[k] = rec
        self._mem.move_to_end(k)
        while len(self._mem) > self._mem_max:
            self._mem.popitem(last=False)

    @staticmethod
    def _to_lookup(rec: dict[str, Any], index: Index, cached: bool, stale: bool = False) -> Lookup:
        return Lookup(rec["status"], rec.get("info"), index.label, cached, stale, "", rec.get("seen_missing_at"))

    def peek(self, index: Index, name: str, now: float | None = None) -> Lookup | None:
        """A fresh answer from the memory cache, or None (no awaiting: the warm path)."""
        rec = self._mem.get(self.key(index, name))
        if rec is not None and self._fresh(rec, time.time() if now is None else now):
            return self._to_lookup(rec, index, True)
        return None

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
            results = await asyncio.gather(*(self._single_flight(res, k, i, n, stale.get(k)) for k, (i, n) in fetch.items()))
            for (k, (index, name)), lk in zip(fetch.items(), results):
                out[(index.id, name)] = lk
        # names given in several spellings map to one key
        for index, name in items:
            if (index.id, name) not in out:
                k = self.key(index, name)
                rec = self._mem.get(k)
                if rec is not None:
                    out[(index.id, name)] = self._to_lookup(rec, index, True)
        return out

    def _single_flight(self, res: Resources, k: str, index: Index, name: str, stale: dict | None) -> asyncio.Future[Lookup]:
        fut = self._inflight.get(k)
        if fut is None or fut.done():
            fut = asyncio.ensure_future(self._fetch(res, k, index, name, stale))
            self._inflight[k] = fut
            fut.add_done_callback(lambda f, k=k: self._inflight.pop(k, None) if self._inflight.get(k) is f else None)
        return asyncio.shield(fut)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem = asyncio.Semaphore(self.concurrency)
            self._sem_loop = loop
        return self._sem

    async def _fetch(self, res: Resources, k: str, index: Index, name: str, stale: dict | None) -> Lookup:
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
