"""The gist: what an item is about, and how much of it a story has already told.

What an item is about is its concepts (weighted: what every story of a topic says counts
least), its actors (by kind), numbers, product codes and dates. Paraphrases and translations
share little wording but much gist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.merge.compare import NO_KINDS, Kinds, actor_weight
from bot.merge.features import Features, Member
from bot.merge.params import PARAMS, MergeParams
from bot.rules.lexicon import BROAD_WEIGHT, EMPTY, Lexicon


def gist(
    f: Features, kinds: Kinds, lexicon: Lexicon = EMPTY, params: MergeParams = PARAMS
) -> dict[str, float]:
    """What an item is about, weighted: its concepts, actors, numbers, codes and dates."""
    found = {c: lexicon.weight(c) for c in f.concepts}
    country = params.kind_weights["country"]
    for actor in f.actors:
        weight = min(actor_weight(actor, kinds, params) / country, params.gist_actor_weight)
        found[actor] = max(found.get(actor, 0.0), weight)
    found.update({f"#{n}": params.gist_number_weight for n in f.numbers if len(n) > 1})
    found.update({f"#{c}": params.gist_code_weight for c in f.codes | f.dates})
    return found


@dataclass(frozen=True, slots=True)
class Overlap:
    """How much of what an item is about a story has already told: the weight shared, the
    share of the item's weight it is, what was shared, and the weight shared beyond broad
    words and countries."""

    weight: float
    coverage: float
    shared: tuple[str, ...]
    specific: float = 0.0


def gist_overlap(
    item: Features,
    members: Sequence[Member],
    kinds: Kinds = NO_KINDS,
    lexicon: Lexicon = EMPTY,
    params: MergeParams = PARAMS,
) -> Overlap:
    mine = gist(item, kinds, lexicon, params)
    told: set[str] = set()
    for member in members:
        told.update(gist(member.features, kinds, lexicon, params))
    shared = sorted(set(mine) & told)
    total = sum(mine.values())
    weight = sum(mine[k] for k in shared)
    return Overlap(
        weight,
        weight / total if total else 0.0,
        tuple(shared),
        sum(mine[k] for k in shared if mine[k] > BROAD_WEIGHT),
    )
