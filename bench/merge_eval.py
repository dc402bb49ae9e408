"""Story-merging evaluation: replay a labelled JSONL file through the whole pipeline.

    python bench/merge_eval.py [tests/data/dev_news.jsonl] [--rules rules] [-v] [--crowd HOURS] [--part all|tune|held-out]

Prints: events that got their own alert, events swallowed by another story, duplicate
top-level alerts per event, and items merged into another event's story.

`--crowd HOURS` is a stress test: every event is moved to start HOURS after the previous one
(keeping the spacing of its own items), so events that were months apart share a day and only
what they say can tell them apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections import Counter
from pathlib import Path

from bot.replay import Labelled, headlines_only, read_labelled, replay, select_part
from bot.rules.load import load_rules


def crowded(rows: list[Labelled], gap: float) -> list[Labelled]:
    """The same items, each event starting `gap` seconds after the one before."""
    starts: dict[str, float] = {}
    for row in rows:
        starts[row.event] = min(starts.get(row.event, row.published), row.published)
    order = {event: n for n, event in enumerate(sorted(starts, key=starts.__getitem__))}
    base = min(starts.values(), default=0.0)
    moved = [
        dataclasses.replace(
            row, published=base + order[row.event] * gap + row.published - starts[row.event]
        )
        for row in rows
    ]
    return sorted(moved, key=lambda r: r.published)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("tests/data/dev_news.jsonl"))
    parser.add_argument("--rules", type=Path, default=Path("rules"))
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list duplicates and wrong merges"
    )
    parser.add_argument(
        "--crowd", type=float, metavar="HOURS", help="move events to start HOURS apart"
    )
    parser.add_argument(
        "--part",
        choices=("all", "tune", "held-out"),
        default="all",
        help="only the events set aside while tuning, or only the rest",
    )
    parser.add_argument(
        "--headlines-only",
        action="store_true",
        help="drop every summary, as headline-only feeds give items",
    )
    args = parser.parse_args()
    ruleset = load_rules(args.rules).ruleset
    rows = select_part(read_labelled(args.data), args.part)
    if args.headlines_only:
        rows = headlines_only(rows)
    if args.crowd is not None:
        rows = crowded(rows, args.crowd * 3600)
    with tempfile.TemporaryDirectory() as tmp:
        result = replay(rows, ruleset, f"sqlite:///{tmp}/replay.db")
    report = result.report()
    print(f"items: {len(rows)}, matched a rule and entered a story: {result.items_matched}")
    print(f"events (on topic): {report['events']}")
    print(f"  with their own alert:          {report['with_own_alert']}")
    print(
        f"  swallowed by another story:    {len(report['swallowed'])} {report['swallowed'] or ''}"
    )
    print(
        f"  never matched a rule:          {len(report['never_matched'])} {report['never_matched'] or ''}"
    )
    print(
        f"  duplicate top-level alerts:    {report['duplicate_alerts']} ({report['duplicates_per_event']} per event)"
    )
    print(f"items merged into another event's story: {report['wrongly_merged_items']}")
    print(f"negative events that alerted: {report['negative_events_alerting'] or 'none'}")
    if args.verbose:
        for event, openers in sorted(result.alerts.items()):
            extra = Counter(openers)[event] - 1
            if extra > 0:
                print(f"    duplicate: {event} has {extra + 1} top-level alerts")
        for item_event, story_event, title in result.wrong_merges:
            print(f"    wrong merge: {item_event} item joined {story_event}'s story: {title}")


if __name__ == "__main__":
    main()
