"""Story merging: does a new item tell a story Radar already alerted on?

Pure functions only. `features` reduces an item to what merging compares (a normalised title,
content words, actors, numbers, product codes, index keys); `decide_story` compares those
with the candidate stories the storage index found and returns the story to join (or none),
with the score and the evidence, so every merge can be explained later.

Layers, cheapest first: the same normalised title; then fuzzy similarity of titles and
summaries (rapidfuzz), strengthened by shared actors, numbers and product codes and weakened
by contradicting ones. Items in Chinese, Japanese or Korean are compared with items in other
scripts by evidence alone: actors and numbers must agree.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from bot.models import Item
from bot.text import has_cjk, is_cjk_char, tokenize

DEFAULT_WINDOW = 4 * 86400.0
THRESHOLD = 62.0

_PREFIX_WORDS = frozenset(
    {"update", "updated", "exclusive", "breaking", "corrected", "refile", "analysis", "factbox",
     "explainer", "urgent", "live", "video", "watch", "insight", "wrapup"}
)  # fmt: skip
STOPWORDS = frozenset(
    """a an and are as at be been but by for from has have he her his how i in into is it its
    of on or our over says said say that the their them they this to was we were what when which
    who will with would after amid about against also than then there these those up out new
    more most not no yes can could may might should just now any all per via report reports
    reported sources source people news world tech markets latest week year years day le la les
    des du de et en un une est pour sur dans au aux par avec qui que der die das und den dem ein
    eine im zu mit von fur auf ist nicht sich bei""".split()  # noqa: SIM905
)
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_CODE = re.compile(r"^(?=.*\d)(?=.*[a-z])[a-z0-9]{2,12}$")
_SUFFIX_SEPARATORS = (" | ", " - ", " — ", " – ", " :: ")

# Actor kinds that many unrelated stories share carry little evidence.
KIND_WEIGHT = {
    "country": 0.2,
    "region": 0.2,
    "organisation": 0.6,
    "agency": 0.5,
    "material": 0.6,
    "event": 0.6,
}


@dataclass(frozen=True, slots=True)
class Features:
    """What merging compares. Stored with the item (as JSON) for later comparisons."""

    title_key: str
    title_words: tuple[str, ...]
    words: tuple[str, ...]
    actors: frozenset[str]
    numbers: frozenset[str]
    title_numbers: frozenset[str]
    codes: frozenset[str]
    cjk: bool
    outlet: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "title_key": self.title_key,
            "title_words": list(self.title_words),
            "words": list(self.words),
            "actors": sorted(self.actors),
            "numbers": sorted(self.numbers),
            "title_numbers": sorted(self.title_numbers),
            "codes": sorted(self.codes),
            "cjk": self.cjk,
            "outlet": self.outlet,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Features:
        return cls(
            title_key=data["title_key"],
            title_words=tuple(data["title_words"]),
            words=tuple(data["words"]),
            actors=frozenset(data["actors"]),
            numbers=frozenset(data["numbers"]),
            title_numbers=frozenset(data["title_numbers"]),
            codes=frozenset(data["codes"]),
            cjk=data["cjk"],
            outlet=data.get("outlet", ""),
        )


def _strip_title(title: str) -> str:
    """Drop a trailing site name (" | Tech News") and wire prefixes ("UPDATE 2-")."""
    for separator in _SUFFIX_SEPARATORS:
        head, sep, tail = title.rpartition(separator)
        if sep and head and len(tail.split()) <= 4 and len(head) > len(tail):
            title = head
    return title


def _content_words(tokens: Sequence[str]) -> list[str]:
    kept: list[str] = []
    for token in tokens:
        if is_cjk_char(token[0]) or (
            token not in STOPWORDS and (len(token) > 1 or token.isdigit())
        ):
            kept.append(token)
    return kept


def _cjk_bigrams(tokens: Sequence[str]) -> list[str]:
    chars = [t for t in tokens if is_cjk_char(t[0])]
    return [a + b for a, b in itertools.pairwise(chars)]


def features(item: Item, actors: frozenset[str] = frozenset()) -> Features:
    title_tokens = list(tokenize(_strip_title(item.title)).folded)
    while title_tokens and (
        title_tokens[0] in _PREFIX_WORDS
        or (title_tokens[0].isdigit() and len(title_tokens[0]) == 1)
    ):
        title_tokens.pop(0)
    summary_tokens = tokenize(item.summary[:1000]).folded if item.summary else ()
    all_tokens = [*title_tokens, *summary_tokens]
    numbers = {
        t for t in all_tokens if _NUMBER.match(t) and not _YEAR.match(t) and t not in ("0", "1")
    }
    return Features(
        title_key=" ".join(title_tokens),
        title_words=tuple(_content_words(title_tokens)),
        words=tuple(_content_words(all_tokens)),
        actors=actors,
        numbers=frozenset(numbers),
        title_numbers=frozenset(t for t in title_tokens if t in numbers),
        codes=frozenset(t for t in all_tokens if _CODE.match(t) and not t.isdigit()),
        cjk=has_cjk(item.title),
        outlet=item.outlet,
    )


def index_keys(f: Features) -> list[str]:
    """Keys under which a story is found again: title, actors, numbers, codes, rare words."""
    keys = [f"t:{f.title_key[:190]}"]
    keys += [f"a:{a}" for a in sorted(f.actors)]
    keys += [f"n:{n}" for n in sorted(f.numbers)]
    keys += [f"c:{c}" for c in sorted(f.codes)]
    latin = sorted(
        {w for w in f.title_words if not is_cjk_char(w[0]) and len(w) >= 4},
        key=lambda w: (-len(w), w),
    )
    keys += [f"w:{w}" for w in latin[:8]]
    keys += [f"b:{b}" for b in list(dict.fromkeys(_cjk_bigrams(f.title_words)))[:16]]
    return keys


@dataclass(frozen=True, slots=True)
class Member:
    """A stored item of a candidate story."""

    item_id: int
    features: Features


@dataclass(frozen=True, slots=True)
class Candidate:
    story_id: int
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MergeDecision:
    """Join `story_id` (None: open a new story), with the best score and its evidence."""

    story_id: int | None
    score: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"story_id": self.story_id, "score": round(self.score, 1), **self.evidence}


def _weight(actor: str, kinds: Mapping[str, str | None]) -> float:
    return KIND_WEIGHT.get(kinds.get(actor) or "", 1.0)


def compare(a: Features, b: Features, kinds: Mapping[str, str | None] = {}) -> Comparison:
    """How likely two items tell the same story, 0-100, with the evidence."""
    if a.title_key and a.title_key == b.title_key:
        return Comparison(100.0, {"layer": "same title"})
    evidence: dict[str, Any] = {}
    text = 0.0
    if a.cjk == b.cjk:
        title = (
            fuzz.token_sort_ratio(a.title_words, b.title_words)
            if a.title_words and b.title_words
            else 0.0
        )
        body = fuzz.token_set_ratio(a.words, b.words) if a.words and b.words else 0.0
        text = max(title, body * 0.85)
        evidence["text"] = round(text, 1)
    shared_actors = a.actors & b.actors
    bonus = 0.0
    if shared_actors:
        bonus += 10 * sum(_weight(x, kinds) for x in shared_actors)
        evidence["actors"] = sorted(shared_actors)
    shared_numbers = a.numbers & b.numbers
    if shared_numbers:
        bonus += 8 * len(shared_numbers)
        evidence["numbers"] = sorted(shared_numbers)
    shared_codes = a.codes & b.codes
    if shared_codes:
        bonus += 12 * len(shared_codes)
        evidence["codes"] = sorted(shared_codes)
    penalty = 0.0
    if a.title_numbers and b.title_numbers and not (a.title_numbers & b.title_numbers):
        penalty += 15
        evidence["different_numbers"] = [sorted(a.title_numbers), sorted(b.title_numbers)]
    strong_a = {x for x in a.actors if _weight(x, kinds) >= 1}
    strong_b = {x for x in b.actors if _weight(x, kinds) >= 1}
    if strong_a and strong_b and not (strong_a & strong_b):
        penalty += 12
        evidence["different_actors"] = [sorted(strong_a), sorted(strong_b)]
    if a.cjk != b.cjk:
        # Across scripts only evidence counts, and it must be more than one weak match.
        strong = (
            len(shared_numbers)
            + len(shared_codes)
            + sum(1 for x in shared_actors if _weight(x, kinds) >= 1)
        )
        score = 0.0 if strong < 2 else min(100.0, 30 + bonus - penalty)
        evidence["layer"] = "cross-language"
    else:
        score = min(100.0, text + min(bonus, 30) - penalty) if text >= 30 else 0.0
        evidence["layer"] = "fuzzy"
    return Comparison(score, evidence)


def decide_story(
    item: Features,
    candidates: Sequence[Candidate],
    kinds: Mapping[str, str | None] = {},
    threshold: float = THRESHOLD,
) -> MergeDecision:
    """The story this item joins, if any: the best-scoring candidate above the threshold."""
    best: tuple[float, int, int, dict[str, Any]] | None = None
    for candidate in candidates:
        for member in candidate.members:
            result = compare(item, member.features, kinds)
            if best is None or result.score > best[0]:
                best = (result.score, candidate.story_id, member.item_id, result.evidence)
    if best is None or best[0] < threshold:
        return MergeDecision(
            None, best[0] if best else 0.0, {"best_story": best[1]} if best else {}
        )
    score, story_id, item_id, evidence = best
    return MergeDecision(story_id, score, {**evidence, "compared_with_item": item_id})
