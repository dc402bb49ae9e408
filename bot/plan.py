"""Which alerts an item makes: a pure decision from what merging decided and where rules go.

An item that opens a story alerts every destination of its rules. An item that joins a story
alerts, for the rules the story had not matched yet, the destinations the story has not
reached; and it is posted as a follow-up (a thread reply, a quiet Telegram reply) to every
destination that had the story's first alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlertPlan:
    """What to write for one matched item. `story_id` None: the item opens a new story.
    `alert` lists the destinations of a top-level alert on `alert_rules`; `followup` the
    destinations of a follow-up, each with the outbox row it replies to."""

    story_id: int | None
    alert_rules: tuple[str, ...] = ()
    alert: tuple[str, ...] = ()
    followup: tuple[tuple[str, int], ...] = ()


def plan_alerts(
    rule_ids: Sequence[str],
    story_id: int | None,
    story_rules: frozenset[str],
    roots: Mapping[str, int],
    route: Callable[[Sequence[str]], list[str]],
) -> AlertPlan:
    """The alerts for an item matching `rule_ids` that opens a story (`story_id` None) or joins
    one that matched `story_rules` and whose first alert went to `roots` (destination → row).
    `route` gives the destinations of alerts on some rules."""
    if story_id is None:
        return AlertPlan(None, tuple(rule_ids), tuple(route(rule_ids)))
    new_rules = tuple(r for r in rule_ids if r not in story_rules)
    fresh = tuple(d for d in route(new_rules) if d not in roots) if new_rules else ()
    return AlertPlan(
        story_id,
        new_rules if fresh else (),
        fresh,
        tuple(sorted(roots.items())),
    )
