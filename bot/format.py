"""What an alert says, for each destination: pure functions from an `AlertView` to a message.

Console text and JSON, Slack Block Kit with a plain-text fallback, Telegram HTML within 4,096
characters. Every piece of feed text is escaped for its destination.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.urls import safe_link

SEVERITY_MARK = {"high": "🔴", "medium": "🟠", "low": "🟡"}
TELEGRAM_LIMIT = 4096
SLACK_SECTION_LIMIT = 3000
TITLE_LIMIT = 300
OUTLET_LIMIT = 200
MIN_LABEL = 20  # the fewest characters of headline a Slack link is shown with
# A mention's "@" in feed text is shown as a full-width "＠", which notifies no one: Slack's
# channel-wide mentions, and Telegram's "@name" (5 to 32 letters, digits or underscores).
INERT_AT = "\uff20"
SLACK_BROADCASTS = ("channel", "here", "everyone")
_SLACK_BROADCAST = re.compile(rf"@(?=(?:{'|'.join(SLACK_BROADCASTS)})\b)", re.I)
_TELEGRAM_MENTION = re.compile(r"(?<![\w@])@(?=[A-Za-z0-9_]{5,32}(?![\w]))")
_TAG = re.compile(r"<[^<>]+>")


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    title: str
    severity: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertView:
    """Everything a message about one alert needs, read from storage."""

    alert_id: int
    kind: str  # "alert" or "followup"
    story_id: int
    title: str
    link: str | None
    outlet: str
    published: float | None
    rules: tuple[RuleView, ...] = ()
    story_title: str = ""
    rules_version: str = ""  # of the rules that made the alert: `git:<commit>` or `sha256:<hash>`

    @property
    def is_followup(self) -> bool:
        return self.kind == "followup"

    @property
    def severity(self) -> str:
        order = {"high": 0, "medium": 1, "low": 2}
        return min(
            (r.severity for r in self.rules), key=lambda s: order.get(s, 3), default="medium"
        )


def plural(count: int, noun: str) -> str:
    """`1 feed`, `2 feeds`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "time unknown"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(rules: Sequence[RuleView]) -> list[str]:
    return list(dict.fromkeys(w for r in rules for w in r.words))


# -- console -----------------------------------------------------------------------------


def console_text(view: AlertView) -> str:
    title = _shorten(view.title, TITLE_LIMIT)
    if view.is_followup:
        lines = [f"  ↳ also reported by {view.outlet}: {title}"]
        if view.link:
            lines.append(f"    {view.link}")
        lines.append(f"    (story #{view.story_id}: {_shorten(view.story_title, 80)})")
        return "\n".join(lines)
    lines = [
        f"{SEVERITY_MARK.get(r.severity, '•')} {r.severity.upper()}  {r.title} [{r.id}]"
        for r in view.rules
    ]
    lines.append(f"  {title}")
    lines.append(f"  {view.outlet} · {when(view.published)}")
    if view.link:
        lines.append(f"  {view.link}")
    words = _words(view.rules)
    if words:
        lines.append("  matched: " + ", ".join(f'"{w}"' for w in words[:12]))
    return "\n".join(lines)


def console_json(view: AlertView) -> dict[str, Any]:
    return {
        "alert": view.alert_id,
        "kind": view.kind,
        "story": view.story_id,
        "title": view.title,
        "link": view.link,
        "outlet": view.outlet,
        "published": when(view.published) if view.published else None,
        "rules": [
            {"id": r.id, "title": r.title, "severity": r.severity, "matched": list(r.words)}
            for r in view.rules
        ],
    }


# -- Slack -------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """mrkdwn escaping: `&`, `<` and `>` as entities (so `<!channel>` or `<@U123>` in a
    headline stay text), and `@channel`, `@here`, `@everyone` made inert."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_BROADCAST.sub(INERT_AT, escaped)


def _slack_fit(text: str, room: int) -> str:
    """`text` escaped for mrkdwn in at most `room` characters, shortened before it is escaped
    (so no entity is cut in two)."""
    limit = room
    while limit > 0:
        escaped = slack_escape(_shorten(text, limit))
        if len(escaped) <= room:
            return escaped
        limit = min(limit - 1, limit * room // len(escaped))
    return ""


def _slack_headline(url: str | None, title: str, room: int) -> str:
    """The headline linked to `url` in at most `room` characters. The title is shortened to
    leave room for the whole link: a cut link would break the message. A link too long to
    leave `MIN_LABEL` characters of title is left out, and so is one no message may link to."""
    link = safe_link(url)
    if link is not None:
        target = link.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
        label_room = room - len(target) - len("<|>")
        if label_room >= MIN_LABEL:
            return f"<{target}|{_slack_fit(title, label_room).replace('|', '¦')}>"
    return _slack_fit(title, room)


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object that Slack shows as written: `verbatim` keeps it from turning
    names into links and mentions (only the `<…>` markup Radar writes is parsed)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def slack_message(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage."""
    title = _shorten(view.title, TITLE_LIMIT)
    outlet = _slack_fit(view.outlet, OUTLET_LIMIT)
    if view.is_followup:
        text = f"Also reported by {outlet}: {slack_escape(title)}"
        prefix = f"Also reported by *{outlet}*: "
        headline = _slack_headline(view.link, title, SLACK_SECTION_LIMIT - len(prefix))
        return text, [{"type": "section", "text": _mrkdwn(prefix + headline)}]
    rule_line = " · ".join(
        f"{SEVERITY_MARK.get(r.severity, '')} *{slack_escape(r.title)}* ({r.severity})"
        for r in view.rules
    )
    text = f"[{view.severity.upper()}] {slack_escape(title)} — {outlet}"
    headline = _slack_headline(view.link, title, SLACK_SECTION_LIMIT - len("**"))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{headline}*")},
        {
            "type": "context",
            "elements": [
                _mrkdwn(
                    _shorten(
                        f"{outlet} · {when(view.published)} · {rule_line}", SLACK_SECTION_LIMIT
                    )
                )
            ],
        },
    ]
    words = _words(view.rules)
    if words:
        matched = ", ".join(f"`{slack_escape(w).replace('`', 'ˋ')}`" for w in words[:20])
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(_shorten(f"Matched: {matched}", SLACK_SECTION_LIMIT))],
            }
        )
    return text, blocks


# -- Telegram ----------------------------------------------------------------------------


def _h(text: str) -> str:
    """Feed text for Telegram HTML: escaped, and `@name` mentions made inert."""
    return _TELEGRAM_MENTION.sub(INERT_AT, html.escape(text, quote=False))


def telegram_html(view: AlertView) -> str:
    """HTML parse-mode text, escaped, never longer than Telegram's 4,096 characters."""
    safe = safe_link(view.link)
    link = html.escape(safe, quote=True) if safe else None

    outlet = _h(_shorten(view.outlet, OUTLET_LIMIT))

    def build(title: str, rule_limit: int) -> str:
        headline = f'<a href="{link}">{_h(title)}</a>' if link else f"<b>{_h(title)}</b>"
        if view.is_followup:
            return f"Also reported by <b>{outlet}</b>:\n{headline}"
        rules = "\n".join(
            f"{SEVERITY_MARK.get(r.severity, '•')} <b>{_h(_shorten(r.title, 200))}</b> ({_h(r.severity)})"
            for r in view.rules[:rule_limit]
        )
        lines = [rules, headline, f"<i>{outlet} · {when(view.published)}</i>"]
        words = _words(view.rules)
        if words:
            lines.append("Matched: " + ", ".join(_h(_shorten(w, 60)) for w in words[:20]))
        return "\n".join(lines)

    # Shrink the headline, then the list of rules, until the message fits; the link is kept
    # whole (a cut link is a broken link), and a link too long to fit is dropped.
    title_limit, rule_limit = TITLE_LIMIT, 10
    message = build(_shorten(view.title, title_limit), rule_limit)
    while len(message) > TELEGRAM_LIMIT:
        if title_limit > 40:
            title_limit //= 2
        elif rule_limit > 1:
            rule_limit = 1
        elif link is not None:
            link = None
        else:
            break
        message = build(_shorten(view.title, title_limit), rule_limit)
    return message


def telegram_parts(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """An HTML reply as messages of at most `limit` characters, split between lines (a reply
    never opens a tag on one line and closes it on another). A line too long for a message is
    sent as plain text, in pieces: nothing is dropped."""
    parts: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        for piece in [line] if len(line) <= limit else _plain_pieces(line, limit):
            joined = piece if current is None else f"{current}\n{piece}"
            if len(joined) <= limit:
                current = joined
            else:
                if current is not None:
                    parts.append(current)
                current = piece
    if current is not None and current.strip():
        parts.append(current)
    return parts


def _plain_pieces(line: str, limit: int) -> list[str]:
    """A line of HTML without its tags, escaped again, cut between characters (never inside
    an entity) into pieces of at most `limit` characters."""
    pieces: list[str] = []
    piece: list[str] = []
    size = 0
    for char in html.unescape(_TAG.sub("", line)):
        escaped = html.escape(char, quote=False)
        if size + len(escaped) > limit:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(escaped)
        size += len(escaped)
    if piece:
        pieces.append("".join(piece))
    return pieces
