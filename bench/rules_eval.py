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
from pathlib import Path

from bot.replay import evaluate_rules, headlines_only, read_labelled, select_part
from bot.rules.load import load_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("tests/data/dev_news.jsonl"))
    parser.add_argument("--rules", type=Path, default=Path("rules"))
    parser.add_argument("--part", choices=("all", "tune", "held-out"), default="all")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every miss and false alarm"
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
    figures = evaluate_rules(rows, ruleset)
    negatives = len({r.event for r in rows if r.topic == "negative"})
    print(f"{args.data} ({args.part}): {len(rows)} items, {negatives} negative events")
    print(
        f"{'topic':16} {'items P':>8} {'items R':>8} {'events R':>9} {'negative events':>16} {'other-topic events':>19}"
    )
    for f in figures:
        print(
            f"{f.topic:16} {f.precision:8.3f} {f.recall:8.3f} {f.caught:4}/{f.events:<4}"
            f" {f.false_events:7}/{f.negative_events:<8} {f.crossed_events:19}"
        )
        if args.verbose:
            for kind, rows_ in (("MISS ", f.misses), ("FALSE", f.false_alarms)):
                for r in rows_:
                    print(f"    {kind} {r.event} {r.language:5} {r.title[:110]}")


if __name__ == "__main__":
    main()
