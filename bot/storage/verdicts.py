"""Users' verdicts on alerts: one per alert, destination and voter, the latest counting."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bot.storage import records
from bot.storage.engine import Repository
from bot.storage.records import VerdictRecord
from bot.storage.schema import alerts, items, verdicts
from bot.types import Judgement


class Verdicts(Repository):
    def record(
        self, alert_id: int, destination: str, voter: str, verdict: Judgement, now: float
    ) -> bool:
        """Store a voter's verdict on an alert sent to `destination` (replacing theirs);
        False when the alert does not exist."""
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(alerts.c.rules, alerts.c.rules_version, items)
                .join(items, items.c.id == alerts.c.item_id)
                .where(alerts.c.id == alert_id)
            ).first()
            if row is None:
                return False
            mine = sa.and_(
                verdicts.c.alert_id == alert_id,
                verdicts.c.destination == destination,
                verdicts.c.voter == voter,
            )
            if conn.execute(sa.select(verdicts.c.id).where(mine)).first() is not None:
                conn.execute(
                    verdicts.update().where(mine).values(verdict=verdict.value, created=now)
                )
                return True
            conn.execute(
                verdicts.insert().values(
                    alert_id=alert_id,
                    destination=destination,
                    voter=voter,
                    verdict=verdict.value,
                    rules=list(row.rules or ()),
                    rules_version=row.rules_version,
                    feed_url=row.feed_url,
                    guid=row.guid,
                    title=row.title,
                    link=row.link,
                    created=now,
                )
            )
            return True

    def withdraw(self, alert_id: int, destination: str, keep: Sequence[str], prefix: str) -> int:
        """Remove the verdicts on an alert at a destination of voters (named `prefix…`) who
        are no longer in `keep` (a Slack reaction taken back)."""
        with self._db.write() as conn:
            done = conn.execute(
                verdicts.delete().where(
                    verdicts.c.alert_id == alert_id,
                    verdicts.c.destination == destination,
                    verdicts.c.voter.startswith(prefix, autoescape=True),
                    verdicts.c.voter.not_in(list(keep)),
                )
            )
            return done.rowcount

    def all(self, rule_id: str | None = None) -> list[VerdictRecord]:
        """Every verdict (on alerts of one rule), oldest first."""
        with self._db.read() as conn:
            rows = [
                records.verdict(r)
                for r in conn.execute(sa.select(verdicts).order_by(verdicts.c.id))
            ]
        return [r for r in rows if rule_id is None or rule_id in r.rules]
