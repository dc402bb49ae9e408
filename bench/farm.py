"""Radar beside its peers on one loopback farm: whole processes, same URLs, one sitting.

    python bench/farm.py [--farms real,500,2000] [--runs 3] [--tools radar,newsboat,...]
                         [--profile] [--peers-python .venv-peers/bin/python]

A farm is nginx from Debian (configured here, in a temporary folder, on a free port of 16
loopback addresses so that per-host limits behave as with many publishers), serving with ETag
and Last-Modified over (a) ../shared/corpora/real-feeds and (b) N synthetic RSS feeds of 50 items.
Each run of each tool starts from empty state and goes through three cycles:

- cold: the first poll of every feed;
- warm: nothing changed, every answer is 304;
- changed: 10% of the feeds gained two items, and half of the feeds (odd numbers) are now
  served without validators (no ETag, no Last-Modified: full bodies every time).

Tools: Radar (`radar run --once`, console alerts to /dev/null), newsboat (`newsboat -x reload`),
rss2email (`r2e run --no-send`), feed2exec (`feed2exec fetch`, null output) and lemon24's
reader (`bench/peer_reader.py`, run by a separate interpreter: `--peers-python`). A tool that
is not installed is named and skipped. Runs are interleaved (run 1 of every tool, then run 2…)
so that a noisy neighbour hits all tools alike. Reported per farm, cycle and tool: the median
wall time, CPU (user + system) and peak RSS of the process (from wait4), the spread (min-max of
wall), the requests and 304s nginx logged, and Radar's ratio to each peer. The markdown table
goes to standard output and to bench/results/. `--profile` adds a cProfile of Radar's cold
cycle on the first farm (top functions by own time and by cumulative time).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("RADAR_REAL_FEEDS", ROOT.parent / "shared" / "corpora" / "real-feeds"))
RESULTS = ROOT / "bench" / "results"
HOSTS = 16
CYCLES = ("cold", "warm", "changed")
TIMEOUT = 3600.0

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


# --- the tools ------------------------------------------------------------------------------


class Tool:
    name = ""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def missing(self) -> str | None:
        """Why the tool cannot run here, or None."""
        return None

    def prepare(self, state: Path, urls: list[str]) -> None:
        """Fresh state for a run over these URLs."""

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def version(self) -> str:
        return ""


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(HOME=str(state), XDG_CONFIG_HOME=str(state), XDG_DATA_HOME=str(state))
    env.update(XDG_CACHE_HOME=str(state), LANG="C.UTF-8", **extra)
    return env


class Radar(Tool):
    name = "radar"

    def __init__(self, args: argparse.Namespace, root: Path | None = None, label: str = "") -> None:
        super().__init__(args)
        self.root = root or args.radar_root
        self.name = label or "radar"

    def prepare(self, state: Path, urls: list[str]) -> None:
        lines = "".join(f"  - url: {u}\n" for u in urls)
        (state / "feeds.yaml").write_text(
            f"defaults: {{interval: 10m}}\nfeeds:\n{lines}", encoding="utf-8"
        )

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        env = _env(
            state,
            RADAR_DB=f"sqlite:///{state / 'radar.db'}",
            RADAR_RULES=str(self.root / "rules"),
            RADAR_FEEDS=str(state / "feeds.yaml"),
            PYTHONPATH=str(self.root),
        )
        return [self.args.radar_python, "-m", "bot", "run", "--once"], env

    def version(self) -> str:
        out = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"{self.root} {out.stdout.strip()}".strip()


class Newsboat(Tool):
    name = "newsboat"

    def missing(self) -> str | None:
        return None if shutil.which("newsboat") else "newsboat is not installed"

    def prepare(self, state: Path, urls: list[str]) -> None:
        (state / "urls").write_text("".join(u + "\n" for u in urls), encoding="utf-8")
        (state / "config").write_text("", encoding="utf-8")

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        argv = ["newsboat", "-u", str(state / "urls"), "-c", str(state / "cache.db")]
        return [*argv, "-C", str(state / "config"), "-x", "reload"], _env(state)

    def version(self) -> str:
        return _first_line(["newsboat", "--version"])


class Rss2email(Tool):
    name = "rss2email"

    def missing(self) -> str | None:
        return None if shutil.which("r2e") else "rss2email (r2e) is not installed"

    def prepare(self, state: Path, urls: list[str]) -> None:
        config, data = state / "r2e.cfg", state / "r2e.json"
        subprocess.run(
            ["r2e", "-c", str(config), "-d", str(data), "new", "bench@example.invalid"],
            check=True,
            capture_output=True,
            env=_env(state),
        )
        feeds = "".join(f"\n[feed.f{n}]\nurl = {u}\n" for n, u in enumerate(urls))
        with config.open("a", encoding="utf-8") as handle:
            handle.write(feeds)

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        argv = ["r2e", "-c", str(state / "r2e.cfg"), "-d", str(state / "r2e.json")]
        return [*argv, "run", "--no-send"], _env(state)

    def version(self) -> str:
        return _first_line(["r2e", "--version"])


class Feed2exec(Tool):
    name = "feed2exec"

    def missing(self) -> str | None:
        return None if shutil.which("feed2exec") else "feed2exec is not installed"

    def prepare(self, state: Path, urls: list[str]) -> None:
        sections = "".join(
            f"[f{n}]\nurl = {u}\noutput = feed2exec.plugins.null\n\n" for n, u in enumerate(urls)
        )
        (state / "feed2exec.ini").write_text(sections, encoding="utf-8")

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        argv = ["feed2exec", "--config", str(state / "feed2exec.ini")]
        return [*argv, "--database", str(state / "feed2exec.db"), "fetch"], _env(state)

    def version(self) -> str:
        return _first_line(["feed2exec", "--version"])


class Reader(Tool):
    name = "reader"

    def missing(self) -> str | None:
        python = self.args.peers_python
        if not python or not Path(python).exists():
            return f"no interpreter at {python} (see bench/README.md: a venv with reader)"
        probe = subprocess.run([python, "-c", "import reader"], capture_output=True, check=False)
        return None if probe.returncode == 0 else f"{python} cannot import reader"

    def prepare(self, state: Path, urls: list[str]) -> None:
        (state / "urls").write_text("".join(u + "\n" for u in urls), encoding="utf-8")

    def command(self, state: Path) -> tuple[list[str], dict[str, str]]:
        script = str(ROOT / "bench" / "peer_reader.py")
        argv = [self.args.peers_python, script, str(state / "reader.sqlite"), str(state / "urls")]
        return argv, _env(state)

    def version(self) -> str:
        code = "import reader; print('reader', reader.__version__)"
        return _first_line([self.args.peers_python, "-c", code])


TOOLS = {t.name: t for t in (Radar, Newsboat, Rss2email, Feed2exec, Reader)}


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    ok: int
    not_modified: int
    exit: int


def measure(argv: list[str], env: dict[str, str], cwd: Path, errors: Path) -> Sample:
    """Run one process to completion: wall time, CPU (user + system, from wait4) and peak RSS.

    The peak RSS comes from GNU time around the tool: a child's ru_maxrss starts at its
    parent's RSS when it forks, and this script holds the farm in memory.
    """
    peak = cwd / "peak-rss-kb"
    peak.unlink(missing_ok=True)
    if TIME:
        argv = [TIME, "-f", "%M", "-o", str(peak), *argv]
    with errors.open("ab") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        deadline_hit = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > TIMEOUT:
                process.kill()
                deadline_hit = True
            time.sleep(0.005)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    code = -999 if deadline_hit else process.returncode
    rss_kb = usage.ru_maxrss
    if TIME and peak.exists():
        rss_kb = int(peak.read_text().split()[-1])
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024, 0, 0, 0, code)


def run_tool(tool: Tool, farm: Farm, nginx: Nginx, work: Path) -> dict[str, Sample]:
    state = work / "state" / f"{tool.name}-{farm.name}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    farm.reset()
    nginx.start(validators_everywhere=True)
    urls = [nginx.url(farm.name, n) for n in range(farm.feeds)]
    tool.prepare(state, urls)
    samples: dict[str, Sample] = {}
    for cycle in CYCLES:
        if cycle == "changed":
            farm.change()
            nginx.start(validators_everywhere=False)
        nginx.take_log()
        argv, env = tool.command(state)
        sample = measure(argv, env, state, state / "stderr.log")
        sample.requests, sample.ok, sample.not_modified = nginx.take_log()
        samples[cycle] = sample
    return samples


def profile_radar(tool: Radar, farm: Farm, nginx: Nginx, work: Path) -> str:
    """cProfile of Radar's cold cycle: the top functions by own and cumulative time."""
    state = work / "state" / f"profile-{tool.name}-{farm.name}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    farm.reset()
    nginx.start(validators_everywhere=True)
    tool.prepare(state, [nginx.url(farm.name, n) for n in range(farm.feeds)])
    argv, env = tool.command(state)
    out = state / "cold.prof"
    argv = [argv[0], str(ROOT / "bench" / "profile_radar.py"), str(out), *argv[3:]]
    measure(argv, env, state, state / "stderr.log")
    lines = [
        f"### Profile of {tool.name}'s cold cycle, farm {farm.name} (cProfile, all threads)",
        "",
        "Waiting (epoll, worker queues, locks) is counted too, in every thread.",
        "",
    ]
    for key, label in (("tottime", "own time"), ("cumulative", "cumulative time")):
        stream = _Capture()
        stats = pstats.Stats(str(out), stream=stream)
        stats.strip_dirs().sort_stats(key).print_stats(25)
        lines += [f"Top 25 by {label}:", "", "```", *stream.table(), "```", ""]
    return "\n".join(lines)


class _Capture:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def table(self) -> list[str]:
        lines = "".join(self.parts).splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        total = [line.strip() for line in lines if "function calls" in line]
        return [*total, *[line for line in lines[start:] if line.strip()]]


# --- reporting ------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}×" if theirs > 0 else "-"


def report(
    results: dict[tuple[str, str, str], list[Sample]],
    farms: list[Farm],
    tools: list[Tool],
    runs: str,
) -> str:
    lines = []
    for farm in farms:
        items = "real feeds" if farm.name == "real" else "synthetic feeds of 50 items"
        lines += [f"### Farm {farm.name}: {farm.feeds} {items}", ""]
        lines += [
            "| cycle | tool | wall s (median) | wall min-max | CPU s | peak RSS MB | requests | 200 | 304 | exit | Radar/tool wall | CPU | RSS |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for cycle in CYCLES:
            radar = results.get((farm.name, cycle, "radar"), [])
            for tool in tools:
                samples = results.get((farm.name, cycle, tool.name), [])
                if not samples:
                    continue
                wall = median([s.wall for s in samples])
                cpu = median([s.cpu for s in samples])
                rss = median([s.rss_mb for s in samples])
                spread = f"{min(s.wall for s in samples):.2f}-{max(s.wall for s in samples):.2f}"
                last = samples[-1]
                exits = ",".join(sorted({str(s.exit) for s in samples}))
                ratios = ["", "", ""]
                if radar and not isinstance(tool, Radar):
                    ratios = [
                        ratio(median([s.wall for s in radar]), wall),
                        ratio(median([s.cpu for s in radar]), cpu),
                        ratio(median([s.rss_mb for s in radar]), rss),
                    ]
                lines.append(
                    f"| {cycle} | {tool.name} | {wall:.2f} | {spread} | {cpu:.2f} | {rss:.0f} "
                    f"| {last.requests} | {last.ok} | {last.not_modified} | {exits} | "
                    + " | ".join(ratios)
                    + " |"
                )
        lines.append("")
    lines.append(
        f"Medians of {runs} run(s); ratios are Radar's median over the peer's (below 1 is Radar "
        "faster or lighter). requests/200/304 are nginx's log of the last run."
    )
    return "\n".join(lines)


def goals(
    results: dict[tuple[str, str, str], list[Sample]], farms: list[Farm], tools: list[Tool]
) -> str:
    """Each Radar against the fastest peer (wall) and the lightest peer (peak RSS)."""
    radars = [t for t in tools if isinstance(t, Radar)]
    peers = [t for t in tools if not isinstance(t, Radar)]
    if not radars or not peers:
        return ""
    lines = [
        "### Radar against the fastest and the lightest peer",
        "",
        "| farm | cycle | Radar | wall s | fastest peer | its wall s | ratio | peak RSS MB | lightest peer | its RSS MB | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for farm in farms:
        for cycle in CYCLES:
            walls = {
                p.name: median([s.wall for s in results[(farm.name, cycle, p.name)]])
                for p in peers
                if (farm.name, cycle, p.name) in results
            }
            rss = {
                p.name: median([s.rss_mb for s in results[(farm.name, cycle, p.name)]])
                for p in peers
                if (farm.name, cycle, p.name) in results
            }
            if not walls:
                continue
            fastest = min(walls, key=walls.__getitem__)
            lightest = min(rss, key=rss.__getitem__)
            for radar in radars:
                samples = results.get((farm.name, cycle, radar.name))
                if not samples:
                    continue
                wall = median([s.wall for s in samples])
                mem = median([s.rss_mb for s in samples])
                lines.append(
                    f"| {farm.name} | {cycle} | {radar.name} | {wall:.2f} | {fastest} | "
                    f"{walls[fastest]:.2f} | {ratio(wall, walls[fastest])} | {mem:.0f} | "
                    f"{lightest} | {rss[lightest]:.0f} | {ratio(mem, rss[lightest])} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--farms", default="real,500,2000", help="real and/or feed counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated")
    parser.add_argument("--radar-python", default=sys.executable, help="interpreter with Radar")
    parser.add_argument(
        "--radar-root",
        type=Path,
        default=ROOT,
        help="Radar checkout to run (put first on PYTHONPATH; its rules are used)",
    )
    parser.add_argument(
        "--peers-python",
        default=str(ROOT / ".venv-peers" / "bin" / "python"),
        help="interpreter with lemon24's reader installed",
    )
    parser.add_argument(
        "--also-radar",
        action="append",
        default=[],
        metavar="LABEL=ROOT",
        help="another Radar checkout to run beside the first (before/after in one sitting)",
    )
    parser.add_argument(
        "--large-runs",
        type=int,
        help="runs for synthetic farms of more than 1,000 feeds (default: --runs)",
    )
    parser.add_argument("--profile", action="store_true", help="profile Radar's cold cycle")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    if not NGINX:
        sys.exit("nginx is not installed (apt-get install nginx)")
    tools: list[Tool] = []
    for name in args.tools.split(","):
        if name not in TOOLS:
            sys.exit(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
        tool = TOOLS[name](args)
        if why := tool.missing():
            print(f"skipping {name}: {why}", file=sys.stderr)
            continue
        tools.append(tool)
        if name == "radar":
            for extra in args.also_radar:
                label, _, root = extra.partition("=")
                tools.append(Radar(args, Path(root).resolve(), label))

    work = Path(tempfile.mkdtemp(prefix="radar-farm-"))
    work.chmod(0o755)
    www = work / "www"
    now = time.time()
    farms = [f for f in (build_farm(name, www, now) for name in args.farms.split(",")) if f]
    for path in [www, *www.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    nginx = Nginx(work, www)
    results: dict[tuple[str, str, str], list[Sample]] = {}
    started = time.monotonic()
    try:
        large_runs = args.runs if args.large_runs is None else args.large_runs
        for run in range(max(args.runs, large_runs)):
            for farm in farms:
                wanted = large_runs if farm.name != "real" and farm.feeds > 1000 else args.runs
                if run >= wanted:
                    continue
                for tool in tools:
                    samples = run_tool(tool, farm, nginx, work)
                    for cycle, sample in samples.items():
                        results.setdefault((farm.name, cycle, tool.name), []).append(sample)
                    print(
                        f"run {run + 1}/{args.runs} farm {farm.name} {tool.name}: "
                        + ", ".join(
                            f"{c} {s.wall:.2f}s/{s.cpu:.2f}s cpu/{s.rss_mb:.0f}MB"
                            f" ({s.requests} req, {s.not_modified} 304)"
                            for c, s in samples.items()
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
        radars = [t for t in tools if isinstance(t, Radar)] if args.profile and farms else []
        profile = "\n".join(profile_radar(t, farms[0], nginx, work) for t in radars)
    finally:
        nginx.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)

    header = [
        f"## Feed farm, {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Command: `python bench/farm.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at the end {os.getloadavg()[0]:.2f}, {time.monotonic() - started:.0f} s in all  ",
        "Versions: " + "; ".join(f"{t.name} {t.version()}" for t in tools),
        "",
    ]
    runs = (
        f"{args.runs}"
        if large_runs == args.runs
        else f"{args.runs} ({large_runs} for farms over 1,000 feeds)"
    )
    body = [report(results, farms, tools, runs), "", goals(results, farms, tools), "", profile]
    text = "\n".join([*header, *body]).rstrip()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"farm-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {out}", file=sys.stderr)


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

if __name__ == "__main__":
    main()
