"""Feeds and rules, validated: what `radar run` watches for, loaded from their files or, when
none of those files (nor Radar's code) changed since, from the cache (`bot.watchcache`)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field, replace

from bot import watchcache
from bot.config import Settings
from bot.errors import Problem
from bot.models import FeedSpec
from bot.rules.ruleset import RuleSet
from bot.rules.version import rules_version, watched_files


@dataclass(slots=True)
class Watchlist:
    """Feeds and rules, validated."""

    feeds: list[FeedSpec]
    ruleset: RuleSet
    warnings: list[Problem] = field(default_factory=list)
    version: str = ""  # of the rules: `git:<commit>` or `sha256:<hash>` (bot.rules.version)


def fingerprint(settings: Settings) -> str:
    """A hash of every file the rules and feeds are read from (names and bytes)."""
    digest = hashlib.sha256()
    folder = settings.rules_dir
    files = watched_files(folder, [settings.feeds_file]) if folder.is_dir() else []
    for path in files:
        digest.update(str(path).encode() + b"\0")
        with contextlib.suppress(OSError):  # a file removed meanwhile reads as empty
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_watchlist(settings: Settings) -> Watchlist:
    """Load and validate feeds and rules; raises ConfigError naming file and line."""
    version = rules_version(settings.rules_dir)
    if settings.cache_dir is None:
        return replace(_load(settings), version=version)
    entry = watchcache.entry_path(settings.cache_dir, settings.rules_dir, settings.feeds_file)
    key = fingerprint(settings)
    cached = watchcache.read(entry, key)
    if isinstance(cached, Watchlist):
        return replace(cached, version=version)
    loaded = _load(settings)
    if fingerprint(settings) == key:  # not changed while it was read
        watchcache.write(entry, key, loaded)
    return replace(loaded, version=version)


def _load(settings: Settings) -> Watchlist:
    from bot.feeds import load_feeds
    from bot.rules.load import load_rules

    feeds = load_feeds(settings.feeds_file)
    loaded = load_rules(settings.rules_dir, exclude=(settings.feeds_file,))
    return Watchlist(feeds.feeds, loaded.ruleset, [*feeds.problems, *loaded.warnings])
