"""Plain data that flows through the pipeline: fetch → parse → match → merge → deliver."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.untrusted import safe_language, safe_text
from bot.urls import IPAddress, is_public_address, safe_link


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
    Whichever parser builds an item, its text holds no control, bidi or invisible format
    characters, its link is one a message may link to (or None; `canonical_link`, a key for
    finding repeats, is kept as given), and its language is a tag (or None): see
    `bot.untrusted`.
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

    def __post_init__(self) -> None:
        for name in ("title", "author", "outlet"):
            object.__setattr__(self, name, safe_text(getattr(self, name)))
        for name in ("summary", "content"):
            object.__setattr__(self, name, safe_text(getattr(self, name), multiline=True))
        categories = tuple(safe_text(c) for c in self.categories)
        object.__setattr__(self, "categories", tuple(c for c in categories if c))
        object.__setattr__(self, "link", safe_link(self.link))
        object.__setattr__(self, "language", safe_language(self.language))

    def fields(self) -> dict[str, Any]:
        """The item's fields as plain values (categories as a list), as stored and archived."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return values | {"categories": list(self.categories)}

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


ALLOW_PRIVATE_REDIRECTS_VARIABLE = "RADAR_ALLOW_PRIVATE_REDIRECTS"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TOTAL_TIMEOUT = 20.0
DEFAULT_READ_TIMEOUT = 15.0
DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Limits of every fetch. `is_public` classifies addresses (injectable for tests)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    concurrency: int = 32
    per_host: int = 2
    max_redirects: int = 5
    allow_private_redirects: bool = False
    is_public: Callable[[IPAddress], bool] = is_public_address


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch. `status` is None when no HTTP response arrived."""

    url: str
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    final_url: str | None = None
    permanent_redirect: str | None = None
    error: str | None = None
    wire_bytes: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None

    @property
    def not_modified(self) -> bool:
        return self.status == 304
