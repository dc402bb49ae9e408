"""What a poll carries between the pipeline's stages: the rules it is matched with, its items
once matched, the poll ready to commit, and the report of what it did. Plain records, no I/O;
`bot.pipeline` is the shell that fills them in and stores them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot import merge
from bot.decide import ItemDecision
from bot.models import FeedSpec, FeedState, ItemMatches
from bot.rules import Rule, RuleSet


@dataclass(slots=True)
class PollReport:
    """What one poll did, for logs, `radar run --once` and tests."""

    url: str
    status: str = "ok"
    error: str | None = None
    name: str | None = None  # the feed's name in the feeds file
    items: int = 0
    new: int = 0
    recorded: int = 0
    alerts: list[int] = field(default_factory=list)
    followups: list[int] = field(default_factory=list)
    unrouted: list[int] = field(default_factory=list)  # alerts that found no destination
    state: FeedState | None = None
    wire_bytes: int = 0
    seconds: float = 0.0

    @property
    def label(self) -> str:
        """How logs name the feed: its name, else its URL or path."""
        return self.name or self.url


def matches_json(matches: ItemMatches) -> dict[str, list[dict[str, str]]]:
    return {
        m.rule_id: [
            {"term": h.term, "field": h.field, "text": h.text, "kind": h.kind} for h in m.hits
        ]
        for m in matches.rules
    }


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """The rules a poll is matched and merged with, and their version (what an alert records
    as the rules that produced it). A reload swaps in a new one; a poll keeps the one it
    started with."""

    ruleset: RuleSet
    version: str = ""
    kinds: Mapping[str, str | None] = field(default_factory=dict)
    with_content: bool = False

    @classmethod
    def of(cls, ruleset: RuleSet, version: str = "") -> ActiveRules:
        return cls(
            ruleset,
            version,
            {a.id: a.kind for a in ruleset.actors.values()},
            any("content" in r.fields for r in ruleset.rules),
        )

    def rules(self, rule_ids: Sequence[str]) -> list[Rule]:
        return [r for r in (self.ruleset.by_id(i) for i in rule_ids) if r is not None]


@dataclass(frozen=True, slots=True)
class PolledItem:
    """A new or recorded item of a poll, matched (outside the write lock) when it may alert."""

    decision: ItemDecision
    position: int
    matches: ItemMatches | None = None
    features: merge.Features | None = None


@dataclass(slots=True)
class Prepared:
    """A poll ready to commit: its report, its items, and the feed state to save with them."""

    spec: FeedSpec
    report: PollReport
    state: FeedState
    items: list[PolledItem] = field(default_factory=list)
    order: int = 0  # the feed's place in the feeds file
    now: float = 0.0
    saved: bool = False  # its state is saved (nothing of it is left to commit)
    rules: ActiveRules | None = None  # the rules it was matched with
