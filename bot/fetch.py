"""Fetching feeds: one shared HTTP client, conditional GETs, hard limits on time and size.

A fetch never raises for a feed's own failures (bad status, timeout, huge body, redirect
loop); it returns a `FetchResult` saying what happened, and `bot.decide` decides what that
means for the feed's schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot import __version__

PROJECT_URL = "https://github.com/restriction-radar/radar"
USER_AGENT = f"Radar/{__version__} (+{PROJECT_URL}; feed alerting bot)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
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


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    concurrency: int = 32
    per_host: int = 2
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch. `status` is None when no HTTP response arrived."""

    url: str
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    final_url: str | None = None
    permanent_redirect: str | None = None
    error: str | None = None
    wire_bytes: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class BodyTooLarge(Exception):
    pass


class Fetcher:
    """Shared async client with global and per-host concurrency limits."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            timeout=httpx.Timeout(
                self.limits.read_timeout,
                connect=self.limits.connect_timeout,
                pool=self.limits.total_timeout,
            ),
            limits=httpx.Limits(
                max_connections=self.limits.concurrency,
                max_keepalive_connections=self.limits.concurrency,
            ),
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            transport=transport,
        )
        self._overall = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

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
            except httpx.TooManyRedirects:
                result = FetchResult(url, error="too many redirects (a redirect loop?)")
            except BodyTooLarge as exc:
                result = FetchResult(url, error=str(exc))
            except httpx.TimeoutException as exc:
                result = FetchResult(url, error=f"timed out ({type(exc).__name__})")
            except (httpx.HTTPError, OSError, ValueError) as exc:
                result = FetchResult(url, error=_describe_error(exc))
        return replace(result, elapsed=time.monotonic() - started)

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        async with self._client.stream("GET", url, headers=headers) as response:
            kept = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}
            history = [r.status_code for r in response.history]
            final_url = str(response.url)
            moved = final_url if history and all(s in (301, 308) for s in history) else None
            status = response.status_code
            if status == 304:
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
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.limits.max_bytes:
                    raise BodyTooLarge(_too_large(self.limits.max_bytes, "body kept coming"))
                chunks.append(chunk)
            return FetchResult(
                url,
                status,
                b"".join(chunks),
                kept,
                final_url,
                moved,
                wire_bytes=response.num_bytes_downloaded,
            )


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
