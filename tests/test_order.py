"""Same input, same alerts: which alerts an item makes (a pure plan), the stable order items
of one cycle are merged in, and the README's sample run giving the same output every time."""

from __future__ import annotations

import random

import pytest
from helpers import SHIPPED_RULES, cli

from bot.config import Settings
from bot.models import FeedSpec, FeedState, FetchResult
from bot.pipeline import Pipeline
from bot.plan import AlertPlan, plan_alerts
from bot.replay import Labelled, _document
from bot.rules.load import load_rules
from bot.storage import Store
from bot.types import AlertKind


def _route(rules):
    channels = {
        "chip-export": ["slack:#export", "telegram:1"],
        "travel-guidance": ["slack:#travel"],
    }
    return [d for r in rules for d in channels.get(r, [])]


def test_a_new_story_alerts_every_destination_of_its_rules():
    plan = plan_alerts(["chip-export"], None, frozenset(), {}, _route)
    assert plan == AlertPlan(None, ("chip-export",), ("slack:#export", "telegram:1"))


def test_a_retelling_is_a_followup_to_where_the_story_went():
    roots = {"slack:#export": 7, "telegram:1": 8}
    plan = plan_alerts(["chip-export"], 3, frozenset({"chip-export"}), roots, _route)
    assert plan.alert == () and plan.followup == (("slack:#export", 7), ("telegram:1", 8))


def test_a_joining_item_alerts_only_for_rules_and_destinations_the_story_lacked():
    roots = {"slack:#export": 7}
    plan = plan_alerts(
        ["chip-export", "travel-guidance"], 3, frozenset({"chip-export"}), roots, _route
    )
    assert plan.alert_rules == ("travel-guidance",) and plan.alert == ("slack:#travel",)
    assert plan.followup == (("slack:#export", 7),)


def _poll(pipeline: Pipeline, outlet: str, title: str, published: float, order: int):
    row = Labelled(
        "e", "chip_export", outlet, f"https://{outlet}.example/{published}", published, title, ""
    )
    spec = FeedSpec(url=f"https://{outlet}.example/feed", name=outlet, max_age=1e9, baseline=False)
    result = FetchResult(spec.url, 200, _document(row), {}, spec.url)
    return pipeline.prepare(spec, FeedState(spec.url), result, order)


def _stories(batch_order: list[int], tmp_path, name: str) -> list[tuple[str, str]]:
    store = Store(f"sqlite:///{tmp_path / name}")
    ruleset = load_rules(SHIPPED_RULES).ruleset
    pipeline = Pipeline(store, ruleset, Settings(), clock=lambda: 2e9, rng=random.Random(1))
    polls = [
        _poll(
            pipeline, "wire", "US adds 36 Chinese firms to Entity List, including YMTC", 1.7e9, 0
        ),
        _poll(
            pipeline,
            "daily",
            "YMTC among 36 Chinese names put on US trade blacklist",
            1.7e9 + 3600,
            1,
        ),
    ]
    pipeline.commit([polls[n] for n in batch_order])
    items = {s.id: s.item for s in store.items.iterate()}
    alerts = [(a.kind.value, items[a.item_id].outlet) for a in store.alerts.iterate()]
    store.close()
    return alerts


def test_items_of_one_cycle_merge_in_published_order_whatever_order_polls_finished_in(tmp_path):
    first = _stories([0, 1], tmp_path, "a.db")
    second = _stories([1, 0], tmp_path, "b.db")
    assert first == second == [(AlertKind.ALERT.value, "wire"), (AlertKind.FOLLOWUP.value, "daily")]


@pytest.mark.slow
def test_the_readme_sample_gives_the_same_output_every_run(tmp_path):
    outputs = []
    for run in range(3):
        env = {
            "RADAR_DB": f"sqlite:///{tmp_path / f'sample{run}.db'}",
            "RADAR_FEEDS": "examples/feeds.yaml",
        }
        result = cli(["run", "--once"], env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert "↳ also reported by" in outputs[0]


def _undated(outlet: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{outlet}</title><item><title>{title}</title>"
        f"<link>https://{outlet}.example/1</link></item></channel></rss>"
    ).encode()


def _undated_stories(prepare_order: list[int], tmp_path, name: str) -> list[tuple[str, str]]:
    """Two feeds of undated items of one story, prepared one second apart in `prepare_order`
    within one cycle, committed together."""
    store = Store(f"sqlite:///{tmp_path / name}")
    ruleset = load_rules(SHIPPED_RULES).ruleset
    ticks = iter(range(10))
    pipeline = Pipeline(
        store, ruleset, Settings(), clock=lambda: 2e9 + next(ticks), rng=random.Random(1)
    )
    feeds = [
        ("wire", "US adds 36 Chinese firms to Entity List, including YMTC"),
        ("daily", "US adds 36 Chinese firms to Entity List, including YMTC - Daily"),
    ]
    polls = {}
    for n in prepare_order:
        outlet, title = feeds[n]
        spec = FeedSpec(url=f"https://{outlet}.example/feed", name=outlet, baseline=False)
        result = FetchResult(spec.url, 200, _undated(outlet, title), {}, spec.url)
        polls[n] = pipeline.prepare(spec, FeedState(spec.url), result, n, cycle=2e9)
    pipeline.commit([polls[n] for n in prepare_order])
    items = {s.id: s.item for s in store.items.iterate()}
    alerts = [(a.kind.value, items[a.item_id].outlet) for a in store.alerts.iterate()]
    store.close()
    return alerts


def test_undated_items_of_one_cycle_merge_in_feed_order_whichever_feed_answered_first(tmp_path):
    first = _undated_stories([0, 1], tmp_path, "a.db")
    second = _undated_stories([1, 0], tmp_path, "b.db")
    assert first == second == [(AlertKind.ALERT.value, "wire"), (AlertKind.FOLLOWUP.value, "daily")]
