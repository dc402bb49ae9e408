"""Parsing feed bytes into normalised items (feedparser is always given bytes, never a URL)."""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.errors import FeedParseError
from bot.models import Item
from bot.text import clean
from bot.untrusted import safe_text
from bot.urls import canonical_url, is_web_link, safe_link

MAX_TITLE = 500
MAX_SUMMARY = 2_000
MAX_CONTENT = 20_000
MAX_NAME = 200  # an author, the source an item claims
MAX_CATEGORY = 100
MAX_ITEMS = 1_000


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    items: tuple[Item, ...]
    warning: str | None = None

    def __post_init__(self) -> None:
        if self.title is not None:
            object.__setattr__(self, "title", safe_text(self.title) or None)


def _time(entry: Mapping[str, Any]) -> float | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own lookup warns about its updated/published fallback.
        value = dict.get(entry, key)  # type: ignore[call-overload]
        if value:
            try:
                return float(calendar.timegm(value))
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _text(value: Any, limit: int) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return safe_text(clean(value[: limit * 4]))[:limit]


def _content(entry: Mapping[str, Any]) -> str:
    parts = entry.get("content") or []
    return " ".join(p.get("value", "") for p in parts if isinstance(p, Mapping))


def _guid(
    entry: Mapping[str, Any], link: str | None, title: str, published: float | None, summary: str
) -> str:
    guid = entry.get("id") or entry.get("guid")
    if isinstance(guid, str) and guid.strip():
        return guid.strip()[:1000]
    if link:
        return link
    digest = hashlib.sha256(f"{title}\x1f{published}\x1f{summary[:500]}".encode()).hexdigest()
    return f"radar:sha256:{digest[:32]}"


def _link(entry: Mapping[str, Any], base: str | None) -> str | None:
    candidates: list[str] = []
    if isinstance(entry.get("link"), str):
        candidates.append(entry["link"])
    for link in entry.get("links") or []:
        if (
            isinstance(link, Mapping)
            and link.get("rel", "alternate") == "alternate"
            and link.get("href")
        ):
            candidates.append(link["href"])
    for raw in candidates:
        href = raw.strip()
        if not href:
            continue
        absolute = safe_link(urljoin(base, href) if base else href)
        if absolute is not None:
            return absolute
    return None


def outlet_name(feed_name: str | None, feed_title: str | None, url: str) -> str:
    """Who published a feed: its name in the feeds file, else its own title, else its host."""
    if feed_name:
        return feed_name
    if feed_title:
        return feed_title
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else url


def with_source(outlet: str, source: str) -> str:
    """The outlet shown for an item: the feed's, followed by the source the item claims
    (its `<source>` element) as "via", never replaced by it; not when the outlet's name says
    it already ("Meridian Wire (sample)" via "Meridian Wire")."""
    if not source or source.casefold() in outlet.casefold():
        return outlet
    return f"{outlet} (via {source})"


def _parsed(body: bytes, headers: dict[str, str]) -> Any:
    """The fast path's result, or feedparser's for what it declines. Both (lxml, feedparser)
    are imported with the first body: a cycle of 304s needs neither."""
    import feedparser

    from bot import fastparse

    return fastparse.parse(body, headers) or feedparser.parse(
        body, response_headers=headers, resolve_relative_uris=False, sanitize_html=False
    )


def parse_feed(
    body: bytes,
    *,
    feed_url: str,
    base_url: str | None = None,
    content_type: str | None = None,
    feed_name: str | None = None,
    with_content: bool = False,
) -> ParsedFeed:
    """Parse a feed document. Raises FeedParseError when it is not a feed."""
    headers = {"content-location": base_url or feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = _parsed(body, headers)
    feed = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    problem = parsed.get("bozo_exception")
    if not entries and not feed.get("title") and (parsed.get("version") or "") == "":
        reason = f": {problem}" if problem else ""
        looks_html = body.lstrip()[:100].lower().startswith((b"<!doctype html", b"<html"))
        raise FeedParseError(
            "an HTML page, not a feed"
            if looks_html
            else f"not a feed (no entries, no feed metadata){reason}"
        )
    base = base_url if base_url and is_web_link(base_url) else feed.get("link") or None
    feed_title = _text(feed.get("title"), MAX_TITLE) or None
    outlet = outlet_name(feed_name, feed_title, base_url or feed_url)
    language = feed.get("language") or None
    items: list[Item] = []
    for entry in entries[:MAX_ITEMS]:
        link = _link(entry, base)
        summary = _text(entry.get("summary") or entry.get("description"), MAX_SUMMARY)
        title = _text(entry.get("title"), MAX_TITLE) or summary[:120]
        if not title and not link:
            continue
        published = _time(entry)
        source = entry.get("source") if isinstance(entry.get("source"), Mapping) else {}
        claimed = _text(source.get("title"), MAX_NAME) if source else ""
        tags = tuple(
            _text(t.get("term") or t.get("label"), MAX_CATEGORY)
            for t in entry.get("tags") or []
            if isinstance(t, Mapping)
        )
        items.append(
            Item(
                feed_url=feed_url,
                guid=_guid(entry, link, title, published, summary),
                title=title,
                link=link,
                canonical_link=canonical_url(link) if link else None,
                summary=summary,
                content=_text(_content(entry), MAX_CONTENT) if with_content else "",
                author=_text(entry.get("author"), MAX_NAME),
                categories=tuple(t for t in tags if t),
                published=published,
                outlet=with_source(outlet, claimed),
                language=entry.get("language") or language,
            )
        )
    warning = None
    if problem and not items:
        warning = f"feed has no usable entries ({problem})"
    elif len(entries) > MAX_ITEMS:
        warning = f"feed has {len(entries)} entries; only the first {MAX_ITEMS} were read"
    return ParsedFeed(feed_title, tuple(items), warning)
