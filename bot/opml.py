"""OPML, the feed readers' exchange format: read the feeds out of one, write one from ours.

An OPML file comes from elsewhere, so reading it is bounded: at most `MAX_BYTES`, and no DTD
(so no entities to expand, nothing fetched).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from bot.errors import ConfigError
from bot.models import FeedSpec

MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Outline:
    """A feed found in an OPML file."""

    url: str
    title: str | None
    tags: tuple[str, ...] = ()


def _tags(category: str | None, folders: Sequence[str]) -> tuple[str, ...]:
    """OPML 2.0 categories (`/news/tech,/primary`: the last part of each) and the folders an
    outline sits in, as tags without repeats."""
    found: list[str] = []
    for part in (category or "").split(","):
        leaf = part.strip().strip("/").rsplit("/", 1)[-1].strip()
        if leaf:
            found.append(leaf)
    found.extend(folders)
    return tuple(dict.fromkeys(found))


def _walk(element: ET.Element, folders: tuple[str, ...]) -> Iterator[Outline]:
    for child in element:
        if child.tag != "outline":
            continue
        label = (child.get("title") or child.get("text") or "").strip() or None
        url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
        if url:
            yield Outline(url, label, _tags(child.get("category"), folders))
        yield from _walk(child, (*folders, label) if label and not url else folders)


def read_opml(path: Path) -> list[Outline]:
    """The feeds an OPML file lists (outlines with an `xmlUrl`), in order, folders as tags."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB; not read")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ConfigError(f"{path}: an OPML file with a DTD or entities is refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ConfigError(f"{path}:{line}: not valid XML: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{path}: not an OPML file (no <opml> with a <body>)")
    return list(_walk(body, ()))


def write_opml(feeds: Sequence[FeedSpec], title: str = "Radar feeds") -> str:
    """OPML 2.0 listing web feeds (names as titles, tags as categories)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(root, "body")
    for spec in feeds:
        attributes = {"type": "rss", "text": spec.label, "title": spec.label, "xmlUrl": spec.url}
        if spec.tags:
            attributes["category"] = ",".join(f"/{tag}" for tag in spec.tags)
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
