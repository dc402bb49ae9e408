"""Telegram delivery throughput against the fake Bot API enforcing Telegram's limits
(30 messages/s overall, 1/s per chat, 20/min per group), and a kill-and-restart run.

    python bench/telegram_bench.py [--chats 500] [--alerts 20]        # 10,000 messages
    python bench/telegram_bench.py --kills 2 [--chats 100] [--alerts 10]

The first form ingests --alerts alerts for --chats subscribed chats and times the outbox
worker delivering them all: elapsed against the limit-bound minimum, and the 429s received.
The second runs `radar run` as a process, kills it with SIGKILL while it delivers, restarts
it, and counts messages lost and repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_telegram import FakeTelegram  # noqa: E402
from feedserver import FeedServer  # noqa: E402
from helpers import subscribed_farm  # noqa: E402

from bot.app import Radar, build_senders  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.fetch import Fetcher  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.watchlist import load_watchlist  # noqa: E402


async def throughput(env: dict[str, str]) -> tuple[float, int]:
    settings = load_settings(env)
    store = Store(settings.db_url)
    radar = Radar(settings, load_watchlist(settings), store, build_senders(settings))
    try:
        async with Fetcher(settings.fetch) as fetcher:
            await radar.poll_all(fetcher)
        started = time.perf_counter()
        stats = await radar.outbox.deliver_due()
        return time.perf_counter() - started, stats.sent
    finally:
        await radar.aclose()
        store.close()


def run_throughput(chats: int, alerts: int) -> None:
    server, telegram = FeedServer().start(), FakeTelegram().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = subscribed_farm(Path(tmp), server, telegram, chats=chats, alerts=alerts)
            elapsed, sent = asyncio.run(throughput(env))
        messages = chats * alerts
        minimum = max(messages / 30, (alerts - 1) * 1.0)  # 30/s overall, 1/s per chat
        print(
            f"{messages:,} messages to {chats} chats: {elapsed:.1f}s (limit-bound minimum {minimum:.1f}s)"
        )
        print(
            f"  sent {sent:,}, {sent / elapsed:.1f} messages/s = {100 * minimum / elapsed:.1f}% of the allowed rate"
        )
        print(
            f"  429 answers: {telegram.rate_limited}; messages the fake accepted: {len(telegram.sent):,}"
        )
    finally:
        telegram.stop()
        server.stop()


def run_kills(chats: int, alerts: int, kills: int) -> None:
    server, telegram = FeedServer().start(), FakeTelegram().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = subscribed_farm(folder, server, telegram, chats=chats, alerts=alerts)
            clean = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
            }
            clean.update(env)
            expected = chats * alerts
            log = (folder / "radar.log").open("ab")

            def start() -> subprocess.Popen:
                return subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    env=clean,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )

            def unique() -> int:
                return len({(m["chat_id"], m["text"]) for m in telegram.sent})

            for k in range(kills):
                process = start()
                threshold = expected * (k + 1) // (kills + 1)
                while len(telegram.sent) < threshold:
                    time.sleep(0.05)
                process.send_signal(signal.SIGKILL)
                process.wait()
            process = start()
            deadline = time.monotonic() + expected / 10 + 120
            while unique() < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        delivered = Counter((m["chat_id"], m["text"]) for m in telegram.sent)
        lost = expected - len(delivered)
        repeated = sum(n - 1 for n in delivered.values())
        print(
            f"{expected:,} messages, {kills} SIGKILLs during delivery: lost {lost}, repeated {repeated}, 429s {telegram.rate_limited}"
        )
    finally:
        telegram.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--kills", type=int, default=0)
    args = parser.parse_args()
    if args.kills:
        run_kills(args.chats, args.alerts, args.kills)
    else:
        run_throughput(args.chats, args.alerts)


if __name__ == "__main__":
    main()
