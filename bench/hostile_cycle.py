"""A cycle with hostile feeds beside healthy ones: how long `radar run --once` takes and whether
every healthy feed's alert is delivered.

    python bench/hostile_cycle.py [--feeds 200]

A loopback farm (tests/feedserver.py): N healthy feeds of 20 items, one item each that the
shipped chip-export rule alerts on, beside a slowloris (one byte every 0.5 s for ever), an
endless body, a body that never starts and a compression bomb. Radar runs as a whole process
with its defaults (RADAR_FETCH_TIMEOUT 20 s). Prints the wall time and healthy alerts
delivered / expected.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import yaml  # noqa: E402
from feedserver import FeedServer, bomb, endless, now_rfc822, rss, slowloris, static  # noqa: E402


def _silent(_request, handler) -> None:
    """Accepts the request and never answers."""
    time.sleep(3600)


def _healthy(n: int) -> bytes:
    items = [
        {
            "title": f"Feed {n} story {i} about the weather",
            "link": f"https://news{n}.example/{i}",
            "guid": f"https://news{n}.example/{i}",
            "pubDate": now_rfc822(-3600 - i),
            "description": "Rain.",
        }
        for i in range(19)
    ]
    items.append(
        {
            "title": f"Country {n} adds {n + 3} chipmakers to its export control entity list",
            "link": f"https://news{n}.example/controls",
            "guid": f"https://news{n}.example/controls",
            "pubDate": now_rfc822(-600),
            "description": f"The ministry listed {n + 3} semiconductor firms, country {n} said.",
        }
    )
    return rss(items, title=f"News {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    args = parser.parse_args()
    server = FeedServer().start()
    try:
        feeds = [{"url": server.set(f"/h{n}.xml", static(_healthy(n)))} for n in range(args.feeds)]
        hostile = {
            "/slowloris.xml": slowloris(0.5),
            "/endless.xml": endless(),
            "/silent.xml": _silent,
            "/bomb.xml": static(bomb(["gzip"], 1 << 28), headers={"Content-Encoding": "gzip"}),
        }
        feeds += [{"url": server.set(path, route)} for path, route in hostile.items()]
        with tempfile.TemporaryDirectory() as tmp:
            feeds_file = Path(tmp) / "feeds.yaml"
            feeds_file.write_text(
                yaml.safe_dump({"defaults": {"baseline": False}, "feeds": feeds}), "utf-8"
            )
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
            }
            env |= {
                "RADAR_DB": f"sqlite:///{tmp}/radar.db",
                "RADAR_FEEDS": str(feeds_file),
                "RADAR_RULES": str(ROOT / "rules"),
            }
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "bot", "run", "--once", "--json"],
                env=env,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            wall = time.monotonic() - started
        alerts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        healthy = {a.get("link") for a in alerts if "/controls" in (a.get("link") or "")}
        print(f"radar run --once: exit {done.returncode}, {wall:.1f} s wall")
        print(f"healthy feeds' alerts delivered: {len(healthy)} / {args.feeds}")
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
