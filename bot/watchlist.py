"""Feeds and rules, validated: what `radar run` watches for, loaded from their files or, when
none of those files (nor Radar's code) changed since, from the cache (`bot.watchcache`)."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import bot
from bot import watchcache
from bot.config import Settings
from bot.errors import Problem
from bot.models import FeedSpec
from bot.rules.ruleset import RuleSet
from bot.rules.version import RULE_SUFFIXES, rules_version


@dataclass(slots=True)
class Watchlist:
    """Feeds and rules, validated."""

    feeds: list[FeedSpec]
    ruleset: RuleSet
    warnings: list[Problem] = field(default_factory=list)
    version: str = ""  # of the rules: `git:<commit>` or `sha256:<hash>` (bot.rules.version)


def fingerprint(settings: Settings) -> str:
    """A hash of every file the rules and feeds are read from: each YAML file of the rules
    folder and the feeds file, by the name it is read by, what that name resolves to (a
    symbolic link renamed is a change) and its bytes."""
    digest = hashlib.sha256()
    folder = settings.rules_dir
    listed = (
        sorted(p for p in folder.iterdir() if p.name.endswith(RULE_SUFFIXES))
        if folder.is_dir()
        else []
    )
    for path in [*listed, settings.feeds_file]:
        with contextlib.suppress(OSError):  # a file removed meanwhile reads as empty
            digest.update(f"{path}\0{path.resolve()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(settings: Settings) -> str:
    """What a cache entry must have been built from: the files (`fingerprint`), the rules and
    feeds as named (a relative name is read from the working folder), and which Radar and
    Python read them (two installs may share a cache folder)."""
    where = (settings.rules_dir, settings.feeds_file, Path.cwd(), sys.prefix, bot.__file__)
    text = "\0".join((fingerprint(settings), *map(str, where)))
    return hashlib.sha256(text.encode()).hexdigest()


def load_watchlist(settings: Settings) -> Watchlist:
    """Load and validate feeds and rules; raises ConfigError naming file and line."""
    loaded = _cached(settings) if settings.cache_dir is not None else _load(settings)
    return replace(loaded, version=rules_version(settings.rules_dir))


def _cached(settings: Settings) -> Watchlist:
    assert settings.cache_dir is not None
    entry = watchcache.entry_path(settings.cache_dir, settings.rules_dir, settings.feeds_file)
    key = cache_key(settings)
    cached = watchcache.read(entry, key)
    if isinstance(cached, Watchlist):
        return cached
    loaded = _load(settings)
    # Not when a file changed while it was read, nor with local feed files: whether those
    # exist (a warning) is not in the key.
    if cache_key(settings) == key and not any(s.is_local for s in loaded.feeds):
        watchcache.write(entry, key, loaded)
    return loaded


def _load(settings: Settings) -> Watchlist:
    from bot.feeds import load_feeds
    from bot.rules.load import load_rules

    feeds = load_feeds(settings.feeds_file)
    loaded = load_rules(settings.rules_dir, exclude=(settings.feeds_file,))
    return Watchlist(feeds.feeds, loaded.ruleset, [*feeds.problems, *loaded.warnings])
