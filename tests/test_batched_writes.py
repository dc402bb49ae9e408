"""A cycle's 304s and failed polls are saved together: one transaction and one statement for all
of them, however many feeds answered so (real sockets, a real SQLite file; the database's own
commit and statement events are counted)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from feedserver import FeedServer, reply, rss, static
from helpers import distinct_items, environment, run_once, write_feeds, write_rules
from sqlalchemy import event

from bot.app import CycleReport, Radar, build_senders
from bot.config import load_settings
from bot.storage import Store
from bot.watchlist import load_watchlist


def _farm(server: FeedServer, good: int, bad: int) -> list[dict]:
    feeds = []
    for n in range(good):
        body = rss(distinct_items(3, n), title=f"Feed {n}")
        feeds.append({"url": server.set(f"/ok{n}.xml", static(body, etag=f'"v{n}"'))})
    for n in range(bad):
        feeds.append({"url": server.set(f"/down{n}.xml", reply(503, b"down"))})
    return feeds


def _counted_cycle(env: dict[str, str]) -> tuple[CycleReport, int, list[tuple[str, bool]]]:
    """One `radar run --once`: its report, the commits, and each feed state saved (statement,
    executemany or not)."""
    settings = load_settings(env)
    store = Store(settings.db_url)
    commits: list[int] = []
    writes: list[tuple[str, bool]] = []

    def statement(_c: Any, _cur: Any, sql: str, _p: Any, _ctx: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO FEEDS"):
            writes.append((sql, many))

    engine = store._db.engine
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    event.listen(engine, "before_cursor_execute", statement)
    radar = Radar(
        settings, load_watchlist(settings), store, build_senders(settings, stream=io.StringIO())
    )

    async def cycle() -> CycleReport:
        try:
            return await radar.run_once()
        finally:
            await radar.aclose()

    try:
        return asyncio.run(cycle()), len(commits), writes
    finally:
        store.close()


def _cycles(tmp_path, good: int, bad: int, *, cycles: int) -> tuple[CycleReport, int, list]:
    """`cycles` runs over a farm; the last one counted."""
    server = FeedServer().start()
    try:
        env = environment(
            tmp_path,
            write_rules(tmp_path / "rules"),
            write_feeds(tmp_path / "feeds.yaml", _farm(server, good, bad)),
        )
        for _ in range(cycles - 1):
            run_once(env)
        return _counted_cycle(env)
    finally:
        server.stop()


def test_a_cycle_of_304s_saves_every_state_in_one_statement(tmp_path):
    few = _cycles(tmp_path / "few", good=2, bad=0, cycles=2)
    many = _cycles(tmp_path / "many", good=15, bad=0, cycles=2)
    for (report, _, writes), good in ((few, 2), (many, 15)):
        assert [p.status for p in report.polls] == ["not modified"] * good
        assert [executemany for _sql, executemany in writes] == [True]
    assert few[1] == many[1]  # as many commits for 15 feeds as for 2


def test_failed_polls_are_saved_in_one_statement(tmp_path):
    few = _cycles(tmp_path / "few", good=0, bad=2, cycles=1)
    many = _cycles(tmp_path / "many", good=0, bad=8, cycles=1)
    for (report, _, writes), bad in ((few, 2), (many, 8)):
        assert len(report.errors) == len(report.polls) == bad
        assert [executemany for _sql, executemany in writes] == [True]
    assert few[1] == many[1]


def test_batched_states_are_what_each_poll_found(tmp_path):
    report, _, _ = _cycles(tmp_path, good=3, bad=2, cycles=2)
    store = Store(environment(tmp_path, tmp_path / "rules", tmp_path / "feeds.yaml")["RADAR_DB"])
    try:
        states = store.feeds.states()
    finally:
        store.close()
    assert len(report.polls) == 3  # the failed feeds wait out their backoff
    for poll in report.polls:
        state = states[poll.url]
        assert state.last_poll is not None and state == poll.state
        assert state.failures == 0 and state.etag and state.baselined
    failed = [s for url, s in states.items() if "/down" in url]
    assert len(failed) == 2 and all(s.failures == 1 and s.last_error for s in failed)
