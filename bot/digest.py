"""One message for a burst: when one feed's poll makes more new alerts for one destination
than `RADAR_BURST_LIMIT`, they go as one summary listing the headlines with their links, so a
flood from one feed never queues other feeds' alerts behind it."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from bot.format import (
    OUTLET_LIMIT,
    SLACK_SECTION_LIMIT,
    TELEGRAM_LIMIT,
    _h,
    _mrkdwn,
    _shorten,
    _slack_fit,
    _slack_headline,
    slack_escape,
)
from bot.urls import safe_link

DIGEST_TITLE_LIMIT = 120  # of each headline in the list


@dataclass(frozen=True, slots=True)
class DigestEntry:
    title: str
    link: str | None


@dataclass(frozen=True, slots=True)
class Digest:
    """The alerts of one burst: the feed's outlet, the rules' titles, every headline."""

    outlet: str
    rules: tuple[str, ...]
    entries: tuple[DigestEntry, ...]


def _fit(lines: list[str], room: int, more: str) -> list[str]:
    """As many lines as fit in `room` characters, then `more` naming how many were left."""
    kept: list[str] = []
    used = 0
    for number, line in enumerate(lines):
        tail = len(more.format(len(lines) - number)) + 1
        if used + len(line) + 1 + tail > room:
            return [*kept, more.format(len(lines) - number)]
        kept.append(line)
        used += len(line) + 1
    return kept


def slack_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): a heading, the rules, and the linked headlines that fit."""
    outlet = _slack_fit(digest.outlet, OUTLET_LIMIT)
    heading = f"{len(digest.entries)} new alerts from {outlet} in one poll"
    rules = slack_escape(_shorten(", ".join(digest.rules), 500))
    lines = [
        "• " + _slack_headline(e.link, _shorten(e.title, DIGEST_TITLE_LIMIT), 400)
        for e in digest.entries
    ]
    listed = "\n".join(_fit(lines, SLACK_SECTION_LIMIT - 10, "… and {} more"))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{heading}*")},
        {"type": "context", "elements": [_mrkdwn(rules or "-")]},
        {"type": "section", "text": _mrkdwn(listed)},
    ]
    return f"{heading}: {rules}", blocks


def telegram_digest(digest: Digest) -> str:
    """HTML: a heading, the rules, and the linked headlines that fit in one message."""
    heading = f"<b>{len(digest.entries)} new alerts from {_h(_shorten(digest.outlet, OUTLET_LIMIT))} in one poll</b>"
    rules = f"<i>{_h(_shorten(', '.join(digest.rules), 500))}</i>"
    lines = []
    for entry in digest.entries:
        title = _h(_shorten(entry.title, DIGEST_TITLE_LIMIT))
        safe = safe_link(entry.link)
        lines.append(
            f'• <a href="{html.escape(safe, quote=True)}">{title}</a>' if safe else f"• {title}"
        )
    room = TELEGRAM_LIMIT - len(heading) - len(rules) - 2
    return "\n".join([heading, rules, *_fit(lines, room, "… and {} more")])
