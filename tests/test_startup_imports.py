"""Start-up imports only what the configuration needs: a `radar run --once` on SQLite at the
schema's head, with neither Slack nor Telegram configured, loads no Alembic, no PostgreSQL
dialect and no Slack or Telegram client (each run in a process of its own, as a user runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from feedserver import static

from bot.storage import Migrations, Store
from bot.storage.migrations import LOCATION

ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "alembic",
    "sqlalchemy.dialects.postgresql",
    "slack_sdk",
    "telegram",
    "bot.deliver.slack",
    "bot.deliver.telegram",
)
PROBE = """
import json, sys
from bot.cli import main
code = main(["run", "--once"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>One</title>'
    "<item><title>Hello</title><link>https://one.example/1</link><guid>1</guid></item>"
    "</channel></rss>"
)


def _run_once(folder: Path, **extra: str) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(
        RADAR_DB=f"sqlite:///{folder / 'radar.db'}",
        RADAR_RULES=str(ROOT / "rules"),
        RADAR_FEEDS=str(folder / "feeds.yaml"),
        **extra,
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["code"], set(found["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_a_console_run_at_the_schema_head_imports_nothing_it_does_not_use(tmp_path):
    (tmp_path / "one.xml").write_text(FEED, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - url: {tmp_path / 'one.xml'}\n", encoding="utf-8"
    )
    code, first = _run_once(tmp_path)  # creates the schema: Alembic is needed
    assert code == 0 and _loaded(first, "alembic")
    code, modules = _run_once(tmp_path)
    assert code == 0
    assert [name for name in HEAVY if _loaded(modules, name)] == []


# What only a cycle that reads bodies or loads the rules from their files needs.
FOR_BODIES_AND_RULES = ("pydantic", "yaml", "feedparser", "lxml", "rapidfuzz", "bot.rules.load")


def test_a_quiet_cycle_with_cached_rules_loads_no_parser_and_no_validator(tmp_path, feed_server):
    url = feed_server.set("/one.xml", static(FEED.encode(), etag='"v1"'))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {url}\n", encoding="utf-8")
    cache = {"RADAR_CACHE_DIR": str(tmp_path / "cache")}
    code, first = _run_once(tmp_path, **cache)  # the first poll parses; the rules are compiled
    assert code == 0
    assert all(_loaded(first, name) for name in ("feedparser", "lxml", "pydantic", "yaml"))
    code, modules = _run_once(tmp_path, **cache)  # a 304, and the rules from the cache
    assert code == 0
    assert [r.headers.get("if-none-match") for r in feed_server.hits("/one.xml")] == [None, '"v1"']
    assert [name for name in FOR_BODIES_AND_RULES if _loaded(modules, name)] == []


def test_a_configured_telegram_client_is_imported(tmp_path):
    (tmp_path / "one.xml").write_text(FEED, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - url: {tmp_path / 'one.xml'}\n", encoding="utf-8"
    )
    Store(f"sqlite:///{tmp_path / 'radar.db'}").close()
    # An API nobody answers on: commands fail to arrive, the cycle still runs and exits 0.
    code, modules = _run_once(
        tmp_path, TELEGRAM_BOT_TOKEN="1:test", TELEGRAM_API_URL="http://127.0.0.1:9/bot"
    )
    assert code == 0
    assert _loaded(modules, "bot.deliver.telegram")
    assert not _loaded(modules, "slack_sdk")


def test_the_declared_head_is_alembics_head(tmp_path):
    assert Migrations().declared_head == Migrations().head
    folder = tmp_path / "next"
    shutil.copytree(LOCATION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = Migrations().head
    following = f"{int(head) + 1:04d}"
    (folder / "versions" / f"{following}_more.py").write_text(
        f'revision = "{following}"\ndown_revision = "{head}"\n\n\ndef upgrade() -> None:\n'
        "    pass\n",
        encoding="utf-8",
    )
    assert Migrations(folder).declared_head == Migrations(folder).head == following
    (folder / "versions" / "9999_branch.py").write_text(
        f'revision = "9999"\ndown_revision = "{head}"\n', encoding="utf-8"
    )
    assert Migrations(folder).declared_head is None  # two heads: Alembic decides


def test_a_database_one_revision_behind_is_still_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    Store(url).close()
    folder = tmp_path / "next"
    shutil.copytree(LOCATION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = Migrations().head
    following = f"{int(head) + 1:04d}"
    (folder / "versions" / f"{following}_notes.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "{following}"\ndown_revision = "{head}"\n\n\n'
        "def upgrade() -> None:\n"
        '    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))\n',
        encoding="utf-8",
    )
    store = Store(url, migrations=Migrations(folder))
    try:
        assert (store.schema.before, store.schema.after) == (head, following)
    finally:
        store.close()
