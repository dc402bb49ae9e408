"""Story merging: does a new item tell a story Radar already alerted on?

Pure functions only. `features` reduces an item to what merging compares (a normalised title,
content words, actors, numbers, dates, product codes); `index_keys` says under which keys the
storage index files a story; `decide_story` compares an item with the candidate stories the
index found and returns the story to join (or none), with the score and the evidence, so every
merge can be explained later.

Layers, cheapest first (GUIDs and canonical links are handled before merging, in
`bot.decide`): the same normalised title; then fuzzy similarity of titles and summaries
(rapidfuzz), strengthened by what the two share that matters (actors, numbers, dates, product
codes such as H20) and weakened by what contradicts (different numbers in the titles, different
companies, events or places). Items in another script (Chinese, Japanese, Korean against Latin)
are compared by evidence alone, against everything the story has gathered: its actors, numbers
and dates must agree. Last, the gist (`gist_overlap`): close in time, an item whose concepts
(`bot.rules.lexicon`, read from `rules/concepts.yaml`), actors, numbers and dates the story has
mostly told already joins it, unless its headline names a government the story never did or
all it shares is what every story of the topic says. An item only joins a story that matched
one of its rules.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from bot.models import Item
from bot.rules.lexicon import BROAD_WEIGHT, CONCEPT_WEIGHT, EMPTY, Lexicon
from bot.text import Tokens, clean, has_cjk, is_cjk_char, tokenize

DEFAULT_WINDOW = 4 * 86400.0
THRESHOLD = 35.0

# How much a shared actor counts, by kind; countries and big agencies are in many stories.
KIND_WEIGHT = {
    "country": 5.0,
    "region": 5.0,
    "agency": 15.0,
    "organisation": 15.0,
    "material": 15.0,
}
STRONG_WEIGHT = 30.0  # companies, people, places, events
NUMBER_WEIGHT = 15.0
SMALL_NUMBER_WEIGHT = 6.0
CODE_WEIGHT = 25.0
DATE_WEIGHT = 25.0
EVIDENCE_CAP = 60.0
# Items of one story arrive in bursts: being hours apart counts for something.
CLOSE_IN_TIME = ((6 * 3600.0, 20.0), (24 * 3600.0, 10.0))
TITLE_NUMBER_CONFLICT = 30.0
ACTOR_CONFLICT = 10.0
DIRECTION_CONFLICT = 100.0  # a veto
# The gist layer: within GIST_SPAN of a story's nearest item, an item whose concepts, actors,
# numbers and dates the story has mostly told already joins it (GIST_SCALE * share covered).
GIST_SPAN = 36 * 3600.0
GIST_MIN_WEIGHT = 4.0
GIST_SCALE = 70.0
GIST_NUMBER_WEIGHT = 3.0
GIST_CODE_WEIGHT = 4.0  # product codes and dates
GIST_ACTOR_WEIGHT = 3.0  # at most; a country weighs 1, like a broad concept

# A restriction imposed and one lifted are different stories, however alike their words: a
# title lifts when a lifting verb comes within a few words of a restriction, and imposes when
# it has an imposing verb.
RESTRICTIONS = frozenset(
    """ban bans curb curbs restriction restrictions control controls rule rules limit limits
    licence licences license licenses requirement requirements embargo blacklist sanctions
    controls listing listings shipments sales exports
    禁令 管制 限制 许可 禁止 规则 規則 制裁""".split()  # noqa: SIM905
)
IMPOSING = frozenset(
    """ban bans banned bar bars barred block blocks blocked restrict restricts restricted
    restricting tighten tightens tightened impose imposes imposed blacklist blacklisted require
    requires requiring mandate expand expands expanded widen widens widened interdit
    禁止 收紧 加强 不予 需申请 须获得 列入""".split()  # noqa: SIM905
)
LIFTING = frozenset(
    """lift lifts lifted lifting ease eases eased easing loosen loosens loosened relax relaxes
    relaxed suspend suspends suspended pause pauses paused scrap scraps scrapped drop drops
    dropped rescind rescinds rescinded revoke revoked remove removes removed reverse reverses
    reversed end ends ended grant grants granted clear clears cleared approve approves approved
    resume resumes resumed 暂停 撤销 撤 解除 取消 放宽 移出 批准 恢复""".split()  # noqa: SIM905
)
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
NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
    "eighty": "80", "ninety": "90", "hundred": "100",
}  # fmt: skip
# News paraphrases that mean the same for telling stories apart.
SYNONYMS = {
    word: canonical
    for canonical, words in {
        "us": "us usa america american americans washington",
        "china": "china chinese beijing prc",
        "exec": "founder founders executive executives boss bosses chief chiefs ceo ceos manager "
        "managers leader leaders entrepreneur entrepreneurs dealmaker banker",
        "travel": "travel travels trip trips visit visits visiting fly flights",
        "restrict": "curb curbs restriction restrictions restrict restricts control controls limit "
        "limits cap caps",
        "chip": "chip chips semiconductor semiconductors chipmaker chipmakers",
        "list": "blacklist blacklisted listing listings",
        "declaration": "declaration statement text pledge pledges communique",
        "summit": "summit gathering",
        "sign": "sign signs signed signature signatures endorse endorsed endorses backs",
        "licence": "licence licences license licenses licensing permit permits",
        "ban": "ban bans banned block blocks blocked embargo",
    }.items()
    for word in words.split()
}
# Words every story of a topic shares: they say what a story is about, not which one it is.
GENERIC = frozenset(
    """us china exec travel restrict chip list declaration summit sign licence ban ai export
    exports exporting import imports rule rules new government ministry department commerce
    official officials company companies firm firms global international artificial
    intelligence technology advanced""".split()  # noqa: SIM905
)
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_CODE = re.compile(r"^(?=.*\d)(?=.*[a-z])[a-z0-9]{2,12}$")
_SUFFIX_SEPARATORS = (" | ", " - ", " — ", " – ", " :: ")

_MONTHS = {
    "jan": 1, "january": 1, "janvier": 1, "januar": 1,
    "feb": 2, "february": 2, "fevrier": 2, "février": 2, "februar": 2,
    "mar": 3, "march": 3, "mars": 3, "marz": 3, "märz": 3,
    "apr": 4, "april": 4, "avril": 4,
    "may": 5, "mai": 5,
    "jun": 6, "june": 6, "juin": 6, "juni": 6,
    "jul": 7, "july": 7, "juillet": 7, "juli": 7,
    "aug": 8, "august": 8, "aout": 8, "août": 8,
    "sep": 9, "sept": 9, "september": 9, "septembre": 9,
    "oct": 10, "october": 10, "octobre": 10, "oktober": 10,
    "nov": 11, "november": 11, "novembre": 11,
    "dec": 12, "december": 12, "decembre": 12, "décembre": 12, "dezember": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:er|\.)?\s+({_MONTH})\b", re.I)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:%|,\s*\d{{3}}))", re.I
)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?\s+((?:19|20)\d\d)\b", re.I)
_CJK_DAY = re.compile(r"(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]")
_CJK_MONTH = re.compile(r"((?:19|20)\d\d)\s*[年년]\s*(\d{1,2})\s*[月월]")


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
    dates: frozenset[str]
    cjk: bool
    rules: frozenset[str] = frozenset()
    language: str = ""  # "" when unknown
    outlet: str = ""
    concepts: frozenset[str] = frozenset()
    title_countries: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "title_key": self.title_key,
            "title_words": list(self.title_words),
            "words": list(self.words),
            "actors": sorted(self.actors),
            "numbers": sorted(self.numbers),
            "title_numbers": sorted(self.title_numbers),
            "codes": sorted(self.codes),
            "dates": sorted(self.dates),
            "cjk": self.cjk,
            "language": self.language,
            "rules": sorted(self.rules),
            "outlet": self.outlet,
            "concepts": sorted(self.concepts),
            "title_countries": sorted(self.title_countries),
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
            dates=frozenset(data.get("dates", ())),
            cjk=data["cjk"],
            language=data.get("language", ""),
            rules=frozenset(data.get("rules", ())),
            outlet=data.get("outlet", ""),
            concepts=frozenset(data.get("concepts", ())),
            title_countries=frozenset(data.get("title_countries", ())),
        )


def _strip_title(title: str) -> str:
    """Drop a trailing site name (" | Tech News") and wire prefixes ("UPDATE 2-")."""
    for separator in _SUFFIX_SEPARATORS:
        head, sep, tail = title.rpartition(separator)
        if sep and head and len(tail.split()) <= 4 and len(head) > len(tail):
            title = head
    return title


def _content_words(tokens: Sequence[str]) -> list[str]:
    """Words that carry meaning, with news paraphrases and plurals folded together."""
    kept: list[str] = []
    for token in tokens:
        if is_cjk_char(token[0]):
            kept.append(token)
        elif token not in STOPWORDS and (len(token) > 1 or token.isdigit()):
            word = SYNONYMS.get(token)
            if word is None:
                word = (
                    token[:-1]
                    if len(token) > 4 and token.endswith("s") and not token.endswith("ss")
                    else token
                )
            kept.append(word)
    return kept


def _cjk_bigrams(tokens: Sequence[str]) -> list[str]:
    chars = [t for t in tokens if is_cjk_char(t[0])]
    return [a + b for a, b in itertools.pairwise(chars)]


def dates_in(text: str) -> set[str]:
    """Calendar dates a text names: "Sept. 1", "1 September", "9月1日" are all `09-01`;
    "February 2026" and "2026年2月" are `2026-02`."""
    found: set[str] = set()
    for day, month in _DAY_MONTH.findall(text):
        if 1 <= int(day) <= 31:
            found.add(f"{_MONTHS[month.lower()]:02d}-{int(day):02d}")
    for month, day in _MONTH_DAY.findall(text):
        if 1 <= int(day) <= 31:
            found.add(f"{_MONTHS[month.lower()]:02d}-{int(day):02d}")
    for month, year in _MONTH_YEAR.findall(text):
        found.add(f"{year}-{_MONTHS[month.lower()]:02d}")
    for month, day in _CJK_DAY.findall(text):
        if 1 <= int(month) <= 12 and 1 <= int(day) <= 31:
            found.add(f"{int(month):02d}-{int(day):02d}")
    for year, month in _CJK_MONTH.findall(text):
        if 1 <= int(month) <= 12:
            found.add(f"{year}-{int(month):02d}")
    return found


def _numbers(tokens: Sequence[str], *, trivial: bool = False) -> set[str]:
    """Numbers named, as digits; years are left out, and 0 and 1 unless `trivial`."""
    found = set()
    for token in tokens:
        value = NUMBER_WORDS.get(token, token)
        if _NUMBER.match(value) and not _YEAR.match(value) and (trivial or value not in ("0", "1")):
            found.add(value)
    return found


FUNCTION_WORDS = {
    "en": frozenset(
        [
            "the",
            "of",
            "and",
            "to",
            "in",
            "on",
            "for",
            "with",
            "is",
            "as",
            "by",
            "from",
            "after",
            "over",
            "its",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "des",
            "du",
            "de",
            "et",
            "pour",
            "sur",
            "dans",
            "une",
            "un",
            "au",
            "aux",
            "par",
            "avec",
            "est",
            "ne",
            "ni",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "den",
            "dem",
            "ein",
            "eine",
            "mit",
            "von",
            "fur",
            "auf",
            "ist",
            "nicht",
            "im",
            "zu",
            "bei",
        ]
    ),
    "es": frozenset(
        ["el", "los", "las", "del", "y", "en", "por", "para", "con", "una", "se", "su"]
    ),
}


def language_of(item: Item, tokens: Sequence[str]) -> str:
    """The item's language: as the feed declares it, else guessed from function words
    (English, French, German, Spanish); "" when unsure."""
    if item.language:
        return item.language[:2].lower()
    counts = {lang: sum(1 for t in tokens if t in words) for lang, words in FUNCTION_WORDS.items()}
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if ranked[0][1] >= 2 and ranked[0][1] > ranked[1][1]:
        return ranked[0][0]
    return ""


def same_language(a: Features, b: Features) -> bool:
    """Whether wording can be compared: same script, and not two known, different languages."""
    return a.cjk == b.cjk and not (a.language and b.language and a.language != b.language)


def features(
    item: Item,
    actors: frozenset[str] = frozenset(),
    rules: Sequence[str] = (),
    lexicon: Lexicon = EMPTY,
) -> Features:
    title = tokenize(_strip_title(item.title))
    skip = 0
    while skip < len(title) and (
        title.folded[skip] in _PREFIX_WORDS
        or (title.folded[skip].isdigit() and len(title.folded[skip]) == 1)
    ):
        skip += 1
    title = Tokens(title.folded[skip:], title.cased[skip:], title.spaced[skip:])
    title_tokens = list(title.folded)
    summary = item.summary[:1000] if item.summary else ""
    summary_tokenized = tokenize(summary) if summary else None
    summary_tokens = summary_tokenized.folded if summary_tokenized else ()
    numbers = _numbers([*title_tokens, *summary_tokens])
    title_concepts = lexicon.concepts_of(title)
    summary_concepts = lexicon.concepts_of(summary_tokenized) if summary_tokenized else frozenset()
    return Features(
        title_key=" ".join(title_tokens),
        title_words=tuple(_content_words(title_tokens)),
        words=tuple(_content_words([*title_tokens, *summary_tokens])),
        actors=actors,
        numbers=frozenset(numbers),
        title_numbers=frozenset(_numbers(title_tokens, trivial=True)),
        codes=frozenset(
            t for t in [*title_tokens, *summary_tokens] if _CODE.match(t) and not t.isdigit()
        ),
        dates=frozenset(dates_in(clean(f"{item.title} {summary}"))),
        cjk=has_cjk(item.title),
        language=language_of(item, [*title_tokens, *summary_tokens]),
        rules=frozenset(rules),
        outlet=item.outlet,
        concepts=title_concepts | summary_concepts,
        title_countries=title_concepts & lexicon.countries,
    )


def index_keys(f: Features) -> list[str]:
    """Keys under which a story is found again: title, actors, numbers, codes, dates, rules,
    rare words (Latin titles) and character pairs (CJK titles)."""
    keys = [f"t:{f.title_key[:190]}"]
    keys += [f"a:{a}" for a in sorted(f.actors)]
    keys += [f"n:{n}" for n in sorted(f.numbers)]
    keys += [f"c:{c}" for c in sorted(f.codes)]
    keys += [f"d:{d}" for d in sorted(f.dates)]
    keys += [f"r:{r}" for r in sorted(f.rules)]
    latin = sorted(
        {w for w in f.title_words if not is_cjk_char(w[0]) and len(w) >= 4},
        key=lambda w: (-len(w), w),
    )
    keys += [f"w:{w}" for w in latin[:8]]
    keys += [f"b:{b}" for b in list(dict.fromkeys(_cjk_bigrams(f.title_words)))[:16]]
    return keys


@dataclass(frozen=True, slots=True)
class Member:
    """A stored item of a candidate story, with the time it counts as published."""

    item_id: int
    features: Features
    published: float = 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    story_id: int
    members: tuple[Member, ...]
    rules: frozenset[str] = frozenset()


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


def _actor_weight(actor: str, kinds: Mapping[str, str | None]) -> float:
    return KIND_WEIGHT.get(kinds.get(actor) or "", STRONG_WEIGHT)


def _strong(actors: frozenset[str], kinds: Mapping[str, str | None]) -> set[str]:
    return {a for a in actors if _actor_weight(a, kinds) >= STRONG_WEIGHT}


def _rivals(a: set[str], b: set[str], kinds: Mapping[str, str | None]) -> list[list[str]] | None:
    """Actors of one kind on both sides, none of them shared: companies, events or places
    (two companies, two summits). People are left out: a story quotes many."""
    for kind in sorted({kinds.get(x) or "" for x in a} - {"person"}):
        same_a = sorted(x for x in a if (kinds.get(x) or "") == kind)
        same_b = sorted(x for x in b if (kinds.get(x) or "") == kind)
        if same_a and same_b:
            return [same_a, same_b]
    return None


def _evidence(
    a: Features, b: Features, kinds: Mapping[str, str | None]
) -> tuple[float, dict[str, Any]]:
    """Points for what two items share that matters, and what it was."""
    found: dict[str, Any] = {}
    points = 0.0
    if shared := a.actors & b.actors:
        points += sum(_actor_weight(x, kinds) for x in shared)
        found["actors"] = sorted(shared)
    if shared := a.numbers & b.numbers:
        points += sum(NUMBER_WEIGHT if len(n) > 1 else SMALL_NUMBER_WEIGHT for n in shared)
        found["numbers"] = sorted(shared)
    if shared := a.codes & b.codes:
        points += CODE_WEIGHT * len(shared)
        found["codes"] = sorted(shared)
    if shared := a.dates & b.dates:
        points += DATE_WEIGHT * len(shared)
        found["dates"] = sorted(shared)
    return min(points, EVIDENCE_CAP), found


def _direction(f: Features) -> str | None:
    """Whether a title lifts a restriction, imposes one, or neither."""
    words = list(f.title_words)
    if f.cjk:
        text = "".join(words)
        lifts = any(w in text for w in LIFTING if not w.isascii()) and any(
            r in text for r in RESTRICTIONS if not r.isascii()
        )
        imposes = any(w in text for w in IMPOSING if not w.isascii())
    else:
        lifting = [i for i, w in enumerate(words) if w in LIFTING]
        restricting = [i for i, w in enumerate(words) if w in RESTRICTIONS]
        lifts = any(abs(i - j) <= 4 for i in lifting for j in restricting)
        imposes = any(w in IMPOSING for w in words)
    if lifts:
        return "lifting"
    return "imposing" if imposes else None


def _conflicts(
    a: Features, b: Features, kinds: Mapping[str, str | None]
) -> tuple[float, dict[str, Any]]:
    """Points against: titles with different numbers, opposite actions, or different companies,
    events or places."""
    found: dict[str, Any] = {}
    points = 0.0
    if (
        a.cjk == b.cjk  # across scripts, units differ (55亿 is 5.5 billion)
        and a.title_numbers
        and b.title_numbers
        and not (a.title_numbers & b.numbers or b.title_numbers & a.numbers)
    ):
        points += TITLE_NUMBER_CONFLICT
        found["different_numbers"] = [sorted(a.title_numbers), sorted(b.title_numbers)]
    direction_a, direction_b = _direction(a), _direction(b)
    if direction_a and direction_b and direction_a != direction_b:
        points += DIRECTION_CONFLICT
        found["opposite_actions"] = [direction_a, direction_b]
    strong_a, strong_b = _strong(a.actors, kinds), _strong(b.actors, kinds)
    if (
        strong_a
        and strong_b
        and not (strong_a & strong_b)
        and (rivals := _rivals(strong_a, strong_b, kinds))
    ):
        points += ACTOR_CONFLICT
        found["different_actors"] = rivals
    return points, found


def _distinctive(words: Sequence[str]) -> list[str]:
    return [w for w in words if w not in GENERIC]


def text_similarity(a: Features, b: Features) -> float:
    """0-100: how alike two items' titles and summaries read, on the words that tell stories
    of one topic apart (same script only)."""
    title_a, title_b = _distinctive(a.title_words), _distinctive(b.title_words)
    if not title_a or not title_b:
        return 0.0
    title = max(
        fuzz.token_sort_ratio(title_a, title_b), 0.9 * fuzz.token_set_ratio(title_a, title_b)
    )
    words_a, words_b = _distinctive(a.words), _distinctive(b.words)
    body = fuzz.token_set_ratio(words_a, words_b) if words_a and words_b else 0.0
    return max(title, 0.85 * body)


def _specific(evidence: Mapping[str, Any], kinds: Mapping[str, str | None]) -> int:
    """How many pieces of evidence go beyond countries: named actors, numbers, codes, dates."""
    actors = evidence.get("actors", ())
    return (
        sum(1 for a in actors if _actor_weight(a, kinds) > KIND_WEIGHT["country"])
        + len(evidence.get("codes", ()))
        + len(evidence.get("dates", ()))
        + sum(1 for n in evidence.get("numbers", ()) if len(n) > 1)
    )


def _corroborated(evidence: Mapping[str, Any], kinds: Mapping[str, str | None]) -> bool:
    """Enough in common for being close in time to count: two specific pieces of evidence,
    or one and similar wording, or very similar wording."""
    specific = _specific(evidence, kinds)
    text = evidence.get("text", 0)
    return specific >= 2 or (specific >= 1 and text >= 25) or text >= 50


def compare(a: Features, b: Features, kinds: Mapping[str, str | None] = {}) -> Comparison:
    """How likely two items tell the same story, 0-100, with the evidence."""
    if a.title_key and a.title_key == b.title_key:
        return Comparison(100.0, {"layer": "same title"})
    points, evidence = _evidence(a, b, kinds)
    against, conflicts = _conflicts(a, b, kinds)
    evidence.update(conflicts)
    if not same_language(a, b):
        evidence["layer"] = "cross-language"
        score = 20 + points - against if _specific(evidence, kinds) else 0.0
        return Comparison(max(0.0, score), evidence)
    text = text_similarity(a, b)
    evidence["layer"] = "fuzzy"
    evidence["text"] = round(text, 1)
    return Comparison(max(0.0, text * 0.7 + points - against), evidence)


def profile(members: Sequence[Member], item: Features) -> Features:
    """Everything a story has gathered (its members' actors, numbers, codes, dates), and the
    numbers named by its titles in the item's language."""
    first = members[0].features
    return Features(
        title_key="",
        title_words=first.title_words,
        words=first.words,
        actors=frozenset().union(*(m.features.actors for m in members)),
        numbers=frozenset().union(*(m.features.numbers for m in members)),
        title_numbers=frozenset().union(
            *(m.features.title_numbers for m in members if same_language(m.features, item))
        ),
        codes=frozenset().union(*(m.features.codes for m in members)),
        dates=frozenset().union(*(m.features.dates for m in members)),
        cjk=item.cjk,
        language=item.language,
    )


def _gist(f: Features, kinds: Mapping[str, str | None], lexicon: Lexicon) -> dict[str, float]:
    """What an item is about, weighted: its concepts, actors, numbers, codes and dates."""
    gist = {c: lexicon.weight(c) for c in f.concepts}
    for actor in f.actors:
        weight = min(_actor_weight(actor, kinds) / KIND_WEIGHT["country"], GIST_ACTOR_WEIGHT)
        gist[actor] = max(gist.get(actor, 0.0), weight)
    gist.update({f"#{n}": GIST_NUMBER_WEIGHT for n in f.numbers if len(n) > 1})
    gist.update({f"#{c}": GIST_CODE_WEIGHT for c in f.codes | f.dates})
    return gist


@dataclass(frozen=True, slots=True)
class Overlap:
    """How much of what an item is about a story has already told: the weight shared, the
    share of the item's weight it is, what was shared, and countries the item's title names
    that the story never did (another government acting: another story)."""

    weight: float
    coverage: float
    shared: tuple[str, ...]
    new_countries: tuple[str, ...]
    specific: float = 0.0  # the weight shared beyond broad words and countries


def gist_overlap(
    item: Features,
    members: Sequence[Member],
    kinds: Mapping[str, str | None] = {},
    lexicon: Lexicon = EMPTY,
) -> Overlap:
    mine = _gist(item, kinds, lexicon)
    told: set[str] = set()
    for member in members:
        told.update(_gist(member.features, kinds, lexicon))
    shared = sorted(set(mine) & told)
    total = sum(mine.values())
    weight = sum(mine[k] for k in shared)
    return Overlap(
        weight,
        weight / total if total else 0.0,
        tuple(shared),
        tuple(sorted(item.title_countries - told)),
        sum(mine[k] for k in shared if mine[k] > BROAD_WEIGHT),
    )


def _nearest(when: float, members: Sequence[Member]) -> float:
    return min(abs(when - m.published) for m in members)


def _closeness(when: float | None, members: Sequence[Member]) -> float:
    if when is None:
        return 0.0
    nearest = _nearest(when, members)
    return next((bonus for span, bonus in CLOSE_IN_TIME if nearest <= span), 0.0)


def decide_story(
    item: Features,
    candidates: Sequence[Candidate],
    kinds: Mapping[str, str | None] = {},
    threshold: float | None = None,
    when: float | None = None,
    lexicon: Lexicon = EMPTY,
) -> MergeDecision:
    """The story this item joins, if any: the best-scoring candidate above the threshold.

    Only stories that matched one of the item's rules are considered; `when` (the item's
    time) gives a bonus to stories whose items are hours away, once something is shared.
    """
    best: tuple[float, int, int | None, dict[str, Any]] | None = None
    for candidate in candidates:
        if not candidate.members or (
            item.rules and candidate.rules and not item.rules & candidate.rules
        ):
            continue
        results = [(compare(item, m.features, kinds), m.item_id) for m in candidate.members]
        # Evidence alone, against everything the story has gathered: across scripts one
        # specific piece is enough, in one script (where wording could have agreed) two.
        cross = any(not same_language(m.features, item) for m in candidate.members)
        gathered = profile(candidate.members, item)
        points, evidence = _evidence(item, gathered, kinds)
        against, conflicts = _conflicts(item, gathered, kinds)
        if _specific(evidence, kinds) >= (1 if cross else 2):
            score = max(0.0, 20 + points - against)
            results.append(
                (Comparison(score, {**evidence, **conflicts, "layer": "story evidence"}), None)
            )
        if when is not None and _nearest(when, candidate.members) <= GIST_SPAN:
            overlap = gist_overlap(item, candidate.members, kinds, lexicon)
            if (
                overlap.weight >= GIST_MIN_WEIGHT
                and overlap.specific >= CONCEPT_WEIGHT
                and not overlap.new_countries
            ):
                gist = {
                    "shared": list(overlap.shared),
                    "coverage": round(overlap.coverage, 2),
                    **conflicts,
                }
                score = max(0.0, GIST_SCALE * overlap.coverage - against)
                results.append((Comparison(score, {**gist, "layer": "gist"}), None))
        bonus = _closeness(when, candidate.members)
        for result, member_id in results:
            score, evidence = result.score, result.evidence
            if bonus and score >= 20 and _corroborated(evidence, kinds):
                score, evidence = score + bonus, {**evidence, "close_in_time": bonus}
            if best is None or score > best[0]:
                best = (score, candidate.story_id, member_id, evidence)
    if best is None or best[0] < (THRESHOLD if threshold is None else threshold):
        return MergeDecision(
            None, best[0] if best else 0.0, {"best_story": best[1]} if best else {}
        )
    score, story_id, item_id, evidence = best
    if item_id is not None:
        evidence = {**evidence, "compared_with_item": item_id}
    return MergeDecision(story_id, score, evidence)
