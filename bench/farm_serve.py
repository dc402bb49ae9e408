"""The farm under bench/farm.py: the feeds it serves (the real-feeds corpus, or synthetic RSS
feeds of 50 items), their changed versions, and nginx on loopback serving them."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("RADAR_REAL_FEEDS", ROOT.parent / "shared" / "corpora" / "real-feeds"))
HOSTS = 16
CYCLES = ("cold", "warm", "changed")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

_VOCABULARY = (
    "government ministry agency official report market trade policy export control chip "
    "semiconductor summit declaration travel guidance engineers experts researchers company "
    "license rule tariff minerals gallium germanium graphite talks leaders signed agreement "
    "weather sports football election budget museum festival recipe garden concert review "
    "science climate energy railway airport hospital school court parliament council city"
)
WORDS = _VOCABULARY.split()


# --- the farm -------------------------------------------------------------------------------


def synthetic_item(rng: random.Random, feed: int, number: int, when: float) -> str:
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
    summary = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 60)))
    link = f"https://news{feed % 97}.example.com/{feed}/story-{number}"
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f'<guid isPermaLink="false">synthetic-{feed}-{number}</guid>'
        f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
        f"<description>&lt;p&gt;{escape(summary)}&lt;/p&gt;</description></item>\n"
    )


def synthetic_feed(feed: int, items: int, extra: int, now: float) -> bytes:
    rng = random.Random(feed)
    body = [synthetic_item(rng, feed, n, now - 3600 * (n + 1)) for n in range(items)]
    fresh = random.Random(feed + 10**6)
    new = [synthetic_item(fresh, feed, items + n, now - 60 * n) for n in range(extra)]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Synthetic feed {feed}</title><link>https://news{feed % 97}.example.com/</link>"
        "<description>generated for the benchmark farm</description>\n"
        + "".join(new + body)
        + "</channel></rss>\n"
    ).encode()


def with_two_items(body: bytes, feed: int, now: float) -> bytes | None:
    """A real feed with two new items put before its first one, or None when it has no plain
    `<item>`/`<entry>` to put them before."""
    rng = random.Random(feed)
    for tag, make in (
        (b"<item>", lambda n: synthetic_item(rng, feed, 10**6 + n, now - 60 * n)),
        (b"<item ", lambda n: synthetic_item(rng, feed, 10**6 + n, now - 60 * n)),
        (b"<entry>", lambda n: atom_entry(rng, feed, 10**6 + n, now - 60 * n)),
        (b"<entry ", lambda n: atom_entry(rng, feed, 10**6 + n, now - 60 * n)),
    ):
        at = body.find(tag)
        if at >= 0:
            return body[:at] + (make(0) + make(1)).encode() + body[at:]
    return None


def atom_entry(rng: random.Random, feed: int, number: int, when: float) -> str:
    title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
    stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<entry><title>{escape(title)}</title><id>urn:farm:{feed}:{number}</id>"
        f'<link rel="alternate" href="https://farm.example.com/{feed}/{number}"/>'
        f"<updated>{stamp}</updated><summary>{escape(title)}</summary></entry>\n"
    )


@dataclass
class Farm:
    name: str
    folder: Path
    feeds: int
    changed: dict[int, bytes] = field(default_factory=dict)
    originals: dict[int, bytes] = field(default_factory=dict)

    def path(self, n: int) -> Path:
        return self.folder / f"f{n:05d}.xml"

    def reset(self) -> None:
        for n, body in self.originals.items():
            self.path(n).write_bytes(body)

    def change(self) -> None:
        for n, body in self.changed.items():
            self.path(n).write_bytes(body)


def changes_feed(n: int) -> bool:
    """10% of feeds change, half of them odd (served without validators in that cycle)."""
    return n % 20 in (3, 8)


def build_farm(name: str, www: Path, now: float) -> Farm | None:
    folder = www / name
    folder.mkdir(parents=True)
    if name == "real":
        files = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []
        if not files:
            print(f"farm real: skipped ({CORPUS} is missing)", file=sys.stderr)
            return None
        farm = Farm(name, folder, len(files))
        for n, source in enumerate(files):
            farm.originals[n] = source.read_bytes()
        candidates = [n for n in range(farm.feeds) if with_two_items(farm.originals[n], n, now)]
        wanted = max(1, farm.feeds // 10)
        odd = [n for n in candidates if n % 2][: wanted // 2]
        even = [n for n in candidates if not n % 2][: wanted - len(odd)]
        for n in odd + even:
            farm.changed[n] = with_two_items(farm.originals[n], n, now) or b""
    else:
        count = int(name)
        farm = Farm(name, folder, count)
        for n in range(count):
            farm.originals[n] = synthetic_feed(n, 50, 0, now)
            if changes_feed(n):
                farm.changed[n] = synthetic_feed(n, 50, 2, now)
    farm.reset()
    return farm


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if all(_port_free(f"127.0.0.{h}", port) for h in range(2, HOSTS + 1)):
            return port
    raise RuntimeError("no free port on the loopback addresses")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Nginx:
    """nginx in the foreground as our child, on HOSTS loopback addresses."""

    def __init__(self, work: Path, www: Path) -> None:
        self.work = work
        self.www = www
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = work / "access.log"
        for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            (work / "tmp" / sub).mkdir(parents=True, exist_ok=True)

    def url(self, farm: str, n: int) -> str:
        return f"http://127.0.0.{1 + n % HOSTS}:{self.port}/{farm}/f{n:05d}.xml"

    def config(self, validators_everywhere: bool) -> str:
        listen = "".join(f"    listen 127.0.0.{h}:{self.port};\n" for h in range(1, HOSTS + 1))
        # No ETag, no 304 on If-Modified-Since, and SSI processing drops Last-Modified (the
        # files hold no SSI commands, so the bodies are unchanged).
        no_validators = (
            ""
            if validators_everywhere
            else "    location ~ [13579]\\.xml$ {\n"
            "        etag off; if_modified_since off; ssi on; ssi_types *;\n    }\n"
        )
        tmp = self.work / "tmp"
        return f"""
worker_processes 1;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ application/xml xml; }}
    default_type application/octet-stream;
    log_format farm '$status $request_uri';
    access_log {self.log} farm;
    client_body_temp_path {tmp}/client;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    gzip on;
    gzip_comp_level 1;
    gzip_types application/xml;
    server {{
{listen}        root {self.www};
{no_validators}    }}
}}
"""

    def start(self, *, validators_everywhere: bool) -> None:
        self.stop()
        conf = self.work / "nginx.conf"
        conf.write_text(self.config(validators_everywhere), encoding="utf-8")
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.work), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.work / 'error.log').read_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((f"127.0.0.{HOSTS}", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def take_log(self) -> tuple[int, int, int]:
        """(requests, 200s, 304s) logged since the last call."""
        if not self.log.exists():
            return 0, 0, 0
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        self.log.write_text("", encoding="utf-8")
        statuses = [line.split(" ", 1)[0] for line in lines]
        return len(statuses), statuses.count("200"), statuses.count("304")
