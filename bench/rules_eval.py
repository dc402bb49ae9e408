"""Precision and recall of the rules on a labelled JSONL file (the dev sets' format).

    python bench/rules_eval.py [tests/data/dev_news.jsonl] [--rules rules] [--part all|tune|held-out] [-v]

Per topic: item-level precision and recall; event-level recall (an event counts as caught when
any of its items matched); false-alarm events (negative events that matched the topic's rule)
and events of another topic that matched it (an alert posted to the wrong topic's channel).
`--part` evaluates only the events set aside while tuning (`held-out`, a random third of each
topic) or only the rest (`tune`).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from bot.models import Item
from bot.replay import Labelled, read_labelled, select_part
from bot.rules import load_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("tests/data/dev_news.jsonl"))
    parser.add_argument("--rules", type=Path, default=Path("rules"))
    parser.add_argument("--part", choices=("all", "tune", "held-out"), default="all")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every miss and false alarm"
    )
    args = parser.parse_args()
    ruleset = load_rules(args.rules).ruleset
    rows = select_part(read_labelled(args.data), args.part)
    topics = sorted({r.topic for r in rows if r.topic != "negative"})
    hits: dict[str, list[tuple[Labelled, bool]]] = defaultdict(list)
    for row in rows:
        item = Item(feed_url="", guid=row.url, title=row.title, summary=row.summary)
        matched = set(ruleset.match(item).rule_ids)
        for topic in topics:
            hits[topic].append((row, topic.replace("_", "-") in matched))
    negatives = {r.event for r in rows if r.topic == "negative"}
    print(f"{args.data} ({args.part}): {len(rows)} items, {len(negatives)} negative events")
    print(
        f"{'topic':16} {'items P':>8} {'items R':>8} {'events R':>9} {'negative events':>16} {'other-topic events':>19}"
    )
    for topic in topics:
        tp = sum(1 for r, m in hits[topic] if m and r.topic == topic)
        fp = sum(1 for r, m in hits[topic] if m and r.topic != topic)
        fn = sum(1 for r, m in hits[topic] if not m and r.topic == topic)
        events = {r.event for r, _ in hits[topic] if r.topic == topic}
        caught = {r.event for r, m in hits[topic] if m and r.topic == topic}
        false_events = {r.event for r, m in hits[topic] if m and r.topic == "negative"}
        crossed = {r.event for r, m in hits[topic] if m and r.topic not in (topic, "negative")}
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"{topic:16} {precision:8.3f} {recall:8.3f} {len(caught):4}/{len(events):<4}"
            f" {len(false_events):7}/{len(negatives):<8} {len(crossed):19}"
        )
        if args.verbose:
            for r, m in hits[topic]:
                if m != (r.topic == topic):
                    kind = "MISS " if not m else "FALSE"
                    print(f"    {kind} {r.event} {r.language:5} {r.title[:110]}")


if __name__ == "__main__":
    main()
