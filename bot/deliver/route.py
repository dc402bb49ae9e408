"""Where an alert goes: pure routing from rules and subscriptions to destinations.

A destination is a string: `console`, `slack:<channel>` or `telegram:<chat id>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.config import Settings
from bot.rules import Rule

CONSOLE = "console"


def destinations(
    rules: Sequence[Rule], settings: Settings, subscribers: Mapping[str, Sequence[int]]
) -> list[str]:
    """Destinations for an alert on these rules, without repeats, in a stable order."""
    found: dict[str, None] = {}
    if settings.console:
        found[CONSOLE] = None
    if settings.slack_token:
        for rule in rules:
            channels = rule.slack or (
                (settings.slack_default_channel,) if settings.slack_default_channel else ()
            )
            for channel in channels:
                found[f"slack:{channel}"] = None
    if settings.telegram_token:
        for rule in rules:
            if rule.telegram:
                for chat_id in subscribers.get(rule.id, ()):
                    found[f"telegram:{chat_id}"] = None
    return list(found)


def unreachable(rule: Rule, settings: Settings) -> str | None:
    """Why alerts on this rule would reach no destination with these settings, or None.
    (Telegram alerts reach the chats subscribed at the time; a topic may have none yet.)"""
    if settings.console:
        return None
    if settings.slack_token and (rule.slack or settings.slack_default_channel):
        return None
    if settings.telegram_token and rule.telegram:
        return None
    reasons = []
    if settings.slack_token:
        reasons.append("it names no Slack channel and SLACK_DEFAULT_CHANNEL is unset")
    if settings.telegram_token:
        reasons.append("it has `telegram: false`")
    return "; ".join(reasons)


def kind_of(destination: str) -> str:
    return destination.split(":", 1)[0]


def target_of(destination: str) -> str:
    return destination.split(":", 1)[1] if ":" in destination else destination
