"""A fast parse path for well-formed feeds: lxml builds the tree, and this module gives, for the
keys `bot.parse` reads, exactly what `feedparser.parse` would give (its strict, expat-driven
path with `resolve_relative_uris=False, sanitize_html=False`).

It covers the common shapes (RSS 2.0, Atom 1.0, RSS 1.0) and declines anything else, so that
feedparser stays the fallback and the reference: a document that is not well-formed, a DOCTYPE,
`xml:base`, XHTML or base64 content, an element feedparser would give a meaning this module does
not reproduce (media titles, iTunes summaries, contributors, …). Where feedparser is peculiar,
this module is peculiar in the same way (for example a permalink GUID is resolved against the
feed's address and becomes the link when there is none yet, and text goes through feedparser's
"UTF-8 read as Latin-1" repair and its windows-1252 mapping). feedparser's own helpers for
encodings, dates and URLs are used, so those can never disagree.

The element walk (lxml, feedparser's names for elements, attributes and text) is in
`bot.fastparse_xml`; this module maps a walked document onto feedparser's keys.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.urls import make_safe_absolute_uri

from bot.fastparse_xml import (
    ATOM,
    CONTENT,
    HTML_TYPES,
    RDF,
    SUMMARY,
    TITLE,
    Decline,
    XmlTree,
    has_handler,
    href_of,
    map_type,
    namespace_of,
)

__all__ = ["Decline", "parse", "parse_or_decline"]

log = logging.getLogger(__name__)

_QUERY_FIX = re.compile("&([A-Za-z0-9_]+);")
_HEAD_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
_FIRST_ELEMENT = re.compile(rb"<\w")

MEDIA_TITLE = "media_title"
MEDIA_DESCRIPTION = "media_description"
# Inert elements feedparser reads as content: what is inside them is markup, not elements.
RIGHTS = {"rights", "copyright", "dc_rights"}
PUBLISHED = {"pubdate", "published", "issued", "dcterms_issued"}
UPDATED = {"updated", "modified", "dc_date", "dcterms_modified"}
CREATED = {"created", "dcterms_created"}
CATEGORY = {"category", "dc_subject"}
AUTHOR = {"author", "dc_creator", "dc_author"}
LANGUAGE = {"language", "dc_language"}
GUID = {"guid", "id"}
# Elements whose feedparser handlers never touch what bot.parse reads (nor parser state that
# would change it): in an entry, and at feed level.
ENTRY_INERT = {
    "enclosure", "media_content", "media_thumbnail", "media_player", "media_rating",
    "media_credit", "media_restriction", "media_license", "media_group", "itunes_image",
    "itunes_explicit", "itunes_block", "rights", "copyright", "dc_rights", "expirationdate",
    "creativecommons_license", "cc_license",
}  # fmt: skip
FEED_INERT = ENTRY_INERT | {
    "description", "subtitle", "tagline", "generator", "lastbuilddate", "pubdate", "published",
    "updated", "modified", "dc_date", "dcterms_modified", "dcterms_issued", "dcterms_created",
    "created", "category", "dc_subject", "managingeditor", "webmaster", "dc_publisher",
    "dc_creator", "author", "cloud", "icon", "logo", "itunes_category", "itunes_keywords",
    "itunes_owner", "itunes_author", "itunes_summary", "itunes_subtitle", "itunes_name",
    "itunes_email", "media_category", "media_keywords", "name", "email", "uri", "url",
    "info", "feedburner_browserfriendly", "newlocation", "dcterms_valid",
}  # fmt: skip
# Keys an element without a feedparser handler would overwrite in an entry or in the feed.
ENTRY_KEYS = {
    "title", "link", "links", "summary", "description", "subtitle", "content", "id", "guid",
    "author", "language", "tags", "source", "published_parsed", "updated_parsed",
    "created_parsed",
}  # fmt: skip
FEED_KEYS = {"title", "link", "links", "language", "image", "textinput", "tags"}
IMAGE_CHILDREN = {"title", "url", "link", "width", "height", "description"}


def parse(body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """What feedparser.parse would return for the keys bot.parse reads, or None to decline."""
    try:
        return parse_or_decline(body, headers)
    except Decline:
        return None
    except Exception:  # a bug here must not lose a feed: feedparser takes over
        log.debug("fast parse failed; falling back to feedparser", exc_info=True)
        return None


def parse_or_decline(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """Like `parse`, raising Decline (with the reason) instead of returning None."""
    if not body:
        raise Decline("empty body")
    result: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), body, result)
    if not result.get("encoding"):
        raise Decline("unknown encoding")
    first = _FIRST_ELEMENT.search(data)
    if first is None or _HEAD_DECLARATION.search(data, 0, first.start()):
        raise Decline("DOCTYPE or entity declarations")
    location = headers.get("content-location", "")
    base = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
    if base:
        base = make_safe_absolute_uri(base, base) or base
    return _Walker(data, base, result.get("bozo_exception")).run()


class _Walker(XmlTree):
    """feedparser's keys for a walked document: the feed, its entries and their values."""

    def __init__(self, data: bytes, base: str, problem: Exception | None) -> None:
        super().__init__(data, base)
        self.problem = problem
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.title_depth = -1
        self.title_stored = -1
        self.has_content = False  # feedparser's hasContent, for the entry being walked
        self.summary_depth = -1  # the depth its summary was set at (-1: none yet)

    def run(self) -> dict[str, Any]:
        root, name, attrs = self.load()
        if name in ("rss", "feed"):
            lang = attrs.get("xml:lang", attrs.get("lang"))
            if lang:
                self.feed["language"] = lang.replace("_", "-")
        if name == "rss":
            channels = [c for c in root if self.name(c) == "channel"]
            if len(root) != 1 or len(channels) != 1 or self.attrs(channels[0]):
                raise Decline("an RSS document that is not one channel")
            self.feed_children(channels[0], 3)
            version = "rss20"
        elif name == "feed" and namespace_of(root.tag) == ATOM:
            self.feed_children(root, 2)
            version = "atom10"
        elif name == "rdf_rdf" and namespace_of(root.tag) == RDF:
            self.rdf_children(root)
            version = "rss10"
        else:
            raise Decline(f"root element {name}")
        if not self.entries:
            raise Decline("no entries")
        parsed: dict[str, Any] = {"feed": self.feed, "entries": self.entries, "version": version}
        if self.problem is not None:
            parsed["bozo_exception"] = self.problem
        return parsed

    # -- the feed -------------------------------------------------------------------------

    def rdf_children(self, root: Any) -> None:
        channels = 0
        for child in root:
            name = self.name(child)
            if name == "channel":
                channels += 1
                self.feed_children(child, 3)
            elif name == "item":
                self.entry(child, 3)
            elif name == "image":
                self.image(child, 3)
            else:
                self.feed_element(child, name, 2)
        if channels != 1:
            raise Decline("an RDF document without one channel")

    def feed_children(self, parent: Any, depth: int) -> None:
        for child in parent:
            name = self.name(child)
            if name in ("item", "entry"):
                self.entry(child, depth + 1)
            elif name == "image":
                self.image(child, depth + 1)
            else:
                self.feed_element(child, name, depth)

    def feed_element(self, element: Any, name: str, depth: int) -> None:
        if name in TITLE:
            self.content_type(element, "text/plain")
            value = self.text(element)
            if not -1 < self.title_depth <= depth:
                self.feed["title"] = value
            if value:
                self.title_depth = depth
        elif name == "link":
            self.feed_link(element)
        elif name in LANGUAGE:
            self.feed["language"] = self.text(element)
        elif name == "id":
            permalink = self.attrs(element).get("ispermalink", "true") == "true"
            value = self.text(element, resolve=permalink)
            if permalink:
                self.feed.setdefault("link", value)
        elif name in FEED_INERT:
            self.inert(element, FEED_INERT, FEED_KEYS)
        elif has_handler(name):
            raise Decline(f"feed element {name}")
        elif name in FEED_KEYS:
            raise Decline(f"feed element {name} without a handler")
        else:
            self.inert(element, FEED_INERT, FEED_KEYS)

    def feed_link(self, element: Any) -> None:
        attrs = self.attrs(element)
        href = href_of(attrs)
        if href is not None:
            if len(element):
                raise Decline("markup inside a link")
            rel = attrs.get("rel", "alternate")
            kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
            if rel == "alternate" and map_type(kind) in HTML_TYPES:
                self.feed["link"] = self.resolve(href)
            return
        value = self.text(element, resolve=True)
        self.feed["link"] = _QUERY_FIX.sub(r"&\g<1>", value)

    def image(self, element: Any, depth: int) -> None:
        self.title_depth = -1
        for child in element:
            name = self.name(child)
            if name not in IMAGE_CHILDREN:
                raise Decline(f"image element {name}")
            value = self.text(child)
            if name == "title" and value:
                self.title_depth = depth

    def inert(
        self,
        element: Any,
        allowed: set[str],
        keys: set[str],
        entry: dict[str, Any] | None = None,
        depth: int = 0,
    ) -> None:
        """Descendants of an element with no effect must have none either (in an entry, a
        media:title is followed as feedparser does)."""
        for child in element.iterdescendants():
            name = self.name(child)
            if name in allowed:
                continue
            if name in (MEDIA_TITLE, MEDIA_DESCRIPTION) and entry is not None:
                levels = sum(1 for _ in child.iterancestors()) - sum(
                    1 for _ in element.iterancestors()
                )
                holders = [self.name(a) for a in child.iterancestors()][:levels]
                if RIGHTS.intersection(holders):  # feedparser reads it as the rights' markup
                    raise Decline(f"element {name} inside {self.name(element)}")
                if name == MEDIA_TITLE:
                    self.entry_title(entry, child, depth + levels)
                else:
                    self.describe(entry, child, depth + levels, "text/html")
                continue
            if has_handler(name) or name in keys:
                raise Decline(f"element {name} inside {self.name(element)}")

    # -- entries --------------------------------------------------------------------------

    def entry(self, element: Any, depth: int) -> None:
        entry: dict[str, Any] = {}
        self.entries.append(entry)
        attrs = self.attrs(element)
        if "lastmod" in attrs or "href" in attrs:
            raise Decline("CDF attributes on an item")
        if about := attrs.get("rdf:about"):
            entry["id"] = about
        self.title_depth = -1
        self.title_stored = -1
        self.has_content = False
        self.summary_depth = -1
        for child in element:
            name = self.name(child)
            if name in TITLE:
                self.entry_title(entry, child, depth)
            elif name == "link":
                self.entry_link(entry, child)
            elif name in GUID:
                permalink = self.attrs(child).get("ispermalink", "true") == "true"
                value = self.text(child, resolve=permalink)
                entry["id"] = value
                if permalink:
                    entry.setdefault("link", value)
            elif name in SUMMARY or name == MEDIA_DESCRIPTION:
                self.describe(
                    entry, child, depth, "text/plain" if name == "summary" else "text/html"
                )
            elif name in CONTENT:
                self.has_content = True
                kind = self.content_type(
                    child, "text/html" if name == "content_encoded" else "text/plain"
                )
                value = self.text(child)
                entry.setdefault("content", []).append({"type": kind, "value": value})
                entry.setdefault("summary", value)
            elif name in PUBLISHED:
                entry["published_parsed"] = _parse_date(self.text(child))
            elif name in UPDATED:
                entry["updated_parsed"] = _parse_date(self.text(child))
            elif name in CREATED:
                entry["created_parsed"] = _parse_date(self.text(child))
            elif name in CATEGORY:
                self.category(entry, child)
            elif name in AUTHOR:
                self.author(entry, child)
            elif name in LANGUAGE:
                entry["language"] = self.text(child)
            elif name == "source":
                source_attrs = self.attrs(child)
                source = {"href": source_attrs["url"]} if "url" in source_attrs else {}
                if value := self.text(child):
                    source["title"] = value
                entry["source"] = source
                self.title_depth = -1
            elif name in ENTRY_INERT:
                self.inert(child, ENTRY_INERT, ENTRY_KEYS, entry, depth)
            elif has_handler(name):
                raise Decline(f"entry element {name}")
            elif name in ENTRY_KEYS:
                raise Decline(f"entry element {name} without a handler")
            else:
                self.inert(child, ENTRY_INERT, ENTRY_KEYS, entry, depth)

    def entry_title(self, entry: dict[str, Any], element: Any, depth: int) -> None:
        """feedparser's titles: the first non-empty one at the shallowest depth wins; a
        media:title below it counts only when no title came before it (it never sets
        the depth that blocks later titles)."""
        self.content_type(element, "text/plain")
        value = self.text(element)
        if not -1 < self.title_depth <= depth and (
            self.title_stored < 0 or depth <= self.title_stored
        ):
            entry["title"] = value
            self.title_stored = depth
        if value and self.name(element) != MEDIA_TITLE:
            self.title_depth = depth

    def describe(self, entry: dict[str, Any], element: Any, depth: int, default: str) -> None:
        """feedparser's description, summary and media:description: one that comes after a
        summary and before any content is taken as the content (the summary stays); otherwise
        it is the summary, unless a shallower one set it already."""
        if "summary" in entry and not self.has_content:
            kind = self.content_type(element, "text/plain")
            entry.setdefault("content", []).append({"type": kind, "value": self.text(element)})
            self.has_content = True
            return
        self.content_type(element, default)
        value = self.text(element)
        if self.summary_depth < 0 or depth <= self.summary_depth:
            entry["summary"] = value
            self.summary_depth = depth

    def entry_link(self, entry: dict[str, Any], element: Any) -> None:
        attrs = self.attrs(element)
        links = entry.setdefault("links", [])
        href = href_of(attrs)
        if href is not None:
            if len(element):
                raise Decline("markup inside a link")
            rel = attrs.get("rel", "alternate")
            kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
            href = self.resolve(href)
            links.append({"rel": rel, "type": kind, "href": href})
            if rel == "alternate" and map_type(kind) in HTML_TYPES:
                entry["link"] = href
            return
        link: dict[str, str] = {"rel": "alternate", "type": "text/html"}
        links.append(link)
        value = self.text(element, resolve=True).replace("&amp;", "&")
        value = _QUERY_FIX.sub(r"&\g<1>", value)
        entry["link"] = value
        if value:
            link["href"] = value

    def category(self, entry: dict[str, Any], element: Any) -> None:
        """feedparser's tags: attributes first (deduplicated), then the text fills in a term."""
        attrs = self.attrs(element)
        tags: list[dict[str, str | None]] = entry.setdefault("tags", [])
        self._add_tag(tags, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs)
        value = self.text(element)
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(tags, value, None, {})

    @staticmethod
    def _add_tag(
        tags: list[dict[str, str | None]],
        term: str | None,
        scheme: str | None,
        attrs: Mapping[str, str],
    ) -> None:
        label = attrs.get("label")
        if not term and not scheme and not label:
            return
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)

    def author(self, entry: dict[str, Any], element: Any) -> None:
        """feedparser's author: the element's own text, replaced by `name (email)`, `name` or
        `email` when it has those children."""
        detail: dict[str, str] = {}
        for child in element:
            name = self.name(child)
            if name in ("name", "email"):
                detail[name] = self.text(child, raw=True)
            elif name == "uri":
                detail["href"] = self.text(child, resolve=True)
            elif has_handler(name) or name in ENTRY_KEYS or len(child):
                raise Decline(f"author element {name}")
        if len(element):
            own = "".join([element.text or "", *(c.tail or "" for c in element)]).strip()
            if own:
                raise Decline("text beside an author's elements")
            entry["author"] = ""
        else:
            entry["author"] = self.text(element)
        person, email = detail.get("name"), detail.get("email")
        if person and email:
            entry["author"] = f"{person} ({email})"
        elif person or email:
            entry["author"] = person or email
