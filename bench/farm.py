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
import datetime as dt
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from farm_report import Sample, goals, report
from farm_serve import CYCLES, NGINX, Farm, Nginx, build_farm

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TIMEOUT = 3600.0

# --- the tools ------------------------------------------------------------------------------


class Tool:
    name = ""
    radar = False

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
    # A user's environment: no Slack or Telegram, and byte-code caching on (a session that sets
    # PYTHONDONTWRITEBYTECODE would make Python tools compile their own sources on every run).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TELEGRAM_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(HOME=str(state), XDG_CONFIG_HOME=str(state), XDG_DATA_HOME=str(state))
    env.update(XDG_CACHE_HOME=str(state), LANG="C.UTF-8", **extra)
    return env


class Radar(Tool):
    name = "radar"
    radar = True

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
        "CPU time of each thread of the main process (waiting costs nothing; the parse worker",
        "process is not seen), inflated by cProfile where code makes many small calls.",
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


TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

if __name__ == "__main__":
    main()
