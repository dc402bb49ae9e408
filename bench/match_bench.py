"""Rule matching cost as the number of rules grows: Radar's compiled index against a naive
matcher (one regular expression per phrase, rules checked one by one), side by side.

    python bench/match_bench.py [--items 100000] [--naive-items 5000]

Items are the ~6,500 items of ../shared/corpora/real-feeds when present (cycled to --items),
else the development set. Rules are the shipped ones plus generated rules built from the
items' own vocabulary (so some of them fire), to 10, 100 and 1,000 rules.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import tempfile
import time
from pathlib import Path

import yaml

from bot.errors import FeedParseError
from bot.models import Item
from bot.parse import parse_feed
from bot.rules import RuleSet
from bot.rules.load import load_rules
from bot.text import fold, words

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "real-feeds"
DEV = ROOT / "tests" / "data" / "dev_news.jsonl"


def load_items() -> tuple[list[Item], str]:
    if CORPUS.is_dir():
        items: list[Item] = []
        for path in sorted(CORPUS.glob("*.xml")):
            try:
                items.extend(parse_feed(path.read_bytes(), feed_url=path.name).items)
            except FeedParseError:
                continue
        return items, f"{CORPUS} ({len(items)} items)"
    rows = [
        json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    items = [
        Item(feed_url="dev", guid=r["url"], title=r["title"], summary=r["summary"]) for r in rows
    ]
    return items, f"{DEV} ({len(items)} items)"


def vocabulary(items: list[Item], rng: random.Random) -> list[str]:
    counts: dict[str, int] = {}
    for item in items[:3000]:
        for word in words(f"{item.title} {item.summary[:300]}"):
            if word.isalpha() and len(word) > 4:
                counts[word] = counts.get(word, 0) + 1
    common = sorted(counts, key=lambda w: -counts[w])[:4000]
    rng.shuffle(common)
    return common


def make_rules(folder: Path, count: int, vocab: list[str], rng: random.Random) -> None:
    for path in (ROOT / "rules").glob("*.yaml"):
        if path.name != "feeds.yaml":
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for n in range(count - 3):
        pick = [vocab[(n * 7 + k) % len(vocab)] for k in range(7)]
        rule = {
            "id": f"generated-{n}",
            "match": {
                "all": [
                    {"any": [pick[0], f"{pick[1]}*", f"{pick[2]} {pick[3]}"]},
                    {"any": [pick[4], pick[5]]},
                ],
                "none": [pick[6]],
            },
        }
        (folder / f"generated-{n}.yaml").write_text(yaml.safe_dump(rule), encoding="utf-8")


class NaiveMatcher:
    """What one would write first: a regex per phrase, every rule tried on every item."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.terms = ruleset.terms
        self.rules = []
        for rule in ruleset.rules:
            self.rules.append((rule.id, self._compile(rule.match)))

    @staticmethod
    def _phrase(display: str) -> tuple:
        phrase = fold(display)
        pattern = re.escape(phrase.rstrip("*")) + (r"\w*" if phrase.endswith("*") else r"\b")
        return ("re", re.compile(r"(?<!\w)" + pattern))

    def _compile(self, node: object) -> object:
        from bot.rules.ruleset import ActorNode, ConceptNode, GroupNode, NearNode, PhraseNode

        if isinstance(node, PhraseNode):
            return self._phrase(node.display)
        if isinstance(node, ConceptNode):  # every form of the concepts, a regex each
            return ("any", [self._phrase(self.terms[t].display) for t in sorted(node.terms)])
        if isinstance(node, ActorNode):
            return (
                "any",
                [
                    ("re", re.compile(r"(?<!\w)" + re.escape(a.replace("-", " ")) + r"\b"))
                    for a in node.actors
                ],
            )
        if isinstance(node, NearNode):
            return (
                "all",
                [("any", [self._compile(m) for m in element]) for element in node.elements],
            )
        assert isinstance(node, GroupNode)
        return (
            "group",
            [self._compile(n) for n in node.all],
            [self._compile(n) for n in node.any],
            [self._compile(n) for n in node.none],
        )

    def _holds(self, node: tuple, text: str) -> bool:
        kind = node[0]
        if kind == "re":
            return node[1].search(text) is not None
        if kind == "any":
            return any(self._holds(n, text) for n in node[1])
        if kind == "all":
            return all(self._holds(n, text) for n in node[1])
        _, all_, any_, none = node
        return (
            all(self._holds(n, text) for n in all_)
            and (not any_ or any(self._holds(n, text) for n in any_))
            and not any(self._holds(n, text) for n in none)
        )

    def match(self, item: Item) -> list[str]:
        text = fold(f"{item.title} {item.summary}")
        return [rule_id for rule_id, tree in self.rules if self._holds(tree, text)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--naive-items", type=int, default=5_000)
    parser.add_argument("--rules", type=int, nargs="*", default=[10, 100, 1000])
    args = parser.parse_args()
    rng = random.Random(42)
    base, source = load_items()
    items = [base[i % len(base)] for i in range(args.items)]
    vocab = vocabulary(base, rng)
    print(f"items: {args.items:,} from {source}")
    print(
        f"{'rules':>6} {'radar µs/item':>14} {'radar items/s':>14} {'matched':>8} {'naive µs/item':>14} {'build s':>8}"
    )
    results = {}
    for count in args.rules:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            make_rules(folder, count, vocab, rng)
            started = time.perf_counter()
            ruleset = load_rules(folder).ruleset
            build = time.perf_counter() - started
        matched = 0
        started = time.perf_counter()
        for item in items:
            if ruleset.match(item).rules:
                matched += 1
        elapsed = time.perf_counter() - started
        naive = NaiveMatcher(ruleset)
        sample = items[: args.naive_items]
        started = time.perf_counter()
        for item in sample:
            naive.match(item)
        naive_cost = (time.perf_counter() - started) / len(sample)
        per_item = elapsed / len(items)
        results[count] = (per_item, naive_cost)
        print(
            f"{count:>6} {per_item * 1e6:>14.1f} {len(items) / elapsed:>14,.0f} {matched:>8,} {naive_cost * 1e6:>14.1f} {build:>8.2f}"
        )
    low, high = min(results), max(results)
    print(
        f"cost of {high} rules vs {low}: radar {results[high][0] / results[low][0]:.2f}x, "
        f"naive {results[high][1] / results[low][1]:.2f}x; "
        f"radar is {results[high][1] / results[high][0]:.0f}x faster than naive at {high} rules"
    )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
