"""After a hot reload, `/metrics` and the status page show the rules and feeds now running,
not those loaded at start."""

from __future__ import annotations

import yaml
from helpers import environment, write_feeds, write_rules
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_settings
from bot.metrics import Metrics
from bot.storage import Store
from bot.watchlist import load_watchlist
from bot.web import Site, render_page

TRAVEL_RULE = {
    "id": "travel-watch",
    "title": "Travel watch",
    "match": {"all": [{"any": ["travel*"]}, {"any": ["ban*", "restrict*"]}]},
}


def _rules_info(metrics: Metrics) -> dict[str, str]:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name.startswith("radar_rules"):
            [sample] = family.samples
            return dict(sample.labels)
    raise AssertionError("no radar_rules metric")


def test_metrics_and_status_page_follow_a_reload(tmp_path):
    rules = write_rules(tmp_path / "rules")
    feeds_file = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    settings = load_settings(environment(tmp_path, rules, feeds_file))
    before = load_watchlist(settings)
    store = Store(settings.db_url)
    try:
        metrics = Metrics(
            store, before.feeds, rules=len(before.ruleset.rules), rules_version=before.version
        )
        site = Site(
            store=store,
            feeds=before.feeds,
            metrics=metrics,
            liveness=lambda: None,
            database=store.name,
            feeds_file=str(feeds_file),
            rules_dir=str(rules),
            rules_version=before.version,
        )
        assert _rules_info(metrics) == {"version": before.version, "rules": "1"}

        (rules / "travel-watch.yaml").write_text(yaml.safe_dump(TRAVEL_RULE), encoding="utf-8")
        write_feeds(feeds_file, [{"url": "https://a.example/feed"}, {"url": "https://b.example/"}])
        after = load_watchlist(settings)
        assert after.version != before.version
        metrics.reloaded(after)
        site.reloaded(after)

        assert _rules_info(metrics) == {"version": after.version, "rules": "2"}
        page = render_page(site, site.snapshot())
        assert f"version {after.version}" in page and before.version not in page
        assert "2 feeds" in page and "https://b.example/" in page
    finally:
        site.close()
        store.close()
