"""`radar backtest`: what the rules in this working tree would have alerted on, compared with
what the rules in use did alert on, over the stored archive."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.rules import RuleSet
from bot.storage import Store, StoredItem
from bot.types import ItemVerdict


@dataclass(frozen=True, slots=True)
class Entry:
    item_id: int
    title: str
    outlet: str


@dataclass(slots=True)
class RuleChange:
    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class BacktestResult:
    items: int = 0
    changes: dict[str, RuleChange] = field(default_factory=dict)


def compare_archive(store: Store, ruleset: RuleSet, since: float | None = None) -> BacktestResult:
    """Replay every item that was eligible to alert (not baseline, not too old)."""
    result = BacktestResult()
    batch: list[StoredItem] = []

    def flush() -> None:
        recorded = store.alerts.for_items([s.id for s in batch])
        for stored in batch:
            before = {rule for alert in recorded.get(stored.id, []) for rule in alert.matches}
            after = set(ruleset.match(stored.item).rule_ids)
            entry = Entry(stored.id, stored.item.title, stored.item.outlet)
            for rule_id in after - before:
                result.changes.setdefault(rule_id, RuleChange()).added.append(entry)
            for rule_id in before - after:
                result.changes.setdefault(rule_id, RuleChange()).removed.append(entry)
        result.items += len(batch)
        batch.clear()

    for stored in store.items.iterate(since=since, verdict=ItemVerdict.NEW):
        batch.append(stored)
        if len(batch) >= 500:
            flush()
    flush()
    return result
