"""Precision and recall of the rules on a labelled JSONL file (the dev set's format).

    python bench/rules_eval.py [tests/data/dev_news.jsonl] [--rules rules] [-v]

Per topic: item-level precision and recall, and event-level recall (an event counts as caught
when any of its items matched) and false alarms (negative or other-topic events that alerted).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from bot.models import Item
from bot.rules import load_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("tests/data/dev_news.jsonl"))
    parser.add_argument("--rules", type=Path, default=Path("rules"))
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every miss and false alarm"
    )
    args = parser.parse_args()
    ruleset = load_rules(args.rules).ruleset
    rows = [
        json.loads(line)
        for line in args.data.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    topics = sorted({r["topic"] for r in rows if r["topic"] != "negative"})
    hits: dict[str, list[tuple[dict, bool]]] = defaultdict(list)
    for row in rows:
        item = Item(
            feed_url="", guid=row["url"], title=row["title"], summary=row.get("summary", "")
        )
        matched = set(ruleset.match(item).rule_ids)
        for topic in topics:
            hits[topic].append((row, topic.replace("_", "-") in matched))
    print(f"{'topic':18} {'items P':>8} {'items R':>8} {'events R':>9} {'false-alarm events':>19}")
    for topic in topics:
        tp = sum(1 for r, m in hits[topic] if m and r["topic"] == topic)
        fp = sum(1 for r, m in hits[topic] if m and r["topic"] != topic)
        fn = sum(1 for r, m in hits[topic] if not m and r["topic"] == topic)
        events = {r["event_id"] for r, _ in hits[topic] if r["topic"] == topic}
        caught = {r["event_id"] for r, m in hits[topic] if m and r["topic"] == topic}
        false_events = {r["event_id"] for r, m in hits[topic] if m and r["topic"] != topic}
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"{topic:18} {precision:8.3f} {recall:8.3f} {len(caught):4}/{len(events):<4} {len(false_events):19}"
        )
        if args.verbose:
            for r, m in hits[topic]:
                if m != (r["topic"] == topic):
                    kind = "MISS " if not m else "FALSE"
                    print(f"    {kind} {r['event_id']} {r['language']:5} {r['title'][:110]}")


if __name__ == "__main__":
    main()
