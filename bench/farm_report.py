"""The tables bench/farm.py prints: per farm, cycle and tool, and each Radar against the fastest
and the lightest peer."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Protocol

from farm_serve import CYCLES, Farm


class Named(Protocol):
    name: str
    radar: bool


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    ok: int
    not_modified: int
    exit: int


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}×" if theirs > 0 else "-"


def report(
    results: dict[tuple[str, str, str], list[Sample]],
    farms: list[Farm],
    tools: list[Named],
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
                if radar and not tool.radar:
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
    results: dict[tuple[str, str, str], list[Sample]], farms: list[Farm], tools: list[Named]
) -> str:
    """Each Radar against the fastest peer (wall) and the lightest peer (peak RSS)."""
    radars = [t for t in tools if t.radar]
    peers = [t for t in tools if not t.radar]
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
