"""Story-merging cost per item as the number of stories in the window grows, against a
brute-force peer that compares each item with every story in the window.

    python bench/merge_bench.py [--stories 1000 10000 100000] [--items 500]

A fresh SQLite database gets N synthetic stories spread over the story window (titles from a
20,000-word vocabulary, two of 5,000 actors, a number, one of three rules); then --items new
items are merged (half retell an existing story, half are new). At 100,000 stories in four
days some new items share an actor and a number with an unrelated story by chance. Reported: per-item cost of Radar's key-index lookup
and decision, of the brute-force scan (up to 10,000 stories), and the merge accuracy.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from bot import merge
from bot.config import Settings
from bot.models import Item
from bot.pipeline import Pipeline
from bot.rules import RuleSet
from bot.rules.load import load_rules
from bot.storage import Store
from bot.types import ItemVerdict

WINDOW = 4 * 86400.0
NOW = 1_900_000_000.0
RULES = ("chip-export", "travel-guidance", "ai-summit")
LEXICON = load_rules(Path(__file__).parent.parent / "rules").ruleset.lexicon


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(5, 10))))
    return sorted(words)


def story_item(
    rng: random.Random, vocab: list[str], n: int
) -> tuple[Item, frozenset[str], tuple[str, ...]]:
    title = " ".join(rng.sample(vocab, 7)) + f" {rng.randint(10, 99_999)}"
    summary = " ".join(rng.sample(vocab, 20))
    actors = frozenset(f"actor{rng.randint(0, 4_999)}" for _ in range(2))
    rules = (RULES[n % 3],)
    return (
        Item(feed_url="bench", guid=f"s{n}", title=title, summary=summary, outlet="Bench"),
        actors,
        rules,
    )


def populate(
    store: Store, count: int, rng: random.Random, vocab: list[str]
) -> list[tuple[Item, frozenset[str], tuple[str, ...], float]]:
    made = []
    with store.transaction() as tx:
        for n in range(count):
            item, actors, rules = story_item(rng, vocab, n)
            published = NOW - rng.uniform(0, WINDOW * 0.9)
            features = merge.features(item, actors, rules, LEXICON)
            item_id = tx.items.add(
                item,
                effective=published,
                first_seen=published,
                verdict=ItemVerdict.NEW,
                features=features.to_json(),
            )
            story_id = tx.stories.create(item_id, item.title, published, rules, published)
            tx.items.set_story(item_id, story_id, None)
            tx.stories.add_keys(story_id, merge.index_keys(features), published)
            made.append((item, actors, rules, published))
    return made


def newcomers(made, count: int, rng: random.Random, vocab: list[str]):
    """Half retell an existing story (a word changed, an outlet suffix), half are new."""
    out = []
    for n in range(count):
        if n % 2 == 0:
            item, actors, rules, published = rng.choice(made)
            words = item.title.split()
            words[rng.randrange(len(words) - 1)] = rng.choice(vocab)
            retold = Item(
                feed_url="bench2",
                guid=f"n{n}",
                title=" ".join(words) + " | Other Outlet",
                summary=item.summary,
                outlet="Other",
            )
            out.append(
                (retold, actors, rules, published + rng.uniform(0, 3600), int(item.guid[1:]) + 1)
            )
        else:
            item, actors, rules = story_item(rng, vocab, 10_000_000 + n)
            out.append((item, actors, rules, NOW, None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--brute-force-limit", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"{'stories':>8} {'radar ms/item':>14} {'brute ms/item':>14} {'joined right':>13} {'new kept new':>13} {'setup s':>8}"
    )
    costs: dict[int, float] = {}
    for count in args.stories:
        rng = random.Random(count)
        vocab = vocabulary(20_000, rng)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            started = time.perf_counter()
            made = populate(store, count, rng, vocab)
            setup = time.perf_counter() - started
            pipeline = Pipeline(
                store, RuleSet((), {}, (), {}, LEXICON), Settings(story_window=WINDOW)
            )
            tests = newcomers(made, args.items, rng, vocab)
            right = kept = 0
            started = time.perf_counter()
            with store.transaction() as tx:
                for item, actors, rules, published, truth in tests:
                    features = merge.features(item, actors, rules, LEXICON)
                    decision, _ = pipeline.find_story(tx, -1, features, published)
                    if truth is not None and decision.story_id == truth:
                        right += 1
                    if truth is None and decision.story_id is None:
                        kept += 1
            cost = (time.perf_counter() - started) / len(tests)
            costs[count] = cost
            brute = float("nan")
            if count <= args.brute_force_limit:
                every = [
                    merge.Candidate(
                        n + 1,
                        (merge.Member(n + 1, merge.features(i, a, r, LEXICON), p),),
                        frozenset(r),
                    )
                    for n, (i, a, r, p) in enumerate(made)
                ]
                sample = tests[:100]
                started = time.perf_counter()
                for item, actors, rules, published, _ in sample:
                    merge.decide_story(
                        merge.features(item, actors, rules, LEXICON),
                        every,
                        when=published,
                        lexicon=LEXICON,
                    )
                brute = (time.perf_counter() - started) / len(sample)
            store.close()
        half = args.items // 2
        print(
            f"{count:>8,} {cost * 1e3:>14.2f} {brute * 1e3:>14.2f} {right:>6}/{half:<6} {kept:>6}/{half:<6} {setup:>8.1f}"
        )
    low, high = min(costs), max(costs)
    print(f"per-item cost at {high:,} stories vs {low:,}: {costs[high] / costs[low]:.2f}x")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
