"""Telegram commands as pure decisions: a command and the chat's state in, changes and a reply out.

`/start`, `/help`, `/topics` (with a keyboard that toggles subscriptions), `/subscribe TOPIC…`,
`/unsubscribe TOPIC…|all`, `/list`. In groups only administrators may change subscriptions;
with `TELEGRAM_ALLOWED_CHATS` set, other chats get a polite refusal to whatever they send, and
without it a chat cannot subscribe once `TELEGRAM_MAX_CHATS` chats have. The shell in
`bot.deliver.telegram_commands` fetches what these functions need and carries out what they return
(refusals at most once a day per chat).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

CHANGING = frozenset({"subscribe", "unsubscribe", "toggle"})
TOGGLE_PREFIX = "toggle:"
MAX_ECHOED = 10  # unknown topics named back in a reply
ECHO_LENGTH = 40  # characters of each


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Chat:
    """What a decision needs to know about the chat a command came from."""

    id: int
    kind: str = "private"  # private, group, supergroup, channel
    allowed: bool = True
    is_admin: bool = True  # the sender may change this chat's subscriptions
    subscribed: frozenset[str] = frozenset()
    room: bool = True  # another chat may subscribe (TELEGRAM_MAX_CHATS not reached)
    max_chats: int = 0

    @property
    def is_group(self) -> bool:
        return self.kind in ("group", "supergroup")


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do: subscription changes, a reply (HTML), and for a keyboard press, a notice.
    A `refusal` is the reply to a chat Radar does not serve: sent at most once in a while."""

    reply: str | None = None
    keyboard: tuple[tuple[Button, ...], ...] | None = None
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    notice: str | None = None
    refresh_keyboard: bool = False
    refusal: bool = False


def parse(text: str, bot_username: str | None = None) -> tuple[str, list[str]] | None:
    """`/subscribe@RadarBot chip-export, ai-summit` → ("subscribe", ["chip-export", "ai-summit"]).

    None when the text is not a command, or is a command for another bot.
    """
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, _, rest = text.partition(" ")
    name, _, target = head[1:].partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    args = [a.strip().lower() for a in rest.replace(",", " ").split() if a.strip()]
    return name.lower(), args


def needs_admin(command: str) -> bool:
    return command in CHANGING


def _h(text: str) -> str:
    return html.escape(text, quote=False)


def _topic_lines(topics: Sequence[Topic], subscribed: frozenset[str]) -> str:
    lines = []
    for topic in topics:
        mark = "✅" if topic.id in subscribed else "▫️"
        lines.append(f"{mark} <code>{_h(topic.id)}</code> — {_h(topic.title)}")
    return "\n".join(lines)


def keyboard(topics: Sequence[Topic], subscribed: frozenset[str]) -> tuple[tuple[Button, ...], ...]:
    """One button per topic; pressing it toggles the subscription."""
    return tuple(
        (Button(f"{'✅' if t.id in subscribed else '➕'} {t.title}", f"{TOGGLE_PREFIX}{t.id}"),)
        for t in topics
    )


def _help(topics: Sequence[Topic]) -> str:
    example = topics[0].id if topics else "TOPIC"
    return (
        "<b>Radar</b> sends alerts when news of new restrictions breaks.\n\n"
        "/topics — the topics, with buttons to subscribe\n"
        f"/subscribe {example} — alerts on a topic (several at once work too)\n"
        "/unsubscribe TOPIC — stop one topic; <code>/unsubscribe all</code> stops everything\n"
        "/list — what this chat receives\n"
        "/help — this message"
    )


def _refusal(chat: Chat) -> Outcome:
    return Outcome(
        reply=(
            "Sorry, this Radar bot only serves approved chats. "
            f"Ask its operator to add this chat's id (<code>{chat.id}</code>) to TELEGRAM_ALLOWED_CHATS."
        ),
        refusal=True,
    )


def _full(chat: Chat) -> Outcome:
    return Outcome(
        reply=(
            f"Sorry, this Radar bot already sends alerts to as many chats as it may ({chat.max_chats}). "
            f"Ask its operator to add this chat's id (<code>{chat.id}</code>) to TELEGRAM_ALLOWED_CHATS."
        ),
        refusal=True,
    )


def _admins_only() -> str:
    return "Only group administrators can change this group's subscriptions."


def _unknown(unknown: Sequence[str], topics: Sequence[Topic]) -> str:
    valid = ", ".join(f"<code>{_h(t.id)}</code>" for t in topics) or "none yet"
    names = ", ".join(
        f"<code>{_h(u if len(u) <= ECHO_LENGTH else u[: ECHO_LENGTH - 1] + '…')}</code>"
        for u in unknown[:MAX_ECHOED]
    )
    if len(unknown) > MAX_ECHOED:
        names += f" and {len(unknown) - MAX_ECHOED} more"
    return f"Unknown topic{'s' if len(unknown) > 1 else ''}: {names}. Valid topics: {valid}."


def handle_text(chat: Chat) -> Outcome:
    """A message that is not a command: in a private chat, a pointer to /help (or the
    refusal); in a group, nothing."""
    if chat.is_group:
        return Outcome()
    if not chat.allowed:
        return _refusal(chat)
    return Outcome(reply="Send /help to see what I can do.")


def handle(command: str, args: Sequence[str], chat: Chat, topics: Sequence[Topic]) -> Outcome:
    """The outcome of a command sent in a chat."""
    known = {t.id: t for t in topics}
    if not chat.allowed:
        return _refusal(chat)
    if command == "start":
        intro = "Welcome to <b>Radar</b>. " if not chat.subscribed else ""
        return Outcome(
            reply=f"{intro}{_help(topics)}\n\n<b>Topics</b>\n{_topic_lines(topics, chat.subscribed)}",
            keyboard=keyboard(topics, chat.subscribed) if chat.is_admin else None,
        )
    if command == "help":
        return Outcome(reply=_help(topics))
    if command == "topics":
        return Outcome(
            reply=f"<b>Topics</b>\n{_topic_lines(topics, chat.subscribed)}\n\nPress a button to subscribe or unsubscribe.",
            keyboard=keyboard(topics, chat.subscribed) if chat.is_admin else None,
        )
    if command == "list":
        if not chat.subscribed:
            return Outcome(reply="This chat has no subscriptions. See /topics.")
        names = [known[t].title if t in known else t for t in sorted(chat.subscribed)]
        return Outcome(reply="This chat receives:\n" + "\n".join(f"• {_h(n)}" for n in names))
    if command in ("subscribe", "unsubscribe"):
        if command == "subscribe" and args and not chat.subscribed and not chat.room:
            return _full(chat)
        if chat.is_group and not chat.is_admin:
            return Outcome(reply=_admins_only())
        return _change(command, args, chat, topics)
    return Outcome(reply=f"I don't know /{_h(command)}.\n\n{_help(topics)}")


def _change(command: str, args: Sequence[str], chat: Chat, topics: Sequence[Topic]) -> Outcome:
    known = {t.id for t in topics}
    if not args:
        return Outcome(
            reply=f"Which topic? For example <code>/{command} {topics[0].id if topics else 'TOPIC'}</code>.\n\n"
            f"<b>Topics</b>\n{_topic_lines(topics, chat.subscribed)}",
            keyboard=keyboard(topics, chat.subscribed),
        )
    if command == "unsubscribe" and "all" in args:
        removed = tuple(sorted(chat.subscribed))
        text = "Unsubscribed from everything." if removed else "This chat had no subscriptions."
        return Outcome(reply=text, unsubscribe=removed)
    unknown = [a for a in dict.fromkeys(args) if a not in known]
    wanted = [a for a in dict.fromkeys(args) if a in known]
    parts = []
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    if command == "subscribe":
        new = tuple(t for t in wanted if t not in chat.subscribed)
        already = [t for t in wanted if t in chat.subscribed]
        if new:
            parts.append("Subscribed to " + ", ".join(f"<code>{_h(t)}</code>" for t in new) + ".")
        if already:
            parts.append(
                "Already subscribed to " + ", ".join(f"<code>{_h(t)}</code>" for t in already) + "."
            )
        subscribe = new
    else:
        gone = tuple(t for t in wanted if t in chat.subscribed)
        absent = [t for t in wanted if t not in chat.subscribed]
        if gone:
            parts.append(
                "Unsubscribed from " + ", ".join(f"<code>{_h(t)}</code>" for t in gone) + "."
            )
        if absent:
            parts.append(
                "Not subscribed to " + ", ".join(f"<code>{_h(t)}</code>" for t in absent) + "."
            )
        unsubscribe = gone
    if unknown:
        parts.append(_unknown(unknown, topics))
    return Outcome(reply=" ".join(parts), subscribe=subscribe, unsubscribe=unsubscribe)


def handle_toggle(data: str, chat: Chat, topics: Sequence[Topic]) -> Outcome:
    """A press on a /topics keyboard button."""
    topic = data.removeprefix(TOGGLE_PREFIX)
    if not chat.allowed:
        return Outcome(notice="This chat is not approved for Radar alerts.")
    if not chat.subscribed and not chat.room:
        return Outcome(notice=f"This Radar bot already serves {chat.max_chats} chats.")
    if chat.is_group and not chat.is_admin:
        return Outcome(notice=_admins_only())
    if topic not in {t.id for t in topics}:
        return Outcome(notice="That topic no longer exists.", refresh_keyboard=True)
    if topic in chat.subscribed:
        return Outcome(
            unsubscribe=(topic,), notice=f"Unsubscribed from {topic}", refresh_keyboard=True
        )
    return Outcome(subscribe=(topic,), notice=f"Subscribed to {topic}", refresh_keyboard=True)
