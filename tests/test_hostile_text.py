"""Tricks in headlines: terminal escapes, bidi overrides and invisible characters, a spoofed
`<source>`, links with credentials, mentions, and links too long for a message, through parsing,
the console, `radar stories`/`status`/`rules explain`, Slack and Telegram (over real sockets)."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3

import pytest
from feedserver import now_rfc822, static
from helpers import environment, in_process, run_once, write_feeds, write_rules

from bot import fastparse
from bot.deliver.console import ConsoleSender
from bot.format import AlertView, RuleView, slack_message, telegram_html
from bot.models import Item
from bot.parse import parse_feed
from bot.untrusted import for_terminal, json_for_terminal, safe_text
from bot.urls import safe_link

ESC_TITLE = "\x1b]0;pwned\x07\x1b[2J"
BIDI = "\u202e\u2066\u2069\u202a\u202b\u202c\u202d\u200e\u200f\u061c"
INVISIBLE = "\u200b\u2060\ufeff\U000e0041\u00ad"
HOSTILE = f"Export controls on chips {ESC_TITLE}{BIDI}{INVISIBLE}widened \x9b\x85 today"
SPOOF_LINK = "https://www.bis.gov@evil.example/rule"
FEED_NAME = "Federal Register — BIS"


def _feed(title: str, link: str, *, source: str = "Reuters", feed_title: str = "BIS") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{feed_title}</title><link>https://www.federalregister.gov/</link>
<item><title>{title}</title><link>{link}</link><guid>g-{len(title)}</guid>
<pubDate>{now_rfc822(-600)}</pubDate><description>{title}</description>
<author>Clerk{ESC_TITLE}</author><category>trade{BIDI}</category>
<source url="https://reuters.example/">{source}</source></item>
</channel></rss>""".encode()


UNSAFE = set("\x1b\x07\x9b\x85" + BIDI + INVISIBLE)


def _unsafe(text: str) -> list[str]:
    return [c for c in text if c in UNSAFE]


def _env(tmp_path, feed_server, body: bytes, **extra: str) -> dict[str, str]:
    url = feed_server.set("/bis.xml", static(body))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": url, "name": FEED_NAME}], defaults={"baseline": False}
    )
    return environment(tmp_path, write_rules(tmp_path / "rules"), feeds, **extra)


# -- cleaned once, when parsed ---------------------------------------------------------------


def test_every_item_field_is_cleaned_when_parsed():
    parsed = parse_feed(
        _feed(HOSTILE, SPOOF_LINK, source=f"Reuters{BIDI}", feed_title=f"BIS{ESC_TITLE}"),
        feed_url="https://www.federalregister.gov/bis.rss",
        feed_name=FEED_NAME,
    )
    [item] = parsed.items
    # feedparser reads C1 characters as windows-1252 ("\x9b" is "›", "\x85" is "…").
    assert item.title == "Export controls on chips ]0;pwned[2Jwidened ›... today"
    for text in (item.title, item.summary, item.author, item.outlet, *item.categories):
        assert _unsafe(text) == [], repr(text)
    assert parsed.title == "BIS]0;pwned[2J"
    assert item.link is None and item.canonical_link is None, "a link with credentials is refused"


def test_the_fast_parse_path_s_items_are_cleaned_too():
    body = _feed(f"Export controls on chips{BIDI}{INVISIBLE} widened", SPOOF_LINK).replace(
        f"Clerk{ESC_TITLE}".encode(), b"Clerk&#x202e;"
    )
    assert fastparse.parse(body, {"content-location": "https://f/rss"}) is not None, "fast path"
    [item] = parse_feed(body, feed_url="https://f/rss", feed_name=FEED_NAME).items
    assert item.title == "Export controls on chips widened" and item.author == "Clerk"
    assert item.link is None and item.outlet == f"{FEED_NAME} (via Reuters)"


def test_the_configured_feed_name_wins_over_the_items_source():
    body = _feed("Export controls on chips widened", "https://www.federalregister.gov/d/1")
    named = parse_feed(body, feed_url="https://f.example/rss", feed_name=FEED_NAME)
    assert named.items[0].outlet == f"{FEED_NAME} (via Reuters)"
    unnamed = parse_feed(body, feed_url="https://f.example/rss")
    assert unnamed.items[0].outlet == "BIS (via Reuters)", "the feed's own title comes first"
    same = parse_feed(
        _feed("Export controls", "https://f.example/1", source="bis"), feed_url="https://f/rss"
    )
    assert same.items[0].outlet == "BIS"
    named_after_it = parse_feed(
        _feed("Export controls", "https://f.example/1", source="Reuters"),
        feed_url="https://f/rss",
        feed_name="Reuters (world news)",
    )
    assert named_after_it.items[0].outlet == "Reuters (world news)", "no '(via Reuters)'"


def test_any_parser_s_items_are_cleaned():
    """A parser that builds items itself (a fast path) cannot store unsafe text or links."""
    item = Item(
        feed_url="https://f.example/rss",
        guid="g",
        title=HOSTILE,
        link="javascript:alert(1)",
        canonical_link="javascript:alert(1)",
        summary=f"first line\r\nsecond{BIDI} line\u2028third",
        outlet=f"Out{ESC_TITLE}let",
        categories=(BIDI, "ok"),
        language="en-US<script>",
    )
    assert _unsafe(item.title) == [] and item.outlet == "Out]0;pwned[2Jlet"
    assert item.summary == "first line\nsecond line\nthird"
    assert item.link is None
    assert item.categories == ("ok",)
    assert item.language is None, "a language is a tag, never longer than the column"


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://www.bis.gov/rule?id=1#top", True),
        ("HTTP://Example.com:8080/a", True),
        (SPOOF_LINK, False),
        ("https://user:pw@host.example/", False),
        ("https://evil.example\\@www.bis.gov/", False),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("https://bis.gov/\u202egpj.exe", False),
        ("https://bis.gov/a b", False),
        ("https://bis.gov:99999/", False),
        ("https:///no-host", False),
    ],
)
def test_only_plain_web_links_are_linked(link, kept):
    assert (safe_link(link) == link) is kept


def test_text_without_tricks_is_kept_as_written():
    for text in ("Hello, world", "出口管制 半导体", "مرحبا بالعالم", "Ελλάδα", "١٢٣ \u0600"):
        assert safe_text(text) == text


# -- escaped again at the terminal ---------------------------------------------------------


def test_terminal_escaping_is_visible_and_json_keeps_its_values():
    assert for_terminal(f"a{ESC_TITLE}b\u202ec\n\td") == "a\\x1b]0;pwned\\x07\\x1b[2Jb\\u202ec\n\td"
    value = {"title": f"x{ESC_TITLE}\u202e\U000e0041\x9b"}
    text = json_for_terminal(value)
    assert _unsafe(text) == []
    assert json.loads(text) == value


def test_console_alerts_are_escaped_at_the_edge():
    view = AlertView(
        1, "followup", 7, f"Title{ESC_TITLE}", None, f"Out{BIDI}", None, story_title=ESC_TITLE
    )
    for json_lines in (False, True):
        stream = io.StringIO()
        asyncio.run(ConsoleSender(stream, json_lines=json_lines).send("console", view, None))
        assert _unsafe(stream.getvalue()) == []
        assert "\\x1b" in stream.getvalue() or "\\u001b" in stream.getvalue()


def test_console_run_shows_the_feed_name_and_no_escapes(tmp_path, feed_server):
    env = _env(tmp_path, feed_server, _feed(HOSTILE, SPOOF_LINK))
    _, [printed] = run_once(env, json_lines=False)
    assert _unsafe(printed) == []
    assert f"{FEED_NAME} (via Reuters)" in printed
    assert "evil.example" not in printed


def test_stories_status_and_explain_escape_rows_an_older_radar_stored(tmp_path, feed_server):
    env = _env(tmp_path, feed_server, _feed("Export controls on chips widened", "https://f/1"))
    run_once(env)
    with sqlite3.connect(tmp_path / "radar.db") as db:  # as an older version would have stored
        db.execute("UPDATE stories SET title = ?", (HOSTILE,))
        db.execute("UPDATE items SET title = ?, outlet = ?", (HOSTILE, f"R{BIDI}"))
        db.execute("UPDATE feeds SET title = ?, last_error = ?", (ESC_TITLE, ESC_TITLE))
    write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": feed_server.url("/bis.xml")}],  # unnamed: status shows the stored title
        defaults={"baseline": False},
    )
    outputs = {
        "stories": in_process(["stories"], env),
        "story": in_process(["stories", "show", "1"], env),
        "status": in_process(["status"], env),
        "explain": in_process(["rules", "explain", "--item", "1"], env),
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stderr)
        assert _unsafe(result.stdout + result.stderr) == [], name
    assert "\\x1b]0;pwned" in outputs["stories"].stdout
    status = in_process(["status", "--json"], env)
    assert _unsafe(status.stdout) == []
    assert json.loads(status.stdout)["feeds"][0]["name"] == ESC_TITLE


# -- Slack and Telegram --------------------------------------------------------------------


def test_slack_and_telegram_get_clean_text_the_feed_name_and_no_spoofed_link(
    tmp_path, feed_server, slack, telegram, clock
):
    env = _env(
        tmp_path,
        feed_server,
        _feed(HOSTILE, SPOOF_LINK),
        SLACK_BOT_TOKEN=slack.token,
        SLACK_API_URL=slack.api_url,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
    )
    telegram.command(31, "/subscribe chip-export")
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 2
    [posted] = slack.in_channel("#export-controls")
    [_ack, alert] = telegram.messages_to(31)
    for text in (json.dumps(posted, ensure_ascii=False), alert["text"]):
        assert _unsafe(text) == []
        assert "evil.example" not in text
        assert f"{FEED_NAME} (via Reuters)" in text
    assert "<https://" not in posted["blocks"][0]["text"]["text"], "the spoofing link is not linked"
    assert "<a href" not in alert["text"]
    assert alert["link_preview_options"] == {"is_disabled": True}


def test_telegram_link_previews_are_off(tmp_path, feed_server, telegram, clock):
    env = _env(
        tmp_path,
        feed_server,
        _feed("Export controls on chips widened", "https://www.federalregister.gov/d/1"),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
    )
    telegram.command(32, "/help")
    telegram.command(32, "/subscribe chip-export")
    run_once(env, clock=clock)
    sent = telegram.messages_to(32)
    assert len(sent) == 3 and '<a href="https://www.federalregister.gov/d/1">' in sent[2]["text"]
    assert all(m["link_preview_options"] == {"is_disabled": True} for m in sent)


MENTIONS = "Export controls on chips: @channel @here @everyone <!channel> <!here> <@U0123ABC> <!subteam^S1|@team> @Lawmaker_1 told"


def test_no_mention_in_a_headline_can_notify(tmp_path, feed_server, slack, telegram, clock):
    env = _env(
        tmp_path,
        feed_server,
        _feed(MENTIONS, "https://www.federalregister.gov/d/2"),
        SLACK_BOT_TOKEN=slack.token,
        SLACK_API_URL=slack.api_url,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
    )
    telegram.command(-33, "/subscribe chip-export", chat_type="group")
    telegram.admins[-33] = {7}
    run_once(env, clock=clock)
    [posted] = slack.in_channel("#export-controls")
    texts = [posted["text"]] + [
        element["text"]
        for block in posted["blocks"]
        for element in ([block["text"]] if "text" in block else block["elements"])
    ]
    mrkdwn = [
        element
        for block in posted["blocks"]
        for element in ([block["text"]] if "text" in block else block["elements"])
    ]
    assert all(m["type"] == "mrkdwn" and m["verbatim"] is True for m in mrkdwn)
    assert posted["link_names"] in (False, "0", 0) and posted["parse"] == "none"
    for text in texts:
        for mention in ("@channel", "@here", "@everyone", "<!", "<@"):
            assert mention not in text, (mention, text)
    assert "＠channel ＠here ＠everyone &lt;!channel&gt;" in posted["text"]
    [alert] = [m for m in telegram.messages_to(-33) if "href" in m["text"]]
    assert "@Lawmaker_1" not in alert["text"] and "＠Lawmaker_1" in alert["text"]


def _view(link: str, title: str = "Export controls on chips " * 20) -> AlertView:
    return AlertView(1, "alert", 1, title, link, FEED_NAME, None, (RuleView("r", "R", "high"),))


@pytest.mark.parametrize("length", [2_900, 2_990, 3_100, 5_000])
def test_a_long_link_never_cuts_a_slack_section(length):
    link = "https://www.federalregister.gov/d/" + "a" * (length - 34)
    _, blocks = slack_message(_view(link))
    section = blocks[0]["text"]["text"]
    assert len(section) <= 3000
    if length + 25 <= 3000:
        assert section.startswith(f"*<{link}|") and section.endswith(">*"), section[-40:]
    else:
        assert "<" not in section and section.startswith("*Export controls"), "unlinked"
    telegram = telegram_html(_view(link))
    assert len(telegram) <= 4096 and telegram.count("<a ") == telegram.count("</a>")


def test_a_long_link_reaches_slack_whole_or_not_at_all(tmp_path, feed_server, slack, clock):
    link = "https://www.federalregister.gov/d/" + "x" * 2_900
    env = _env(
        tmp_path,
        feed_server,
        _feed("Export controls on chips " * 12, link),
        SLACK_BOT_TOKEN=slack.token,
        SLACK_API_URL=slack.api_url,
    )
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 1 and report.delivered.failed == 0
    [posted] = slack.in_channel("#export-controls")
    section = posted["blocks"][0]["text"]["text"]
    assert len(section) <= 3000 and section.startswith(f"*<{link}|") and section.endswith("…>*")


@pytest.mark.postgres
def test_a_feed_language_longer_than_its_column_is_dropped(tmp_path, feed_server, pg_schema_url):
    """PostgreSQL refused the row (the column holds 35 characters), so the item was lost."""
    body = _feed("Export controls on chips widened", "https://f.example/1").replace(
        b"<channel>", b"<channel><language>" + b"en-" * 40 + b"</language>"
    )
    env = _env(tmp_path, feed_server, body, RADAR_DB=pg_schema_url)
    report, printed = run_once(env)
    assert report.errors == [] and len(printed) == 1
