"""The item archive: export and import round-trips (plain and gzip), idempotent import, clear
errors, and retention that keeps stories still waiting for a delivery."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from feedserver import now_rfc822, rss, static
from helpers import distinct_items, environment, run_once, write_feeds, write_rules

from bot.archive import ArchivedItem, import_archive, read_archive
from bot.cli import main
from bot.config import Settings
from bot.fetch import FetchResult
from bot.models import FeedSpec, FeedState
from bot.pipeline import Pipeline
from bot.rules.load import load_rules
from bot.storage import Store
from bot.types import DeliveryStatus, Judgement

DAY = 86400.0


def radar(args: list[str], env: dict[str, str], monkeypatch, capsys) -> tuple[int, str, str]:
    """`radar ARGS` in this process, with only these Radar variables set."""
    for name in ("RADAR_DB", "RADAR_RULES", "RADAR_FEEDS", "RADAR_ARCHIVE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _polled(tmp_path, feed_server) -> dict[str, str]:
    items = distinct_items(3)
    items[0]["description"] = "Officials said the rules take effect <b>at once</b>."
    url = feed_server.set("/feed.xml", static(rss(items, title="Wire")))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    run_once(env)
    return env


def _archived(db_url: str) -> list[dict]:
    store = Store(db_url)
    try:
        return [ArchivedItem.from_stored(s).to_json() for s in store.items.iterate()]
    finally:
        store.close()


@pytest.mark.parametrize("name", ["archive.jsonl", "archive.jsonl.gz"])
def test_export_then_import_round_trips_every_field(
    tmp_path, feed_server, monkeypatch, capsys, name
):
    env = _polled(tmp_path, feed_server)
    original = _archived(env["RADAR_DB"])
    assert len(original) == 3
    path = tmp_path / name
    code, out, _ = radar(["archive", "export", str(path)], env, monkeypatch, capsys)
    assert code == 0 and "exported 3 items" in out
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == original

    other = {**env, "RADAR_DB": f"sqlite:///{tmp_path / 'other.db'}"}
    code, out, _ = radar(["archive", "import", str(path)], other, monkeypatch, capsys)
    assert code == 0 and "imported 3 items" in out
    assert _archived(other["RADAR_DB"]) == original
    assert "at once" in original[0]["summary"] and "<b>" not in original[0]["summary"]

    code, out, _ = radar(["archive", "import", str(path)], other, monkeypatch, capsys)
    assert code == 0 and "imported 0 items" in out and "3 already stored" in out
    assert len(_archived(other["RADAR_DB"])) == 3


def test_import_skips_an_item_with_the_same_link_under_another_guid(tmp_path):
    seen = time.time()
    first = {"feed_url": "https://a.example/rss", "guid": "a-1", "title": "One", "first_seen": seen}
    first["link"] = "https://news.example.com/story?id=1"
    again = {**first, "feed_url": "https://b.example/rss", "guid": "b-9"}
    again["link"] = "https://news.example.com/story?id=1&utm_source=rss#top"
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (first, again)) + "\n", encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'radar.db'}")
    try:
        result = import_archive(store, read_archive(path))
        assert (result.added, result.skipped) == (1, 1)
        assert [s.item.guid for s in store.items.iterate()] == ["a-1"]
    finally:
        store.close()


def test_a_broken_line_is_named_by_file_and_line(tmp_path, monkeypatch, capsys):
    good = {"feed_url": "f", "guid": "g", "title": "t", "first_seen": 1.0}
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps(good) + "\n\n" + json.dumps({"feed_url": "f", "guid": "h"}) + "\n",
        encoding="utf-8",
    )
    env = {"RADAR_DB": f"sqlite:///{tmp_path / 'radar.db'}"}
    code, _, err = radar(["archive", "import", str(path)], env, monkeypatch, capsys)
    assert code == 2
    assert f"{path}:3: not an archived item: missing title, first_seen" in err
    assert "Traceback" not in err
    code, _, err = radar(
        ["archive", "import", str(tmp_path / "none.jsonl")], env, monkeypatch, capsys
    )
    assert code == 2 and "No such file" in err
    code, _, err = radar(
        ["archive", "export", "x.jsonl", "--since", "3x"], env, monkeypatch, capsys
    )
    assert code == 2 and "--since 3x: expected a duration" in err


def _ingest(pipeline: Pipeline, clock: list[float], when: float, slug: str, title: str) -> None:
    clock[0] = when
    spec = FeedSpec(url=f"https://{slug}.example/rss", name=slug, baseline=False, max_age=1e9)
    item = {"title": title, "link": f"https://{slug}.example/1", "guid": f"{slug}-1"}
    item["pubDate"] = now_rfc822(when - time.time())
    result = FetchResult(spec.url, 200, rss([item]), {}, spec.url)
    pipeline.ingest(spec, FeedState(spec.url), result)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'radar.db'}"
    return request.getfixturevalue("pg_schema_url")


def test_retention_keeps_stories_with_pending_deliveries(tmp_path, db_url):
    settings = Settings(db_url=db_url, archive_days=30)
    ruleset = load_rules(write_rules(tmp_path / "rules")).ruleset
    store = Store(db_url)
    clock = [0.0]
    pipeline = Pipeline(store, ruleset, settings, clock=lambda: clock[0])
    now = time.time()
    try:
        _ingest(
            pipeline,
            clock,
            now - 40 * DAY,
            "old",
            "Tokyo adds export controls on GPU chips, covering 17 firms",
        )
        _ingest(
            pipeline,
            clock,
            now - 40 * DAY,
            "waiting",
            "Seoul adds export controls on HBM chips, covering 1038 firms",
        )
        _ingest(pipeline, clock, now - 40 * DAY, "plain", "Weather in Oslo stays mild")
        _ingest(
            pipeline,
            clock,
            now - DAY,
            "new",
            "Berlin adds export controls on EUV chips, covering 3059 firms",
        )
        assert store.items.count() == 4 and store.stories.count() == 3
        pending = store.outbox.with_status(DeliveryStatus.PENDING)
        for delivery in pending:
            if store.alerts.get(delivery.alert_id).item_id != 2:  # "waiting" stays pending
                store.outbox.finish(delivery.id, status=DeliveryStatus.SENT, now=now, ref="x")

        from bot.archive import prune

        pruned = prune(store, settings, now)
        assert (pruned.items, pruned.stories, pruned.alerts, pruned.kept_stories) == (2, 1, 1, 1)
        left = sorted(s.item.feed_url for s in store.items.iterate())
        assert left == ["https://new.example/rss", "https://waiting.example/rss"]
        assert store.stories.count() == 2 and store.alerts.count() == 2
        assert prune(store, settings, now).items == 0

        # Verdicts outlive the alerts they judged: they keep the headline and rules version.
        delivered = list(store.alerts.iterate())[-1]  # Berlin's
        assert store.verdicts.record(delivered.id, "console", "u1", Judgement.NOT_RELEVANT, now)
        assert not store.verdicts.record(9999, "console", "u1", Judgement.RELEVANT, now)
        assert store.archive.prune(now + 365 * DAY).alerts == 1
        assert store.alerts.get(delivered.id) is None
        [verdict] = store.verdicts.all("chip-export")
        assert verdict.title.startswith("Berlin adds export controls on EUV chips")
        assert verdict.verdict is Judgement.NOT_RELEVANT and verdict.rules == ("chip-export",)
    finally:
        store.close()


def test_run_once_prunes_the_archive_at_its_end(tmp_path, feed_server, monkeypatch, capsys):
    env = _polled(tmp_path, feed_server)
    old = {"feed_url": "https://gone.example/rss", "guid": "gone-1", "title": "Long ago"}
    old["first_seen"] = time.time() - 10 * DAY
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    assert radar(["archive", "import", str(path)], env, monkeypatch, capsys)[0] == 0
    assert len(_archived(env["RADAR_DB"])) == 4
    run_once({**env, "RADAR_ARCHIVE_DAYS": "5"})
    assert {r["guid"] for r in _archived(env["RADAR_DB"])} == {
        f"https://news.example.com/0/{n}" for n in range(3)
    }
