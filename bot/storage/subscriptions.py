"""Telegram chats and the topics they subscribed to; and `meta`, Radar's own small values."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.storage.engine import Repository, insert_missing, upsert
from bot.storage.schema import chats, meta, subscriptions


class Subscriptions(Repository):
    def subscribe(
        self,
        chat_id: int,
        topics: Iterable[str],
        now: float,
        kind: str = "private",
        title: str | None = None,
    ) -> list[str]:
        """Add subscriptions; return the topics that were new."""
        with self._db.write() as conn:
            return self._add(conn, chat_id, topics, now, kind, title)

    def unsubscribe(self, chat_id: int, topics: Iterable[str] | None = None) -> list[str]:
        """Remove some (or, with None, all) subscriptions; return the topics removed."""
        with self._db.write() as conn:
            have = _topics(conn, chat_id)
            wanted = have if topics is None else [t for t in dict.fromkeys(topics) if t in have]
            if wanted:
                conn.execute(
                    subscriptions.delete().where(
                        subscriptions.c.chat_id == chat_id, subscriptions.c.topic.in_(wanted)
                    )
                )
            return wanted

    def topics(self, chat_id: int) -> list[str]:
        """What one chat receives, sorted."""
        with self._db.read() as conn:
            return sorted(_topics(conn, chat_id))

    def by_topic(self) -> dict[str, list[int]]:
        """Chat ids by topic, the longest subscribed first (alerts go out in this order, so
        chats that subscribe later, however many, never delay the ones already there)."""
        found: dict[str, list[int]] = {}
        query = sa.select(subscriptions.c.chat_id, subscriptions.c.topic).order_by(
            subscriptions.c.created, subscriptions.c.chat_id
        )
        with self._db.read() as conn:
            for chat_id, topic in conn.execute(query):
                found.setdefault(topic, []).append(int(chat_id))
        return found

    def all(self) -> list[tuple[int, str]]:
        """Every (chat id, topic), the longest subscribed first."""
        query = sa.select(subscriptions.c.chat_id, subscriptions.c.topic).order_by(
            subscriptions.c.created, subscriptions.c.chat_id, subscriptions.c.topic
        )
        with self._db.read() as conn:
            return [(int(chat_id), topic) for chat_id, topic in conn.execute(query)]

    def forget(self, chat_id: int) -> None:
        """The chat is gone (it blocked the bot, or left): drop it and its subscriptions."""
        with self._db.write() as conn:
            conn.execute(subscriptions.delete().where(subscriptions.c.chat_id == chat_id))
            conn.execute(chats.delete().where(chats.c.chat_id == chat_id))

    def move(self, old: int, new: int, now: float, kind: str) -> None:
        """A chat has a new id: its subscriptions move there."""
        with self._db.write() as conn:
            topics = _topics(conn, old)
            conn.execute(subscriptions.delete().where(subscriptions.c.chat_id == old))
            conn.execute(chats.delete().where(chats.c.chat_id == old))
            if topics:
                self._add(conn, new, topics, now, kind, None)

    def chat_count(self) -> int:
        with self._db.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(chats)) or 0)

    def subscribed_chat_count(self) -> int:
        """How many chats subscribe to at least one topic (what TELEGRAM_MAX_CHATS caps)."""
        query = sa.select(sa.func.count(sa.distinct(subscriptions.c.chat_id)))
        with self._db.read() as conn:
            return int(conn.scalar(query) or 0)

    def _add(
        self,
        conn: Connection,
        chat_id: int,
        topics: Iterable[str],
        now: float,
        kind: str,
        title: str | None,
    ) -> list[str]:
        row = {"chat_id": chat_id, "kind": kind, "title": title, "created": now}
        insert_missing(conn, chats, [row], ["chat_id"])
        have = set(_topics(conn, chat_id))
        added = [t for t in dict.fromkeys(topics) if t not in have]
        rows = [{"chat_id": chat_id, "topic": t, "created": now} for t in added]
        insert_missing(conn, subscriptions, rows, ["chat_id", "topic"])
        return added


def _topics(conn: Connection, chat_id: int) -> list[str]:
    query = sa.select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id)
    return list(conn.scalars(query))


class Meta(Repository):
    """Small named values (the Telegram update offset)."""

    def get(self, key: str) -> str | None:
        with self._db.read() as conn:
            return conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))

    def set(self, key: str, value: str) -> None:
        with self._db.write() as conn:
            upsert(conn, meta, {"key": key, "value": value}, ["key"])
