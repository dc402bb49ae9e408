"""Why an item joined a story (or did not): a typed record stored with the item, and read back
by `radar stories show` to explain each merge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Layer(StrEnum):
    """Which comparison decided."""

    SAME_TITLE = "same title"
    FUZZY = "fuzzy"
    CROSS_LANGUAGE = "cross-language"
    STORY_EVIDENCE = "story evidence"
    GIST = "gist"
    QUIET = "close in time, nothing contradicting"


class Conflict(StrEnum):
    """What contradicts: a different number in the headlines, a different company, event or
    place, a different value of a facet (tools against materials), another government acting,
    one government acting on other countries, a restriction lifted against one imposed."""

    NUMBERS = "different_numbers"
    ACTORS = "different_actors"
    FACET = "different_facets"
    SUBJECTS = "different_governments"
    TARGETS = "different_targets"
    DIRECTION = "opposite_actions"


@dataclass(frozen=True, slots=True)
class Evidence:
    layer: Layer | None = None
    text: float | None = None  # wording similarity, 0-100
    actors: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()  # what of the gist the story had told
    coverage: float | None = None  # the share of the gist told
    conflicts: Mapping[Conflict, tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )
    close_in_time: float = 0.0
    compared_with_item: int | None = None

    def with_(self, **changes: Any) -> Evidence:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"layer": self.layer.value if self.layer else None}
        for name in ("actors", "numbers", "codes", "dates", "shared"):
            if value := getattr(self, name):
                data[name] = list(value)
        if self.text is not None:
            data["text"] = round(self.text, 1)
        if self.coverage is not None:
            data["coverage"] = round(self.coverage, 2)
        if self.conflicts:
            data["conflicts"] = {
                k.value: [list(a), list(b)] for k, (a, b) in sorted(self.conflicts.items())
            }
        if self.close_in_time:
            data["close_in_time"] = self.close_in_time
        if self.compared_with_item is not None:
            data["compared_with_item"] = self.compared_with_item
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        layer = str(data.get("layer"))
        conflicts = {
            Conflict(k): (tuple(a), tuple(b))
            for k, (a, b) in (data.get("conflicts") or {}).items()
            if k in Conflict._value2member_map_
        }
        return cls(
            layer=Layer(layer) if layer in Layer._value2member_map_ else None,
            text=data.get("text"),
            actors=tuple(data.get("actors", ())),
            numbers=tuple(data.get("numbers", ())),
            codes=tuple(data.get("codes", ())),
            dates=tuple(data.get("dates", ())),
            shared=tuple(data.get("shared", ())),
            coverage=data.get("coverage"),
            conflicts=conflicts,
            close_in_time=float(data.get("close_in_time", 0.0)),
            compared_with_item=data.get("compared_with_item"),
        )

    def explain(self) -> str:
        """One line for `radar stories show`."""
        parts = [self.layer.value if self.layer else "fuzzy"]
        if self.text is not None:
            parts.append(f"wording: {self.text:g}")
        for label, values in (
            ("actors", self.actors),
            ("numbers", self.numbers),
            ("codes", self.codes),
            ("dates", self.dates),
            ("about", self.shared),
        ):
            if values:
                parts.append(f"{label}: {', '.join(values)}")
        if self.coverage is not None:
            parts.append(f"of its gist told: {self.coverage:.0%}")
        for conflict, (a, b) in sorted(self.conflicts.items()):
            parts.append(f"{conflict.value.replace('_', ' ')}: {'/'.join(a)} vs {'/'.join(b)}")
        if self.close_in_time:
            parts.append(f"close in time (+{self.close_in_time:g})")
        if self.compared_with_item is not None:
            parts.append(f"closest to item {self.compared_with_item}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class MergeDecision:
    """Join `story_id` (None: open a new story), with the best score and its evidence."""

    story_id: int | None
    score: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)
    best_story: int | None = None  # the closest story, when it was not close enough

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"story_id": self.story_id, "score": round(self.score, 1)}
        if self.best_story is not None:
            data["best_story"] = self.best_story
        return {**data, **self.evidence.to_json()}
