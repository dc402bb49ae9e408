"""Fetching feeds: one shared HTTP client, conditional GETs, hard limits on time and size.

A fetch never raises for a feed's own failures (bad URL, bad status, timeout, huge body,
compression bomb, redirect loop, redirect into the private network); it returns a
`FetchResult` saying what happened, and `bot.decide` decides what that means for the feed's
schedule.

Redirects are followed here, hop by hop, so that each hop can be checked: once a hop was on
the public internet, the next may not lead to a loopback, private, link-local or otherwise
special address (an attacker's feed must not make Radar read the operator's network). Bodies
are decoded here too, by decoders whose output is bounded, so that the size limit holds for
the decoded body whatever the server claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from bot import __version__
from bot.errors import ConfigError, FetchError
from bot.logs import redact
from bot.models import ALLOW_PRIVATE_REDIRECTS_VARIABLE, DEFAULT_MAX_BYTES, FetchLimits, FetchResult
from bot.urls import IPAddress, url_problem

try:
    import brotli
except ImportError:  # the optional `brotli` extra
    brotli = None

log = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/restriction-radar/radar"
USER_AGENT = f"Radar/{__version__} (+{PROJECT_URL}; feed alerting bot)"
# Decoded bytes asked of a decompressor at a time, so that no single call can produce more
# than about this much beyond the size limit.
DECODE_STEP = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
KEPT_HEADERS = (
    "etag",
    "last-modified",
    "content-type",
    "content-location",
    "retry-after",
    "cache-control",
    "expires",
    "date",
)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


class BodyTooLarge(FetchError):
    """The decoded body went past the size limit."""


class _Decoder(Protocol):
    def decode(self, data: bytes, budget: int) -> bytes:
        """The output of `data`; stops early once it holds more than `budget` bytes."""
        ...


class _Identity:
    def decode(self, data: bytes, budget: int) -> bytes:
        return data


class _Zlib:
    """gzip, or deflate (zlib-wrapped as the standard says, or raw as some servers send)."""

    def __init__(self, wbits: int) -> None:
        self._z = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS
        self._started = False

    def decode(self, data: bytes, budget: int) -> bytes:
        parts: list[bytes] = []
        produced = 0
        while data and not self._z.eof and produced <= budget:
            try:
                out = self._z.decompress(data, DECODE_STEP)
            except zlib.error:
                if self._started or not self._raw_fallback:
                    raise
                self._z, self._raw_fallback = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            self._started = True
            parts.append(out)
            produced += len(out)
            data = self._z.unconsumed_tail
        return b"".join(parts)


class _Brotli:
    def __init__(self) -> None:
        self._b = brotli.Decompressor()

    def decode(self, data: bytes, budget: int) -> bytes:
        parts: list[bytes] = []
        produced = 0
        while produced <= budget:
            out = self._b.process(data, output_buffer_limit=DECODE_STEP)
            data = b""
            parts.append(out)
            produced += len(out)
            if self._b.is_finished() or (not out and self._b.can_accept_more_data()):
                break
        return b"".join(parts)


# brotli before 1.2 cannot bound its output: without it, `br` is neither asked for nor accepted.
_BOUNDED_BROTLI = brotli is not None and hasattr(brotli.Decompressor, "can_accept_more_data")
DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "deflate": lambda: _Zlib(zlib.MAX_WBITS),
    **({"br": _Brotli} if _BOUNDED_BROTLI else {}),
}
ACCEPT_ENCODING = ", ".join(c for c in DECODERS if c != "x-gzip")
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error, brotli.error) if brotli is not None else (zlib.error,)
)


def _decoder(content_encoding: str | None) -> _Decoder:
    """The decoder for a response's `Content-Encoding`; only one known coding is accepted."""
    named = (part.strip().lower() for part in (content_encoding or "").split(","))
    codings = [c for c in named if c and c != "identity"]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        raise FetchError(f"stacked content encodings refused ({', '.join(codings)})")
    make = DECODERS.get(codings[0])
    if make is None:
        raise FetchError(f"unsupported content encoding {codings[0]!r}")
    return make()


async def _addresses(url: httpx.URL) -> list[IPAddress]:
    """The addresses a URL's host stands for: itself, or what DNS resolves it to."""
    try:
        return [ip_address(url.host)]
    except ValueError:
        pass
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            url.host, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise FetchError(f"cannot resolve {url.host}: {exc.strerror or exc}") from exc
    return [ip_address(str(info[4][0])) for info in infos]


def _next_url(current: httpx.URL, location: str) -> httpx.URL:
    """Where a redirect leads; credentials are kept on the same origin only."""
    try:
        target = current.join(location)
    except httpx.InvalidURL as exc:
        raise FetchError(f"redirect to an invalid URL ({exc})") from exc
    if (problem := url_problem(str(target))) is not None:
        raise FetchError(f"redirect to an invalid URL: {problem}")
    same_origin = (target.scheme, target.host, target.port) == (
        current.scheme,
        current.host,
        current.port,
    )
    if current.userinfo and not target.userinfo and same_origin:
        target = target.copy_with(userinfo=current.userinfo)
    return target


class Fetcher:
    """HTTP for feeds: global and per-host concurrency limits, and a connection pool per host.

    One pool per host because httpcore's pool looks at every one of its connections, in a loop
    nested in a loop over them, whenever a request starts or ends: one pool of 32 connections
    cost more than the requests themselves on a quiet cycle. The pools of the most recently
    used hosts (as many as requests may run at once) are kept with their keep-alive
    connections; an older one is closed once no request uses it. They share one TLS context.
    """

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        self._tls = httpx.create_ssl_context()  # loading the CA bundle costs ~20 ms: once
        try:  # a bad proxy setting fails here, at start, not on every fetch
            self._new_pool()
        except (ValueError, ImportError, httpx.InvalidURL) as exc:
            raise ConfigError(redact(f"HTTP settings (a proxy variable?): {exc}")) from exc
        self._pools: dict[str, httpx.AsyncClient] = {}  # by host, least recently used first
        self._in_use: dict[str, int] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._overall = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*self._closing, *(_close(p) for p in pools))

    def _new_pool(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers={
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=httpx.Timeout(
                min(self.limits.read_timeout, self.limits.total_timeout),
                connect=self.limits.connect_timeout,
                pool=self.limits.total_timeout,
            ),
            # A redirect's target takes no host slot of its own: many feeds may lead to it.
            limits=httpx.Limits(
                max_connections=self.limits.concurrency,
                max_keepalive_connections=self.limits.per_host,
            ),
            follow_redirects=False,
            verify=self._tls,
        )

    @contextlib.asynccontextmanager
    async def _pool(self, url: httpx.URL) -> AsyncIterator[httpx.AsyncClient]:
        """The pool of the URL's host (and port), kept open while it is used."""
        key = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}".lower()
        pool = self._pools.pop(key, None) or self._new_pool()
        self._pools[key] = pool  # now the most recently used
        self._in_use[key] = self._in_use.get(key, 0) + 1
        try:
            yield pool
        finally:
            self._in_use[key] -= 1
            if not self._in_use[key]:
                del self._in_use[key]
            self._close_old_pools()

    def _close_old_pools(self) -> None:
        """Take the oldest unused pools beyond `concurrency` out at once (no other fetch can
        pick them up meanwhile), and close them beside the fetches, not inside one."""
        surplus = len(self._pools) - self.limits.concurrency
        if surplus <= 0:
            return
        for key in [k for k in self._pools if k not in self._in_use][:surplus]:
            task = asyncio.create_task(_close(self._pools.pop(key)))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return slot

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed, conditionally when validators are known."""
        if (problem := url_problem(url)) is not None:
            return FetchResult(url, error=redact(f"invalid URL: {problem}"))
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        async with self._overall, self._host_slot(url):
            try:
                async with asyncio.timeout(self.limits.total_timeout):
                    result = await self._get(url, headers)
            except TimeoutError:
                result = FetchResult(url, error=f"timed out after {self.limits.total_timeout:g}s")
            except FetchError as exc:
                result = FetchResult(url, error=redact(str(exc)))
            except httpx.TimeoutException as exc:
                result = FetchResult(url, error=f"timed out ({type(exc).__name__})")
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, OverflowError) as exc:
                result = FetchResult(url, error=redact(_describe_error(exc)))
        return replace(result, elapsed=time.monotonic() - started)

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        """Follow redirects hop by hop, checking where each one leads."""
        current = httpx.URL(url)
        statuses: list[int] = []
        previous_public: bool | None = None  # the configured URL itself is never refused
        for _ in range(self.limits.max_redirects + 1):
            if previous_public and not self.limits.allow_private_redirects:
                await self._refuse_private(current)
            async with self._pool(current) as pool:
                request = pool.build_request("GET", current, headers=headers)
                response = await pool.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in REDIRECT_STATUSES or not location:
                        return await self._result(url, response, statuses)
                finally:
                    await response.aclose()
            statuses.append(response.status_code)
            if not self.limits.allow_private_redirects and not previous_public:
                previous_public = await self._is_public_host(current)
            current = _next_url(current, location)
        raise FetchError("too many redirects (a redirect loop?)")

    async def _refuse_private(self, url: httpx.URL) -> None:
        """Refuse, before connecting, a hop to any address that is not public."""
        if not all(self.limits.is_public(a) for a in await _addresses(url)):
            raise FetchError(
                f"redirect to a private address refused ({url}); "
                f"{ALLOW_PRIVATE_REDIRECTS_VARIABLE}=1 allows it"
            )

    async def _is_public_host(self, url: httpx.URL) -> bool:
        """Whether a hop that answered was public (any of its addresses), so that the hops
        after it are checked; a host that cannot be resolved counts as public."""
        try:
            return any(self.limits.is_public(a) for a in await _addresses(url))
        except FetchError:
            return True

    async def _result(self, url: str, response: httpx.Response, statuses: list[int]) -> FetchResult:
        kept = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}
        final_url = str(response.url)
        moved = (
            final_url
            if statuses and all(s in PERMANENT_REDIRECT_STATUSES for s in statuses)
            else None
        )
        status = response.status_code
        if status == 304:
            if not _declares_body(response):  # read (nothing) to the end: the connection is kept
                await response.aread()
            return FetchResult(url, status, None, kept, final_url, moved)
        if status >= 400 or status < 200:
            reason = response.reason_phrase or ""
            return FetchResult(
                url, status, None, kept, final_url, moved, f"HTTP {status} {reason}".strip()
            )
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise BodyTooLarge(
                _too_large(self.limits.max_bytes, f"declares {int(declared):,} bytes")
            )
        body = await self._read(response, response.headers.get("content-encoding"))
        return FetchResult(
            url, status, body, kept, final_url, moved, wire_bytes=response.num_bytes_downloaded
        )

    async def _read(self, response: httpx.Response, content_encoding: str | None) -> bytes:
        """The decoded body, never holding more than the size limit (and one step)."""
        decoder = _decoder(content_encoding)
        limit = self.limits.max_bytes
        how = (
            "body kept coming"
            if isinstance(decoder, _Identity)
            else "decompressed body kept coming"
        )
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            if response.num_bytes_downloaded > limit:
                raise BodyTooLarge(_too_large(limit, "body kept coming"))
            try:
                chunk = decoder.decode(raw, limit - size)
            except _DECODE_ERRORS as exc:
                raise FetchError(f"cannot decode the {content_encoding} response: {exc}") from exc
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(_too_large(limit, how))
            chunks.append(chunk)
        return b"".join(chunks)


async def _close(pool: httpx.AsyncClient) -> None:
    """Close a pool; a connection that fails to close cleanly is gone all the same."""
    try:
        await pool.aclose()
    except Exception as exc:
        log.debug("closing a connection pool: %r", exc)


def _declares_body(response: httpx.Response) -> bool:
    """A 304 has no body; one sent anyway would be read as the next response on the same
    connection, so that connection is closed instead of kept."""
    length = response.headers.get("content-length", "0").strip()
    return "transfer-encoding" in response.headers or length != "0"


def _too_large(limit: int, how: str) -> str:
    return f"response larger than the {limit / 1024 / 1024:g} MB limit ({how})"


def _describe_error(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response: {text}"
    return f"{type(exc).__name__}: {text}"


def read_local(url: str, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> FetchResult:
    """A local feed file, read with the same size limit as a download."""
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except OSError as exc:
        return FetchResult(url, error=f"cannot read {path}: {exc.strerror or exc}")
    if len(body) > max_bytes:
        return FetchResult(url, error=_too_large(max_bytes, "local file"))
    return FetchResult(url, 200, body, {}, str(path))
