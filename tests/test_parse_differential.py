"""The fast parse path (bot/fastparse.py) against feedparser, the reference: for every feed the
fast path accepts, `parse_feed` must give exactly the items feedparser gives; where they would
differ, the fast path must decline.

Small feeds written here cover RSS 2.0, Atom, RSS 1.0, CDATA, HTML in titles, entities, relative
links, odd dates, missing GUIDs and encodings. The slow runs go over the real-feeds corpus
(RADAR_REAL_FEEDS, else ../shared/corpora/real-feeds) and feedparser's own test corpus
(RADAR_FEEDPARSER_CORPUS, which .ci/run downloads).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest

from bot import fastparse
from bot.errors import FeedParseError
from bot.models import Item
from bot.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
REAL_FEEDS = Path(
    os.environ.get("RADAR_REAL_FEEDS") or ROOT.parent / "shared" / "corpora" / "real-feeds"
)
FEEDPARSER_CORPUS = os.environ.get("RADAR_FEEDPARSER_CORPUS")
URL = "https://news.example.com/feeds/main.xml"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def both(body: bytes, content_type: str | None = "application/xml", url: str = URL):
    """(fast result, reference result, decline reason or None); a result may be an exception."""
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    try:
        fastparse.parse_or_decline(body, headers)
        reason = None
    except fastparse.Decline as exc:
        reason = str(exc)

    def run():
        try:
            return parse_feed(
                body, feed_url=url, base_url=url, content_type=content_type, with_content=True
            )
        except FeedParseError as exc:
            return exc

    fast = run()
    with mock.patch.object(fastparse, "parse", lambda *args: None):
        reference = run()
    return fast, reference, reason


def differences(fast, reference) -> list[str]:
    if isinstance(fast, Exception) or isinstance(reference, Exception):
        same = type(fast) is type(reference) and str(fast) == str(reference)
        return [] if same else [f"outcome: {reference!r} != {fast!r}"]
    found = []
    for name in ("title", "warning"):
        if getattr(fast, name) != getattr(reference, name):
            found.append(f"feed {name}: {getattr(reference, name)!r} != {getattr(fast, name)!r}")
    if len(fast.items) != len(reference.items):
        return [*found, f"items: {len(reference.items)} != {len(fast.items)}"]
    for number, (mine, theirs) in enumerate(zip(fast.items, reference.items, strict=True)):
        for field in dataclasses.fields(mine):
            a, b = getattr(theirs, field.name), getattr(mine, field.name)
            if a != b:
                found.append(f"item {number} {field.name}: {a!r} != {b!r}")
    return found


def rss(items: str, channel: str = "", head: str = "", namespaces: str = "") -> bytes:
    return (
        f"{head or XML_DECLARATION}\n"
        f'<rss version="2.0" {namespaces}><channel><title>Wire &amp; Co</title>'
        f"<link>https://news.example.com/</link><language>en-GB</language>{channel}"
        f"{items}</channel></rss>"
    ).encode()


DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
CONTENT = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
ATOM_NS = 'xmlns:atom="http://www.w3.org/2005/Atom"'

HANDLED = {
    # feedparser's descriptions: a second one after a summary and before any content is the
    # content; a deeper one never replaces a shallower summary.
    "two descriptions": rss(
        "<item><title>t</title><description>one</description><description>two</description></item>"
    ),
    "media description": rss(
        "<item><title>t</title><media:description>about</media:description></item>",
        namespaces=MEDIA,
    ),
    "media description in a group, after the description": rss(
        "<item><title>t</title><description>the story</description><media:group>"
        '<media:content url="https://cdn.example.com/v.mp4"/>'
        '<media:description type="plain">a video</media:description></media:group></item>',
        namespaces=MEDIA,
    ),
    "media description in a content, before the description": rss(
        '<item><title>t</title><media:content url="https://cdn.example.com/p.jpg">'
        "<media:description>a photo</media:description></media:content>"
        "<description>the story</description></item>",
        namespaces=MEDIA,
    ),
    "media description with encoded content": rss(
        "<item><title>t</title><content:encoded><![CDATA[<p>full</p>]]></content:encoded>"
        "<media:description>caption</media:description><description>short</description></item>",
        namespaces=MEDIA + ' xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    ),
    "rss basics": rss(
        "<item><title>US adds firms to the Entity List</title>"
        "<link>https://news.example.com/a?utm_source=x&amp;id=1</link>"
        "<guid>https://news.example.com/a</guid><pubDate>Tue, 10 Jun 2025 14:00:00 GMT</pubDate>"
        "<description>The &lt;b&gt;rule&lt;/b&gt; covers chips.</description></item>"
        "<item><title><![CDATA[Chips <em>and</em> tools & more]]></title>"
        "<description><![CDATA[<p>Tools, &amp; <a href='/x'>more</a></p>]]></description>"
        "<link>/relative/story</link><pubDate>10 Jun 2025 16:00 +0200</pubDate></item>"
    ),
    "guids and links": rss(
        '<item><title>Permalink GUID, no link</title><guid isPermaLink="true">/p/1</guid></item>'
        '<item><title>Opaque GUID</title><guid isPermaLink="false">abc-123</guid>'
        "<link>https://news.example.com/b</link></item>"
        "<item><title>Relative GUID before a link</title><guid>42</guid>"
        "<link>https://news.example.com/c</link></item>"
        "<item><title>No GUID, no link</title><description>only a summary</description></item>"
        "<item><description>No title at all, a summary that becomes one</description>"
        "<link>https://news.example.com/d</link></item>"
        "<item><link>https://news.example.com/e#frag</link></item>"
    ),
    "odd dates": rss(
        "<item><title>a</title><pubDate>Mon, 31 Feb 2025 10:00:00 GMT</pubDate></item>"
        "<item><title>b</title><pubDate>yesterday</pubDate></item>"
        "<item><title>c</title><pubDate>2025-06-10T14:00:00+08:00</pubDate></item>"
        "<item><title>d</title><pubDate>Tue, 10 Jun 2025 14:00:00 EDT</pubDate></item>"
        "<item><title>e</title><dc:date>2025-06-10</dc:date></item>"
        "<item><title>f</title><pubDate></pubDate><dc:date>2025-06-11T01:02:03Z</dc:date></item>",
        namespaces=DC,
    ),
    "entities and html in titles": rss(
        "<item><title>Caf&#233; &#8220;quotes&#8221; &amp;amp; &lt;b&gt;bold&lt;/b&gt;</title>"
        "<link>https://news.example.com/f</link></item>"
        "<item><title>Windows-1252 codes &#150; &#147;here&#148;</title>"
        "<link>https://news.example.com/g</link></item>"
        "<item><title>Mojibake: Ã©tÃ© â€” fixed by feedparser</title>"
        "<link>https://news.example.com/h</link></item>"
        "<item><title>   </title><title>Second title wins when the first is empty</title>"
        "<title>Third is ignored</title><link>https://news.example.com/i</link></item>"
    ),
    "categories, authors, sources, content": rss(
        "<item><title>Tagged</title><link>https://news.example.com/j</link>"
        '<category>Trade</category><category domain="d">Chips</category>'
        '<category domain="d">Chips</category><category>Trade</category><category/>'
        "<dc:subject>Policy</dc:subject><dc:creator>Ana Writer</dc:creator>"
        '<source url="https://wire.example.org/rss">The Wire</source>'
        "<content:encoded><![CDATA[<p>Full text</p>]]></content:encoded>"
        "<description>Short text</description><dc:language>fr</dc:language></item>"
        "<item><title>Content only</title><link>https://news.example.com/k</link>"
        "<content:encoded>&lt;p&gt;Body as the summary&lt;/p&gt;</content:encoded>"
        "<author>desk@example.com (The Desk)</author>"
        '<enclosure url="https://cdn.example.com/a.mp3" type="audio/mpeg" length="1"/>'
        '<media:content url="https://cdn.example.com/a.jpg"><media:title>Photo</media:title>'
        "</media:content><comments>https://news.example.com/k#c</comments></item>"
        "<item><media:thumbnail url='https://cdn.example.com/t.jpg'><media:title>Media title"
        "</media:title></media:thumbnail><link>https://news.example.com/l</link></item>",
        namespaces=f"{DC} {CONTENT} {MEDIA}",
    ),
    "atom": (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de_DE" xml:base="https://atom.example.com/blog/">'
        b'<title type="html">Atom &amp;lt;Blog&amp;gt;</title><id>urn:uuid:feed</id>'
        b'<link rel="self" href="feed.atom"/><link rel="alternate" type="text/html" href="/"/>'
        b"<entry><title>Relative link in xml:base</title><id>urn:uuid:1</id>"
        b'<link href="posts/1"/><link rel="enclosure" href="a.mp3"/>'
        b"<updated>2025-06-10T14:00:00Z</updated><published>2025-06-09T08:00:00-05:00</published>"
        b"<author><name>Kim</name><email>kim@example.com</email><uri>/kim</uri></author>"
        b'<category term="export-controls" label="Export controls"/><category term="chips"/>'
        b'<summary type="text">Plain &lt;summary&gt;</summary>'
        b'<content type="html" xml:base="https://atom.example.com/other/">&lt;p&gt;Full&lt;/p&gt;</content>'
        b"</entry>"
        b"<entry><id>https://atom.example.com/blog/2</id><title>ID is the link</title>"
        b"<author><name>Only a name</name></author><updated>2025-06-11T00:00:00+01:00</updated>"
        b'<content type="text">Content becomes the summary</content></entry>'
        b"<entry><id>tag:example.com,2025:3</id><title></title>"
        b'<link rel="alternate" type="application/pdf" href="3.pdf"/>'
        b"<author><email>desk@example.com</email></author></entry>"
        b"</feed>"
    ),
    "rss 1.0": (
        '<?xml version="1.0"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://rdf.example.com/"><title>RDF wire</title>'
        "<link>https://rdf.example.com/</link><dc:language>ja</dc:language>"
        '<items><rdf:Seq><rdf:li rdf:resource="https://rdf.example.com/1"/></rdf:Seq></items>'
        "</channel>"
        '<item rdf:about="https://rdf.example.com/1"><title>半導体の輸出管理</title>'
        "<link>https://rdf.example.com/1</link><dc:date>2025-06-10T09:00:00+09:00</dc:date>"
        "<dc:subject>経済</dc:subject><description>説明</description></item>"
        '<item rdf:about="urn:x:2"><title>Second</title></item>'
        "</rdf:RDF>"
    ).encode(),
    "latin-1 declared": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        b"<title>Caf\xe9</title><item><title>D\xe9cret \xe9t\xe9</title>"
        b"<link>https://news.example.com/m</link></item></channel></rss>"
    ),
    "windows-1252 bytes": (
        b'<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel>'
        b"<title>Quotes</title><item><title>\x93Curly\x94 \x96 dash</title>"
        b"<link>https://news.example.com/n</link></item></channel></rss>"
    ),
    "utf-8 with a BOM": b"\xef\xbb\xbf" + rss("<item><title>BOM</title><guid>g-1</guid></item>"),
    "utf-16": (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>UTF-16</title>'
        "<item><title>Ünïcödé 出口</title><link>https://news.example.com/o</link></item>"
        "</channel></rss>"
    ).encode("utf-16"),
    "namespaced atom links in rss": rss(
        '<item><title>Atom link</title><atom:link rel="alternate" href="https://news.example.com/p"/>'
        "</item>",
        channel='<atom:link rel="self" href="https://news.example.com/feeds/main.xml" '
        'type="application/rss+xml"/>',
        namespaces=ATOM_NS,
    ),
}

DECLINED = {
    "not well-formed": b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
    b"<item><title>Unclosed &amp <b>bold</title></item></channel></rss>",
    "html entity without a DTD": rss("<item><title>A&nbsp;B</title></item>"),
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<rss version="2.0"><channel><title>&lol2;</title><item><title>&lol2;</title></item>'
        b"</channel></rss>"
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title></item>'
        b"</channel></rss>"
    ),
    "markup inside a title": rss("<item><title>Raw <b>markup</b></title></item>"),
    "xhtml content": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>t</title>'
        b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></div>'
        b"</content></entry></feed>"
    ),
    "media description inside rights": rss(
        "<item><title>T</title><description>D</description>"
        "<rights><media:description>X</media:description></rights></item>",
        namespaces=MEDIA,
    ),
    "media title inside copyright": rss(
        "<item><guid>g1</guid><copyright><media:title>X</media:title></copyright>"
        "<description>D</description></item>",
        namespaces=MEDIA,
    ),
    "no entries": rss(""),
    "an HTML page": b"<!DOCTYPE html><html><head><title>Not a feed</title></head></html>",
    "xml:base on an item": rss(
        '<item xml:base="https://elsewhere.example/"><title>t</title></item>'
    ),
}


@pytest.mark.parametrize("name", sorted(HANDLED))
def test_fast_path_gives_what_feedparser_gives(name):
    fast, reference, reason = both(HANDLED[name])
    assert reason is None, f"the fast path declined: {reason}"
    assert not isinstance(reference, Exception)
    assert reference.items, "a case that tests nothing"
    assert differences(fast, reference) == []


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_fast_path_declines_what_it_does_not_reproduce(name):
    fast, reference, reason = both(DECLINED[name])
    assert reason is not None
    assert differences(fast, reference) == []


@pytest.mark.parametrize(
    "content_type", [None, "text/xml", "text/html", "application/rss+xml; charset=iso-8859-1"]
)
def test_content_types_and_charsets_agree(content_type):
    body = HANDLED["latin-1 declared"]
    fast, reference, _ = both(body, content_type)
    assert differences(fast, reference) == []


def test_a_local_file_path_as_the_feed_url():
    fast, reference, reason = both(HANDLED["rss basics"], None, url="examples/feeds/wire.xml")
    assert reason is None
    assert differences(fast, reference) == []


def agreement(paths: list[Path], record_property, label: str) -> dict:
    """Run the differential over files; every accepted file must agree field by field."""
    counts: Counter[str] = Counter()
    per_field: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    disagreements: list[str] = []
    for path in paths:
        fast, reference, reason = both(path.read_bytes())
        counts["files"] += 1
        if reason is not None:
            declines[reason.split(":")[0]] += 1
            continue
        counts["fast_path_files"] += 1
        if not isinstance(reference, Exception):
            counts["items"] += len(reference.items)
            if not isinstance(fast, Exception) and len(fast.items) == len(reference.items):
                counts["identical_items"] += sum(
                    a == b for a, b in zip(fast.items, reference.items, strict=True)
                )
                for field in dataclasses.fields(Item):
                    per_field[field.name] += sum(
                        getattr(a, field.name) == getattr(b, field.name)
                        for a, b in zip(fast.items, reference.items, strict=True)
                    )
        disagreements += [f"{path.name}: {d}" for d in differences(fast, reference)]
    summary = {
        **counts,
        "per_field_identical": dict(per_field),
        "declines": dict(declines.most_common()),
    }
    record_property(label, summary)
    print(f"{label}: {summary}")
    assert disagreements == []
    return summary


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not REAL_FEEDS.is_dir(), reason=f"{REAL_FEEDS} is absent (set RADAR_REAL_FEEDS)"
)
def test_real_feeds_agree(record_property):
    paths = sorted(REAL_FEEDS.glob("*.xml"))
    summary = agreement(paths, record_property, "real_feeds_differential")
    assert summary["fast_path_files"] > len(paths) // 2


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not FEEDPARSER_CORPUS,
    reason="RADAR_FEEDPARSER_CORPUS is not set (.ci/run downloads feedparser's test corpus)",
)
def test_feedparser_corpus_agrees(record_property):
    root = Path(FEEDPARSER_CORPUS or "")
    paths = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom", ".rss")
    )
    assert len(paths) > 1000, f"expected feedparser's corpus in {root}"
    agreement(paths, record_property, "feedparser_corpus_differential")
