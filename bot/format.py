"""What an alert says, for each destination: pure functions from an `AlertView` to a message.

Console text and JSON, Slack Block Kit with a plain-text fallback, Telegram HTML within 4,096
characters. Every piece of feed text is escaped for its destination.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SEVERITY_MARK = {"high": "🔴", "medium": "🟠", "low": "🟡"}
TELEGRAM_LIMIT = 4096
SLACK_SECTION_LIMIT = 3000
TITLE_LIMIT = 300


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
    """mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    label = slack_escape(label).replace("|", "¦")
    if not url:
        return label
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{label}>"


def slack_message(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage."""
    title = _shorten(view.title, TITLE_LIMIT)
    outlet = slack_escape(view.outlet)
    if view.is_followup:
        text = f"Also reported by {outlet}: {slack_escape(title)}"
        section = f"Also reported by *{outlet}*: {_slack_link(view.link, title)}"
        return text, [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _shorten(section, SLACK_SECTION_LIMIT)},
            }
        ]
    rule_line = " · ".join(
        f"{SEVERITY_MARK.get(r.severity, '')} *{slack_escape(r.title)}* ({r.severity})"
        for r in view.rules
    )
    text = f"[{view.severity.upper()}] {slack_escape(title)} — {outlet}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _shorten(f"*{_slack_link(view.link, title)}*", SLACK_SECTION_LIMIT),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _shorten(
                        f"{outlet} · {when(view.published)} · {rule_line}", SLACK_SECTION_LIMIT
                    ),
                }
            ],
        },
    ]
    words = _words(view.rules)
    if words:
        matched = ", ".join(f"`{slack_escape(w).replace('`', 'ˋ')}`" for w in words[:20])
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _shorten(f"Matched: {matched}", SLACK_SECTION_LIMIT)}
                ],
            }
        )
    return text, blocks


# -- Telegram ----------------------------------------------------------------------------


def _h(text: str) -> str:
    return html.escape(text, quote=False)


def telegram_html(view: AlertView) -> str:
    """HTML parse-mode text, escaped, never longer than Telegram's 4,096 characters."""
    link = html.escape(view.link, quote=True) if view.link else None

    outlet = _h(_shorten(view.outlet, 200))

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
