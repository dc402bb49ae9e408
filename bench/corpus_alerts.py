"""What the shipped rules alert on in ordinary news: every item of a folder of feeds.

    python bench/corpus_alerts.py [../shared/corpora/real-feeds] [--rules rules] [--json]

Parses every feed file, matches every item against the rules and lists each item that matched:
rule, feed title, headline and the words that decided it. Precision in the wild: ordinary news
is what a rule must stay quiet on, so every line here deserves a look.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from bot.parse import parse_feed
from bot.rules.load import load_rules

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "real-feeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--rules", type=Path, default=Path("rules"))
    parser.add_argument("--json", action="store_true", help="one JSON object per matched item")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder of feeds")
    ruleset = load_rules(args.rules).ruleset
    items = 0
    unparsed = 0
    counts: Counter[str] = Counter()
    for path in sorted(args.folder.iterdir()):
        try:
            feed = parse_feed(path.read_bytes(), feed_url=path.as_uri())
        except Exception:  # a corpus file that is not a feed is counted, not fatal
            unparsed += 1
            continue
        for item in feed.items:
            items += 1
            matches = ruleset.match(item)
            for match in matches.rules:
                counts[match.rule_id] += 1
                words = match.words()[:8]
                if args.json:
                    row = {"rule": match.rule_id, "feed": feed.title or path.name}
                    row |= {"title": item.title, "link": item.link, "words": words}
                    print(json.dumps(row, ensure_ascii=False))
                else:
                    print(
                        f"{match.rule_id:16} {(feed.title or path.name)[:28]:28} {item.title[:100]}"
                    )
                    print(f"{'':16} words: {', '.join(words)}")
    summary = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())) or "none"
    print(f"# {items} items in {args.folder} ({unparsed} files not feeds); matched: {summary}")


if __name__ == "__main__":
    main()
