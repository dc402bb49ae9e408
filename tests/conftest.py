from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from feedserver import FeedServer


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
