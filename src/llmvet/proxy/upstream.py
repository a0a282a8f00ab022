"""One pooled aiohttp client for the upstream (aiohttp measured fastest; see benchmarks/overhead.py)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
from multidict import CIMultiDict

from llmvet.proxy.errors import (
    ProxyError,
    upstream_bad_response,
    upstream_timeout,
    upstream_too_large,
    upstream_unreachable,
)

# Never forwarded in either direction: they describe one hop, not the message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class Upstream:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        total_timeout: float | None = None,
        max_connections: int = 512,
        max_body_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_body_bytes = max_body_bytes  # of an answer read whole (see `read` and `iter_chunks`)
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None

    @functools.cached_property
    def display_url(self) -> str:
        """The base URL without credentials or query, for logs, /readyz and audit records (built once:
        every audit record names it)."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300),
            timeout=self._timeout,
            auto_decompress=False,  # pass-through routes forward bytes exactly as sent
            # A proxy holds no cookie state: with a jar, a Set-Cookie in the answer to one client would
            # go upstream with every later client's requests (their own Cookie headers are dropped).
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            # trust_env would re-read proxy variables and ~/.netrc on every request (measured: a third of
            # the proxy's CPU); the proxy for the upstream is resolved once instead.
            trust_env=False,
        )
        self._proxy = _env_proxy_for(self.base_url)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream client not started")
        return self._session

    async def open(
        self, method: str, path: str, headers: Mapping[str, str], body: Any, *, vetted: bool = False
    ) -> aiohttp.ClientResponse:
        """Send a request and return the response with its body unread (caller releases it). `vetted`:
        the answer is to be vetted, and one that cannot be is refused (see `_check_vetted`)."""
        try:
            # A 3xx goes to the client as it came: following it would re-send the body (and maybe the
            # key) to wherever the upstream points, and hand the client an answer from elsewhere.
            resp = await self.session.request(
                method, self.base_url + path, headers=headers, data=body, proxy=self._proxy, allow_redirects=False
            )
        except TimeoutError as exc:
            raise self._timed_out(exc) from None
        except aiohttp.ClientConnectorError as exc:
            raise upstream_unreachable(str(exc.os_error) if exc.os_error else str(exc)) from None
        except aiohttp.ClientResponseError as exc:  # its status line or headers do not parse (or are too many)
            raise upstream_bad_response(
                f"malformed HTTP response ({str(exc.message).split(chr(10), 1)[0][:100]})"
            ) from None
        except aiohttp.ClientError as exc:
            raise upstream_unreachable(f"{type(exc).__name__}: {exc}") from None
        if vetted:
            _check_vetted(resp)
        return resp

    async def read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, at most `max_body_bytes` of it (past that: upstream_too_large, connection closed)."""
        limit = self.max_body_bytes
        length = resp.content_length
        try:
            if length is not None and length <= limit:
                return await resp.read()  # the parser reads exactly Content-Length bytes
            if length is not None:
                raise self._too_large(resp)
            body = bytearray()
            async for chunk in resp.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise self._too_large(resp)
            return bytes(body)
        except TimeoutError as exc:
            raise self._timed_out(exc) from None
        except aiohttp.ClientError as exc:
            raise upstream_bad_response(f"connection closed while reading the body ({type(exc).__name__})") from None

    def _timed_out(self, exc: TimeoutError) -> ProxyError:
        """504: the upstream went silent for read_timeout (aiohttp's socket timeouts), or its whole
        answer took longer than total_timeout (the session's overall timer)."""
        if self.total_timeout is not None and not isinstance(exc, aiohttp.ServerTimeoutError):
            return upstream_timeout(self.total_timeout, whole=True)
        return upstream_timeout(self.read_timeout)

    def _too_large(self, resp: aiohttp.ClientResponse) -> ProxyError:
        resp.close()  # the rest is never read: the connection cannot go back to the pool
        return upstream_too_large(self.max_body_bytes)

    async def read_and_release(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body; the connection goes back to the pool whatever happens."""
        try:
            return await self.read(resp)
        finally:
            resp.release()

    def reader(self, resp: aiohttp.ClientResponse, *, whole: bool = False) -> Callable[[], Awaitable[bytes]]:
        """`iter_chunks` as one call a read: the next chunk as it arrives, b"" at the end. A relay that
        handles each read on its own (an incremental stream) saves the async iterators' layers."""
        content = resp.content
        limit = self.max_body_bytes if whole else None
        size = 0

        async def read() -> bytes:
            nonlocal size
            try:
                chunk = await content.readany()
            except TimeoutError as exc:
                raise self._timed_out(exc) from None
            except aiohttp.ClientError as exc:
                raise upstream_bad_response(f"connection closed mid-stream ({type(exc).__name__})") from None
            if limit is not None:
                size += len(chunk)
                if size > limit:
                    raise self._too_large(resp)
            return chunk

        return read

    async def iter_chunks(self, resp: aiohttp.ClientResponse, *, whole: bool = False) -> AsyncIterator[bytes]:
        """The body as it arrives. `whole`: the caller keeps all of it (to vet it), so it ends with
        upstream_too_large (connection closed) past `max_body_bytes`."""
        limit = self.max_body_bytes if whole else None
        size = 0
        try:
            async for chunk in resp.content.iter_any():
                if limit is not None:
                    size += len(chunk)
                    if size > limit:
                        raise self._too_large(resp)
                yield chunk
        except TimeoutError as exc:
            raise self._timed_out(exc) from None
        except aiohttp.ClientError as exc:
            raise upstream_bad_response(f"connection closed mid-stream ({type(exc).__name__})") from None


def _check_vetted(resp: aiohttp.ClientResponse) -> None:
    """Refuse (502, connection closed) an answer to a vetted request that llmvet cannot vet: a 2xx
    other than 200 would be relayed as an error though clients read it as an answer; a redirect
    relayed would send the client (the openai SDK follows them) to an answer llmvet never sees, on
    another host or through llmvet's own pass-through routes; a compressed body (llmvet asked for
    identity) would pass every validator unread."""
    problem = None
    if 200 < resp.status < 300:  # clients take any 2xx for an answer; llmvet vets 200s, relays errors as is
        problem = f"unexpected status {resp.status} (an answer is a 200)"
    elif 300 <= resp.status < 400:
        where = resp.headers.get("location", "nowhere")[:200]
        problem = f"it redirected the request ({resp.status} to {where}), and llmvet follows no redirects"
    elif (coding := _coding(resp.headers)) is not None:
        problem = f"the body is compressed ({coding}), not identity"
    if problem is not None:
        resp.close()
        raise upstream_bad_response(problem)


def _coding(headers: Mapping[str, str]) -> str | None:
    """The header naming a content or transfer coding of the body (other than chunked), if any."""
    encoding = headers.get("content-encoding", "").strip()
    if encoding and encoding.lower() != "identity":
        return f"Content-Encoding: {encoding[:40]}"
    transfer = headers.get("transfer-encoding", "")
    if transfer and any(t.strip().lower() not in ("chunked", "identity") for t in transfer.split(",")):
        return f"Transfer-Encoding: {transfer[:40]}"
    return None


def _env_proxy_for(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` per the environment (NO_PROXY respected), if any."""
    from urllib.parse import urlparse
    from urllib.request import getproxies, proxy_bypass

    parsed = urlparse(url)
    if parsed.hostname and proxy_bypass(parsed.hostname):
        return None
    return getproxies().get(parsed.scheme)


# Set by llmvet's own server for every response: the upstream's copy would be a duplicate.
OWN_RESPONSE_HEADERS = frozenset({"date", "server"})
FORWARDED_FOR = frozenset({"x-forwarded-for", "forwarded"})


def _named_in_connection(items: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Headers a sender lists in `Connection` are hop-by-hop too (RFC 9110 7.6.1)."""
    return frozenset(
        t.strip().lower() for k, v in items if k.lower() == "connection" for t in v.split(",") if t.strip()
    )


def forward_request_headers(
    headers: Mapping[str, str], *, vetted: bool, peer: str | None = None, trusted_proxies: int = 0
) -> CIMultiDict[str]:
    """The client's headers as they go upstream: hop-by-hop, cookies and llmvet's own dropped."""
    out: CIMultiDict[str] = CIMultiDict()
    items = list(headers.items())  # decoded once (Starlette's Headers decode on every call)
    named = _named_in_connection(items)
    hop = HOP_BY_HOP | named if named else HOP_BY_HOP
    forwarded: list[str] = []
    for k, v in items:
        lk = k.lower()
        if lk in hop or lk == "cookie" or lk.startswith("x-llmvet-"):
            continue  # cookie: the reviewer UI's session lives on this origin; never hand it upstream
        if vetted and lk == "accept-encoding":
            continue  # llmvet reads vetted bodies, so it asks for them uncompressed
        if lk in FORWARDED_FOR:
            if lk == "x-forwarded-for":
                forwarded.extend(h.strip() for h in v.split(",") if h.strip())
            continue
        out.add(k, v)
    if vetted:
        out["Accept-Encoding"] = "identity"
    chain = forwarded_chain(forwarded, peer, trusted_proxies)
    if chain:
        out["X-Forwarded-For"] = ", ".join(chain)
    return out


def forwarded_chain(given: list[str], peer: str | None, trusted_proxies: int) -> list[str]:
    """X-Forwarded-For as llmvet passes it on: the entries added by trusted proxies, then the peer.

    Entries before those (written by the client itself) are dropped: anyone can send any.
    """
    kept = given[-trusted_proxies:] if trusted_proxies else []
    return [*kept, peer] if peer else kept


def response_headers(resp: aiohttp.ClientResponse, *, drop_encoding: bool) -> dict[str, str]:
    """The upstream's headers as the client gets them: llmvet's own names are llmvet's alone.

    Values are relayed byte for byte (latin-1 strings, the way the server writes them back), and every
    line of a repeated header is kept (each Set-Cookie above all): a repeat gets another spelling of
    the name, since names are case-insensitive and the server writes them in lower case."""
    out: dict[str, str] = {}
    connection = resp.headers.getall("connection", ())
    named = _tokens(connection) if connection else ()
    for raw_name, raw_value in resp.raw_headers:
        lk = raw_name.lower()
        if (
            lk in _DROPPED
            or lk.startswith(b"x-llmvet-")
            or lk in named
            or (drop_encoding and lk == b"content-encoding")
        ):
            continue
        k = raw_name.decode("latin-1")
        if k in out:
            k = _respelled(k, out)
        out[k] = raw_value.decode("latin-1")
    return out


_DROPPED = frozenset(name.encode() for name in HOP_BY_HOP | OWN_RESPONSE_HEADERS)


def _tokens(values: list[str]) -> frozenset[bytes]:
    """The header names listed in Connection values (as aiohttp decoded them: back to their bytes)."""
    return frozenset(t.strip().lower() for v in values for t in v.encode("utf-8", "surrogateescape").split(b","))


def _respelled(name: str, taken: Mapping[str, str]) -> str:
    """`name` with the case of some letters swapped, spelled unlike any key in `taken`."""
    spelling = name.swapcase()  # a second line: the usual repeat (two Set-Cookie headers)
    if spelling not in taken:
        return spelling
    for n in range(1, 1 << min(len(name), 16)):
        spelling = "".join(c.swapcase() if n >> i & 1 else c for i, c in enumerate(name))
        if spelling not in taken:
            return spelling
    return name  # more repeats than spellings (aiohttp takes at most 128 headers): the last one wins


__all__ = ["ProxyError", "Upstream", "forward_request_headers", "response_headers"]
