"""The compiled rules cache: used only when every rules and feeds file and the code that built
it are unchanged; anything else is a miss that loads from the files, and a failed load is
never cached."""

from __future__ import annotations

import logging
import os
import time
import types
from pathlib import Path

import pytest
import yaml
from helpers import CHIP_RULE, environment, write_feeds, write_rules

from bot import STARTED_NS, watchcache
from bot.config import load_settings
from bot.errors import ConfigError
from bot.models import Item
from bot.watchlist import cache_key, load_watchlist

TRAVEL_RULE = {
    "id": "travel-watch",
    "title": "Travel watch",
    "match": {"all": [{"any": ["travel*"]}, {"any": ["ban*", "restrict*"]}]},
}
COVERED_RULE = {  # loads with a warning: 'chips' is already covered by 'chip*'
    "id": "covered",
    "title": "Covered",
    "match": {"all": [{"any": ["export control*"]}, {"any": ["chip*", "chips"]}]},
}


@pytest.fixture
def setup(tmp_path):
    rules = write_rules(tmp_path / "rules", [CHIP_RULE, COVERED_RULE])
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    env = environment(tmp_path, rules, feeds, RADAR_CACHE_DIR=str(tmp_path / "cache"))
    return load_settings(env)


def _entry(settings):
    return watchcache.entry_path(settings.cache_dir, settings.rules_dir, settings.feeds_file)


def _matching(watchlist, title: str) -> list[str]:
    found = watchlist.ruleset.match(Item(feed_url="", guid="", title=title))
    return sorted(m.rule_id for m in found.rules)


def test_an_unchanged_watchlist_is_read_from_the_cache_with_its_warnings(setup):
    first = load_watchlist(setup)
    entry = _entry(setup)
    assert entry.is_file()
    cached = watchcache.read(entry, cache_key(setup))
    assert cached is not None, "the entry just written must be readable"

    second = load_watchlist(setup)
    assert [str(w) for w in second.warnings] == [str(w) for w in first.warnings]
    assert any("already covered by 'chip*'" in str(w) for w in second.warnings)
    assert second.version == first.version
    assert [r.id for r in second.ruleset.rules] == [r.id for r in first.ruleset.rules]
    assert second.feeds == first.feeds
    title = "US widens export controls on AI chips to 40 countries"
    assert _matching(second, title) == _matching(first, title) == ["chip-export", "covered"]


def test_a_changed_rule_file_is_read_from_the_files(setup):
    load_watchlist(setup)
    (setup.rules_dir / "travel-watch.yaml").write_text(yaml.safe_dump(TRAVEL_RULE), "utf-8")
    after = load_watchlist(setup)
    assert sorted(r.id for r in after.ruleset.rules) == ["chip-export", "covered", "travel-watch"]
    assert watchcache.read(_entry(setup), cache_key(setup)) is not None


def test_a_broken_rule_file_fails_every_time_and_is_never_cached(setup):
    load_watchlist(setup)
    good = cache_key(setup)
    (setup.rules_dir / "broken.yaml").write_text("id: broken\nmatch: {all: [", "utf-8")
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"broken\.yaml"):
            load_watchlist(setup)
    assert watchcache.read(_entry(setup), cache_key(setup)) is None
    assert watchcache.read(_entry(setup), good) is not None  # what ran before is kept


def test_a_damaged_entry_is_a_miss_and_is_rebuilt(setup):
    load_watchlist(setup)
    entry = _entry(setup)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    assert watchcache.read(entry, cache_key(setup)) is None
    assert [r.id for r in load_watchlist(setup).ruleset.rules] == ["chip-export", "covered"]
    assert watchcache.read(entry, cache_key(setup)) is not None


def _module(source: Path, text: str, mtime_ns: int) -> types.ModuleType:
    source.write_text(text, "utf-8")
    os.utime(source, ns=(mtime_ns, mtime_ns))
    module = types.ModuleType(source.stem)
    module.__file__ = str(source)
    return module


def test_an_entry_built_by_other_code_is_a_miss(tmp_path):
    source = tmp_path / "builder.py"
    source.write_text("VALUE = 1\n", "utf-8")
    os.utime(source, ns=(STARTED_NS - 10**9, STARTED_NS - 10**9))  # older than this process
    module = types.ModuleType("builder")
    module.__file__ = str(source)
    entry = tmp_path / "entry.pickle"
    watchcache.write(entry, "key", {"a": 1}, watchcache.code_stamps({"builder": module}))
    assert watchcache.read(entry, "key") == {"a": 1}
    assert watchcache.read(entry, "other key") is None
    source.write_text("VALUE = 22\n", "utf-8")  # the code changed: its size, its time
    assert watchcache.read(entry, "key") is None


def test_a_process_whose_code_changed_since_it_started_writes_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bot.watchcache")
    module = _module(tmp_path / "upgraded.py", "VALUE = 2\n", time.time_ns() + 10**9)
    entry = tmp_path / "cache" / "entry.pickle"
    watchcache.write(entry, "key", {"a": 1}, watchcache.code_stamps({"upgraded": module}))
    assert not entry.exists()
    assert "changed since this process started" in caplog.text


def test_a_renamed_link_to_a_rule_file_is_a_change(tmp_path):
    rules = write_rules(tmp_path / "rules", [])
    real = tmp_path / "kept" / "chip.yaml"
    real.parent.mkdir()
    real.write_text(yaml.safe_dump({k: v for k, v in CHIP_RULE.items() if k != "id"}), "utf-8")
    (rules / "chip-export.yaml").symlink_to(real)
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    env = environment(tmp_path, rules, feeds, RADAR_CACHE_DIR=str(tmp_path / "cache"))
    settings = load_settings(env)
    before = cache_key(settings)
    (rules / "chip-export.yaml").rename(rules / "semis.yaml")  # the rule id is the file's name
    assert cache_key(settings) != before


def test_a_missing_rules_folder_is_a_configuration_error(tmp_path):
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    env = environment(tmp_path, tmp_path / "none", feeds, RADAR_CACHE_DIR=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match="rules folder does not exist"):
        load_watchlist(load_settings(env))


def test_a_cache_folder_others_may_write_is_not_used(setup, caplog):
    setup.cache_dir.mkdir(mode=0o700)
    setup.cache_dir.chmod(0o777)
    load_watchlist(setup)
    assert not list(setup.cache_dir.iterdir())
    assert "must belong to this user and be writable by no one else" in caplog.text
    setup.cache_dir.chmod(0o700)
    load_watchlist(setup)
    entry = _entry(setup)
    entry.chmod(0o666)  # an entry others could have written is not read
    assert watchcache.read(entry, cache_key(setup)) is None


def test_local_feed_files_are_not_cached(tmp_path):
    rules = write_rules(tmp_path / "rules")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": str(tmp_path / "missing.xml")}])
    env = environment(tmp_path, rules, feeds, RADAR_CACHE_DIR=str(tmp_path / "cache"))
    settings = load_settings(env)
    assert any("missing.xml" in str(w) for w in load_watchlist(settings).warnings)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_the_key_names_the_working_folder_for_relative_paths(setup, tmp_path, monkeypatch):
    here = cache_key(setup)
    monkeypatch.chdir(tmp_path / "rules")
    assert cache_key(setup) != here


def test_read_only_mappings_survive_the_cache(tmp_path):
    entry = tmp_path / "entry.pickle"
    payload = {"proxy": types.MappingProxyType({"x": 1})}
    watchcache.write(entry, "key", payload, ())
    read = watchcache.read(entry, "key")
    assert isinstance(read["proxy"], types.MappingProxyType)
    assert dict(read["proxy"]) == {"x": 1}


def test_a_cache_folder_that_cannot_be_made_leaves_loading_alone(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", "utf-8")
    rules = write_rules(tmp_path / "rules")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    settings = load_settings(
        environment(tmp_path, rules, feeds, RADAR_CACHE_DIR=str(blocker / "cache"))
    )
    assert [r.id for r in load_watchlist(settings).ruleset.rules] == ["chip-export"]
    assert "could not write the rules cache" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RADAR_CACHE_DIR": "/somewhere", "HOME": "/home/u"}, "/somewhere"),
        ({"RADAR_CACHE_DIR": "off", "HOME": "/home/u"}, None),
        ({"XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/radar"),
        ({"HOME": "/home/u"}, "/home/u/.cache/radar"),
        ({}, None),
    ],
)
def test_where_the_cache_lives(env, expected):
    found = load_settings(env).cache_dir
    assert (str(found) if found else None) == expected


def test_no_cache_folder_means_no_cache(tmp_path):
    rules = write_rules(tmp_path / "rules")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    settings = load_settings(environment(tmp_path, rules, feeds, RADAR_CACHE_DIR="off"))
    assert settings.cache_dir is None
    assert [r.id for r in load_watchlist(settings).ruleset.rules] == ["chip-export"]
    assert not list(tmp_path.rglob("watchlist-*"))
