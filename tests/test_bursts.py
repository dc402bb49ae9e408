"""A burst from one feed goes as one summary, so it never delays another feed's alert."""

from __future__ import annotations

from collections import Counter

import pytest
from feedserver import now_rfc822, rss, static
from helpers import (
    CHIP_RULE,
    cli,
    distinct_items,
    environment,
    run_once,
    stored,
    write_feeds,
    write_rules,
)

from bot.digest import Digest, DigestEntry, slack_digest, telegram_digest
from bot.format import SLACK_SECTION_LIMIT, TELEGRAM_LIMIT

BURST = 1000
REAL = "US Commerce Department adds 140 Chinese chipmakers to the Entity List"


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_a_thousand_item_burst_does_not_delay_a_real_story(tmp_path, feed_server, slack):
    burst = feed_server.set("/burst.xml", static(rss(distinct_items(BURST))))
    real_item = {
        "title": REAL,
        "link": "https://wire.example.org/entity-list",
        "guid": "https://wire.example.org/entity-list",
        "pubDate": now_rfc822(-30),
    }
    real = feed_server.set("/real.xml", static(rss([real_item])))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": burst, "name": "Junk"}, {"url": real, "name": "Wire"}],
        {"baseline": False},
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules", [CHIP_RULE]), feeds)
    env.update(SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.api_url)
    done = cli(["run", "--once"], env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    posted = slack.in_channel("#export-controls")
    # One summary for the burst (its alerts and follow-ups), and the real story.
    assert len(posted) == 2, [p["text"][:80] for p in posted]
    [summary] = [p for p in posted if "new alerts from Junk in one poll" in p["text"]]
    assert summary["text"].startswith(f"{BURST} new alerts from Junk in one poll")
    [alert] = [p for p in posted if REAL in p["text"]]
    assert abs(alert["at"] - summary["at"]) < 3.0  # one message's spacing, not 1,000
    assert f"{BURST + 1} messages delivered" in done.stderr
    rows = stored(f"sqlite:///{tmp_path / 'radar.db'}", lambda store: store.outbox.all())
    statuses = dict(Counter(d.status for d in rows))
    assert statuses == {"sent": BURST + 1}  # every alert accounted for, none left pending


def test_a_burst_under_the_limit_goes_alert_by_alert(tmp_path, feed_server, slack, clock):
    url = feed_server.set("/wire.xml", static(rss(distinct_items(3))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], {"baseline": False})
    env = environment(
        tmp_path, write_rules(tmp_path / "rules", [CHIP_RULE]), feeds, RADAR_BURST_LIMIT="3"
    )
    env.update(SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.api_url)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 3
    assert len(slack.in_channel("#export-controls")) == 3


def _digest(count: int) -> Digest:
    entries = tuple(
        DigestEntry(f"<b>Headline {n} & more</b>", f"https://news.example.com/{n}?a=1&b=2")
        for n in range(count)
    )
    return Digest("Junk <wire>", ("Chip export controls",), entries)


def test_summaries_fit_one_message_and_escape_feed_text():
    text = telegram_digest(_digest(1000))
    assert len(text) <= TELEGRAM_LIMIT
    assert text.startswith("<b>1000 new alerts from Junk &lt;wire&gt; in one poll</b>")
    assert "&lt;b&gt;Headline 0 &amp; more&lt;/b&gt;" in text
    assert 'href="https://news.example.com/0?a=1&amp;b=2"' in text
    assert text.rstrip().splitlines()[-1].startswith("… and ")
    fallback, blocks = slack_digest(_digest(1000))
    assert fallback.startswith("1000 new alerts from Junk &lt;wire&gt; in one poll")
    assert all(len(b["text"]["text"]) <= SLACK_SECTION_LIMIT for b in blocks if "text" in b)
    assert (
        "<https://news.example.com/0?a=1&b=2|&lt;b&gt;Headline 0 &amp; more&lt;/b&gt;>"
        in (blocks[2]["text"]["text"])
    )
    assert blocks[2]["text"]["text"].splitlines()[-1].startswith("… and ")
    short = telegram_digest(_digest(2))
    assert "… and" not in short and short.count("• ") == 2
