from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fake_slack import FakeSlack
from fake_telegram import FakeTelegram
from feedserver import FeedServer
from skip_clock import SkipClock


@pytest.fixture(scope="session", autouse=True)
def _cache_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Radar processes the tests start keep their rules cache in the run's temporary folder,
    not in the user's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("RADAR_TEST_PG")
    if not url:
        pytest.skip("RADAR_TEST_PG is not set: PostgreSQL tests need a database URL")
    return url


@pytest.fixture
def pg_schema_url(pg_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of its own, dropped afterwards (other test
    runs may share the server)."""
    schema = f"radar_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clock() -> SkipClock:
    """The test's clock: pass it to `run_once` and the rate limits' waits are skipped, as the
    fake APIs (which keep time on it) see them."""
    return SkipClock()


@pytest.fixture
def slack(clock: SkipClock) -> Iterator[FakeSlack]:
    """A fake Slack Web API with the channel the test rules post to (#export-controls)."""
    api = FakeSlack(now=clock.monotonic).start()
    api.add_channel("#export-controls")
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def telegram(clock: SkipClock) -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API."""
    api = FakeTelegram(now=clock.monotonic).start()
    try:
        yield api
    finally:
        api.stop()
