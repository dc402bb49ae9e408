"""The element walk under the fast parse path (`bot.fastparse`): lxml builds the tree, and this
module names its elements, attributes and text the way feedparser's strict, expat-driven parser
does, so that the mapping onto feedparser's keys can be written in feedparser's own terms.

The parser never loads a DTD, resolves no entities, reaches no network and refuses huge trees,
so entity bombs and external entities (XXE) fail to parse and go to feedparser, which handles
them safely.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from typing import Any

from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_KNOWN = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
HTML_TYPES = {"application/xhtml+xml", "text/html"}
_TEXT_TYPES = {"text/plain", "text/html"}
_C1 = re.compile("[\x80-\x9f]")  # what feedparser's windows-1252 table maps

TITLE = {"title", "dc_title"}
SUMMARY = {"description", "summary", "dc_description"}
CONTENT = {"content", "content_encoded"}


class Decline(Exception):
    """The fast path does not handle this document; feedparser will."""


def has_handler(name: str) -> bool:
    return hasattr(_FeedParserMixin, f"_start_{name}") or hasattr(_FeedParserMixin, f"_end_{name}")


def map_type(value: str) -> str:
    return str(_FeedParserMixin.map_content_type(value))


class XmlTree:
    """A parsed document and feedparser's names for its elements, attributes and text."""

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self.prefix_map: dict[str | None, str] = {}
        self.in_use: dict[str, str] = {}
        self.names: dict[str, str] = {}

    # -- the tree and feedparser's names for its elements --------------------------------

    def load(self) -> tuple[Any, str, dict[str, str]]:
        """The root element, its feedparser name and attributes, with the document's base
        applied; declines what this path does not reproduce (namespace games, `xml:base`)."""
        try:
            context = etree.iterparse(
                io.BytesIO(self.data),
                events=("start-ns",),
                resolve_entities=False,
                no_network=True,
                huge_tree=False,
                remove_comments=True,
                remove_pis=True,
                load_dtd=False,
            )
            declared: dict[str, str] = {}
            for _event, (prefix, uri) in context:
                # A default namespace may change freely: feedparser never names an element
                # by it. A prefix bound to two namespaces would make names depend on order.
                if prefix and declared.setdefault(prefix, uri) != uri:
                    raise Decline("a namespace prefix is declared twice")
                self._track(prefix or None, uri)
            root = context.root
        except etree.XMLSyntaxError as exc:
            raise Decline(f"not well-formed: {exc}") from exc
        if root is None:
            raise Decline("no root element")
        name = self.name(root)
        attrs = self.attrs(root)
        if root_base := attrs.get("xml:base", attrs.get("base")):
            if self.base:
                self.base = make_safe_absolute_uri(self.base, root_base) or self.base
            else:
                self.base = _urljoin(self.base, root_base)
        for element in root.iterdescendants():
            # A base on a text element whose value is never resolved changes nothing.
            if any(_local(k).lower() == "base" for k in element.attrib) and (
                len(element) or self.name(element) not in TITLE | SUMMARY | CONTENT
            ):
                raise Decline("xml:base")
        return root, name, attrs

    def _track(self, prefix: str | None, uri: str) -> None:
        lower = uri.lower()
        if "backend.userland.com/rss" in lower:
            uri = lower = "http://backend.userland.com/rss"
        if lower in _KNOWN:
            self.prefix_map[prefix] = _KNOWN[lower]
            self.in_use[_KNOWN[lower]] = uri
        else:
            if prefix and self.in_use.get(prefix, uri) != uri:
                raise Decline("a prefix bound to two namespaces")
            if prefix and any(p and p != prefix and v == uri for p, v in self.in_use.items()):
                raise Decline("an unknown namespace bound to two prefixes")
            self.in_use[prefix or ""] = uri

    def name(self, element: Any) -> str:
        """The handler name feedparser's strict parser gives an element (`dc_creator`)."""
        tag = element.tag
        if not isinstance(tag, str):
            raise Decline("an unexpected node")
        found = self.names.get(tag)
        if found is None:
            found = self.names[tag] = self._name(tag)
        return found

    def _name(self, tag: str) -> str:
        namespace, local = (tag[1:].split("}", 1)) if tag[0] == "{" else ("", tag)
        lower = namespace.lower()
        if "backend.userland.com/rss" in lower:
            namespace = lower = "http://backend.userland.com/rss"
        local = local.lower()
        known = _KNOWN.get(lower)
        if known:
            qualified = f"{known.lower()}:{local}"
        elif known is None and namespace:
            given = next((p for p, v in self.in_use.items() if p and v == namespace), None)
            qualified = f"{given}:{local}" if given else local
        else:
            qualified = local
        prefix, _, suffix = qualified.rpartition(":")
        if qualified.count(":") > 1:
            raise Decline("a colon in an element name")
        prefix = self.prefix_map.get(prefix, prefix) if prefix else ""
        return f"{prefix}_{suffix}" if prefix else suffix

    @staticmethod
    def attrs(element: Any) -> dict[str, str]:
        """Attributes as feedparser's strict parser names them (lower case, known prefixes)."""
        found: dict[str, str] = {}
        locals_seen: set[str] = set()
        for key, value in element.attrib.items():
            namespace, local = (key[1:].split("}", 1)) if key[0] == "{" else ("", key)
            prefix = _KNOWN.get(namespace.lower(), "") if namespace else ""
            name = f"{prefix}:{local}" if prefix else local
            found[name.lower()] = value
            if local.lower() in locals_seen:
                raise Decline("two attributes with one local name")
            locals_seen.add(local.lower())
        for key, value in element.attrib.items():
            local = key[1:].split("}", 1)[1] if key[0] == "{" else key
            found[local.lower()] = value
        for key in ("rel", "type"):
            if key in found:
                found[key] = found[key].lower()
        return found

    # -- values ---------------------------------------------------------------------------

    def text(self, element: Any, *, resolve: bool = False, raw: bool = False) -> str:
        """An element's text as feedparser pops it: stripped, then (unless raw) resolved if a
        URI, repaired if UTF-8 read as Latin-1, windows-1252 codes mapped."""
        if len(element):
            raise Decline(f"markup inside {self.name(element)}")
        value = (element.text or "").strip()
        if raw:
            return value
        if resolve and value:
            value = str(_urljoin(self.base, value))
        if value.isascii():
            return value
        with contextlib.suppress(UnicodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
        return value.translate(_cp1252) if _C1.search(value) else value

    def content_type(self, element: Any, default: str) -> str:
        attrs = self.attrs(element)
        if "mode" in attrs:
            raise Decline("a mode attribute")
        kind = map_type(attrs.get("type", default))
        if kind not in _TEXT_TYPES:
            raise Decline(f"{kind} content")
        return kind

    def resolve(self, href: str) -> str:
        return str(_urljoin(self.base or "", href))


def href_of(attrs: Mapping[str, str]) -> str | None:
    """A link's target as feedparser's `_enforce_href` picks it (`url`, `uri`, then `href`;
    an empty `href` still counts), or None for a link given as text."""
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    return href if href else attrs.get("href")


def namespace_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag[0] == "{" else ""


def _local(key: str) -> str:
    return key[1:].split("}", 1)[1] if key[0] == "{" else key
