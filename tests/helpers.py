"""Helpers shared by the tests: configuration folders, one-cycle runs, the CLI in-process or as
a subprocess, reads through the Store API."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import yaml
from feedserver import now_rfc822, rss, static
from skip_clock import SkipClock

from bot import cli as radar_cli
from bot.app import CycleReport, Radar, build_senders
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import load_settings
from bot.models import FetchLimits
from bot.storage import Store
from bot.types import DeliveryStatus
from bot.watchlist import load_watchlist

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RULES = ROOT / "rules"
DATA = Path(__file__).resolve().parent / "data"

CHIP_RULE = {
    "id": "chip-export",
    "title": "Chip export controls",
    "severity": "high",
    "match": {
        "all": [
            {"any": ["export control*", "entity list", "licen* requirement*", "出口管制"]},
            {"any": ["chip*", "semiconductor*", "GPU*", {"actors": ["nvidia"]}]},
        ],
        "none": ["potato chip*"],
    },
    "slack": ["#export-controls"],
    "examples": {
        "match": ["US adds 80 Chinese firms to Entity List over AI chips"],
        "no_match": ["Snack maker recalls potato chips"],
    },
}
ACTORS = {"actors": {"nvidia": {"name": "Nvidia", "aliases": ["英伟达", "NVIDIA Corp"]}}}


SUBJECTS = [
    "gallium",
    "lithography",
    "memory",
    "GPU",
    "antimony",
    "DUV",
    "HBM",
    "graphite",
    "EUV",
    "DRAM",
    "NAND",
    "germanium",
]
PLACES = ["Tokyo", "The Hague", "Seoul", "Taipei", "Berlin", "Ottawa", "Canberra", "Brussels"]


def distinct_items(count: int, feed: int = 0) -> list[dict]:
    """RSS items that the chip rule matches and that are different stories from each other:
    different subjects, places and numbers."""
    return [
        {
            "title": f"{PLACES[feed % len(PLACES)]} adds export controls on {SUBJECTS[n % len(SUBJECTS)]} chips, "
            f"covering {10 + 7 * n + 1000 * feed} firms",
            "link": f"https://news.example.com/{feed}/{n}",
            "guid": f"https://news.example.com/{feed}/{n}",
            "pubDate": now_rfc822(-60),
        }
        for n in range(count)
    ]


def write_rules(
    folder: Path, rules: Iterable[Mapping] = (CHIP_RULE,), actors: Mapping = ACTORS
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "actors.yaml").write_text(
        yaml.safe_dump(dict(actors), allow_unicode=True), encoding="utf-8"
    )
    for rule in rules:
        (folder / f"{rule['id']}.yaml").write_text(
            yaml.safe_dump(dict(rule), allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return folder


def subscribed_farm(
    folder: Path, feed_server, telegram, *, chats: int, alerts: int, **env_extra: str
) -> dict[str, str]:
    """A feed of `alerts` distinct chip stories and `chats` Telegram chats subscribed to them."""
    url = feed_server.set("/farm.xml", static(rss(distinct_items(alerts))))
    feeds = write_feeds(folder / "feeds.yaml", [{"url": url, "baseline": False, "interval": "30s"}])
    env = environment(
        folder,
        write_rules(folder / "rules"),
        feeds,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
        **env_extra,
    )
    store = Store(env["RADAR_DB"])
    for chat in range(1, chats + 1):
        store.subscriptions.subscribe(chat, ["chip-export"], time.time())
    store.close()
    return env


def copy_shipped_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED_RULES.glob("*.yaml"):
        if path.name != "feeds.yaml":
            shutil.copy(path, folder / path.name)
    return folder


def write_feeds(path: Path, feeds: Iterable[Mapping], defaults: Mapping | None = None) -> Path:
    document: dict = {"feeds": [dict(f) for f in feeds]}
    if defaults is not None:
        document["defaults"] = dict(defaults)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def environment(tmp: Path, rules_dir: Path, feeds_file: Path, **extra: str) -> dict[str, str]:
    env = {
        "RADAR_DB": f"sqlite:///{tmp / 'radar.db'}",
        "RADAR_RULES": str(rules_dir),
        "RADAR_FEEDS": str(feeds_file),
        "RADAR_FETCH_TIMEOUT": "5",
    }
    env.update(extra)
    return env


def run_once(
    env: Mapping[str, str],
    *,
    json_lines: bool = True,
    clock: SkipClock | Clock = SYSTEM_CLOCK,
    fetch: FetchLimits | None = None,
) -> tuple[CycleReport, list]:
    """One in-process `radar run --once`; returns the report and what the console printed
    (parsed JSON lines). `clock` is the run's clock (the test's `clock` fixture skips the
    rate limits' waits); `fetch` replaces the fetch limits read from `env`."""
    if isinstance(clock, SkipClock):
        clock = clock.clock
    settings = load_settings(env)
    if fetch is not None:
        settings = replace(settings, fetch=fetch)
    config = load_watchlist(settings)
    stream = io.StringIO()
    store = Store(settings.db_url)
    senders = build_senders(settings, stream=stream, json_lines=json_lines, clock=clock)
    radar = Radar(settings, config, store, senders, clock=clock)

    async def cycle() -> CycleReport:
        try:
            return await radar.run_once()
        finally:
            await radar.aclose()

    try:
        report = asyncio.run(cycle())
    finally:
        store.close()
    text = stream.getvalue()
    printed = (
        [json.loads(line) for line in text.splitlines() if line.strip()] if json_lines else [text]
    )
    return report, printed


RADAR_PREFIXES = ("RADAR_", "SLACK_", "TELEGRAM_")


def in_process(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`radar ARGS` as `bot.cli.main` in this process, run from the checkout with only these
    Radar variables set: its exit code and what it wrote to standard output and error. The
    environment, working directory and logging set-up are restored afterwards."""
    out, err = io.StringIO(), io.StringIO()
    with _isolated(env), redirect_stdout(out), redirect_stderr(err):
        try:
            code = radar_cli.main(args)
        except SystemExit as exc:  # argparse refuses the arguments
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return subprocess.CompletedProcess(["radar", *args], code, out.getvalue(), err.getvalue())


@contextmanager
def _isolated(env: Mapping[str, str]) -> Iterator[None]:
    saved_env, cwd = dict(os.environ), Path.cwd()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    levels = {lg.name: lg.level for lg in loggers}
    for name in [n for n in os.environ if n.startswith(RADAR_PREFIXES)]:
        del os.environ[name]
    os.environ.update(env)
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


def cli(
    args: list[str], env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in a subprocess with only these Radar variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(RADAR_PREFIXES)}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def git(folder: Path, *args: str) -> str:
    """A git command in `folder`, as a test author with no global git configuration."""
    done = subprocess.run(
        ["git", "-c", "user.name=Radar Test", "-c", "user.email=test@example.org", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def git_repo(folder: Path) -> Path:
    """A new repository on branch main with everything in `folder` committed."""
    git(folder, "init", "-q", "-b", "main")
    commit_all(folder, "initial rules")
    return folder


def commit_all(folder: Path, message: str) -> str:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)
    return git(folder, "rev-parse", "HEAD")


T = TypeVar("T")


def stored(db_url: str, read: Callable[[Store], T]) -> T:
    """What `read` gets through the Store API from the database at `db_url`."""
    store = Store(db_url)
    try:
        return read(store)
    finally:
        store.close()


def recorded_refs(db_url: str) -> set[str]:
    """The message references of outbox rows recorded as sent."""
    sent = stored(db_url, lambda store: store.outbox.with_status(DeliveryStatus.SENT))
    return {d.ref for d in sent if d.ref is not None}
