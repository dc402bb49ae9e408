"""Plain data that flows through the pipeline: fetch → parse → match → merge → deliver."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed from the feeds file. Durations are in seconds."""

    url: str
    name: str | None = None
    interval: float = 600.0
    max_age: float = 3 * 86400.0
    tags: tuple[str, ...] = ()
    baseline: bool = True

    @property
    def is_local(self) -> bool:
        return not self.url.startswith(("http://", "https://"))

    @property
    def label(self) -> str:
        """How logs and status name the feed: its name, else its URL or path."""
        return self.name or self.url


@dataclass(frozen=True, slots=True)
class Item:
    """A feed entry after parsing and normalisation.

    `published` is what the feed claims (epoch seconds) or None when missing or unparsable.
    """

    feed_url: str
    guid: str
    title: str
    link: str | None = None
    canonical_link: str | None = None
    summary: str = ""
    content: str = ""
    author: str = ""
    categories: tuple[str, ...] = ()
    published: float | None = None
    outlet: str = ""
    language: str | None = None

    def field_text(self, name: str) -> str:
        """Text of a matchable field by its rule-file name."""
        if name == "categories":
            return " ; ".join(self.categories)
        if name == "link":
            return self.link or ""
        return str(getattr(self, name))


@dataclass(frozen=True, slots=True)
class Hit:
    """One term of a rule found in an item: the phrase or actor, the field, the text found."""

    term: str
    field: str
    text: str
    kind: str = "phrase"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule_id: str
    hits: tuple[Hit, ...] = ()

    def words(self) -> list[str]:
        """Distinct texts that made the rule fire, in order of appearance."""
        seen: dict[str, None] = {}
        for hit in self.hits:
            seen.setdefault(hit.text, None)
        return list(seen)


@dataclass(frozen=True, slots=True)
class ItemMatches:
    """Which rules an item matched, and the actors it names (for story merging)."""

    rules: tuple[RuleMatch, ...] = ()
    actors: frozenset[str] = field(default_factory=frozenset)
    title_actors: frozenset[str] = field(default_factory=frozenset)  # named in the headline

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(m.rule_id for m in self.rules)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What Radar remembers about a feed between polls. Times are epoch seconds."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_poll: float | None = None
    last_change: float | None = None
    last_status: int | None = None
    next_due: float | None = None
    failures: int = 0
    last_error: str | None = None
    failing_since: float | None = None
    moved_to: str | None = None
    gone: bool = False
    baselined: bool = False
    title: str | None = None
