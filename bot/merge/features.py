"""What merging compares: an item reduced to its headline's words, concepts, actors, numbers,
dates and product codes, and the keys under which the storage index files a story.

Features are stored with each item (as JSON), so a later item is compared with what was read
then. Everything language-specific comes from the lexicon (`rules/concepts.yaml`,
`rules/languages.yaml`): no word list lives here.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.merge.language import language_of
from bot.merge.params import PARAMS
from bot.models import Item
from bot.rules.lexicon import EMPTY, Lexicon, Span, Wording, is_cjk_token
from bot.text import Tokens, fold, has_cjk, tokenize

_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_CODE = re.compile(r"^(?=.*\d)(?=.*[a-z])[a-z0-9]{2,12}$")
_SUFFIX_SEPARATORS = (" | ", " - ", " — ", " – ", " :: ")
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
    title_concepts: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()  # countries whose action the headline reports
    title_actors: frozenset[str] = frozenset()

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
            "title_concepts": sorted(self.title_concepts),
            "subjects": sorted(self.subjects),
            "title_actors": sorted(self.title_actors),
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
            title_concepts=frozenset(data.get("title_concepts", ())),
            subjects=frozenset(data.get("subjects", ())),
            title_actors=frozenset(data.get("title_actors", ())),
        )


def _strip_title(title: str) -> str:
    """Drop a trailing site name (" | Tech News", " - Meridian Wire")."""
    for separator in _SUFFIX_SEPARATORS:
        head, sep, tail = title.rpartition(separator)
        if sep and head and len(tail.split()) <= PARAMS.site_name_words and len(head) > len(tail):
            title = head
    return title


def _headline(item: Item, wording: Wording) -> Tokens:
    """The headline's tokens without a site name or wire prefixes ("UPDATE 2-")."""
    tokens = tokenize(_strip_title(item.title))
    skip = 0
    while skip < len(tokens) and (
        tokens.folded[skip] in wording.title_prefixes
        or (tokens.folded[skip].isdigit() and len(tokens.folded[skip]) == 1)
    ):
        skip += 1
    return Tokens(tokens.folded[skip:], tokens.cased[skip:], tokens.spaced[skip:])


def content_words(tokens: Tokens, lexicon: Lexicon) -> list[str]:
    """Words that carry meaning: concept forms become their concept ("curbs" and "restrictions"
    are both "@restrict"), words of no meaning go, plurals are folded together."""
    stopwords = lexicon.wording.stopwords
    kept: list[str] = []
    for token in lexicon.canonical(tokens):
        if token.startswith("@") or is_cjk_token(token):
            kept.append(token)
        elif token not in stopwords and (len(token) > 1 or token.isdigit()):
            plural = len(token) > 4 and token.endswith("s") and not token.endswith("ss")
            kept.append(token[:-1] if plural else token)
    return kept


def cjk_bigrams(tokens: Sequence[str]) -> list[str]:
    chars = [t for t in tokens if is_cjk_token(t) and len(t) == 1]
    return [a + b for a, b in itertools.pairwise(chars)]


@functools.lru_cache(maxsize=8)
def _date_patterns(months: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    names = "|".join(sorted(months, key=len, reverse=True)) or "(?!)"
    return (
        re.compile(rf"\b(\d{{1,2}})(?:er|\.)?\s+({names})\b"),
        re.compile(rf"\b({names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:%|,\s*\d{{3}}))"),
        re.compile(rf"\b({names})\.?\s+((?:19|20)\d\d)\b"),
    )


def dates_in(text: str, wording: Wording) -> set[str]:
    """Calendar dates a text names: "Sept. 1", "1 September", "9月1日" are all `09-01`;
    "February 2026" and "2026年2月" are `2026-02`."""
    months = wording.months
    day_month, month_day, month_year = _date_patterns(tuple(months))
    folded = fold(text)
    found: set[str] = set()
    month = months.__getitem__

    for day, name in day_month.findall(folded):
        if 1 <= int(day) <= 31:
            found.add(f"{month(name):02d}-{int(day):02d}")
    for name, day in month_day.findall(folded):
        if 1 <= int(day) <= 31:
            found.add(f"{month(name):02d}-{int(day):02d}")
    for name, year in month_year.findall(folded):
        found.add(f"{year}-{month(name):02d}")
    for number, day in _CJK_DAY.findall(folded):
        if 1 <= int(number) <= 12 and 1 <= int(day) <= 31:
            found.add(f"{int(number):02d}-{int(day):02d}")
    for year, number in _CJK_MONTH.findall(folded):
        if 1 <= int(number) <= 12:
            found.add(f"{year}-{int(number):02d}")
    return found


def numbers_in(tokens: Sequence[str], wording: Wording, *, trivial: bool = False) -> set[str]:
    """Numbers named, as digits; years are left out, and 0 and 1 unless `trivial`."""
    found = set()
    for value in _values(tokens, wording):
        if _NUMBER.match(value) and not _YEAR.match(value) and (trivial or value not in ("0", "1")):
            found.add(value)
    return found


def _values(tokens: Sequence[str], wording: Wording) -> Iterator[str]:
    """Each token as its number where it names one; a written tens followed by a written
    unit is one number ("twenty seven", "vingt sept": 27)."""
    index = 0
    while index < len(tokens):
        value = wording.numbers.get(tokens[index], tokens[index])
        following = wording.numbers.get(tokens[index + 1]) if index + 1 < len(tokens) else None
        if (
            following is not None
            and tokens[index] in wording.numbers
            and value.isdigit()
            and following.isdigit()
            and 20 <= int(value) < 100
            and int(value) % 10 == 0
            and 1 <= int(following) <= 9
        ):
            yield str(int(value) + int(following))
            index += 2
            continue
        yield value
        index += 1


def rare_names(title: Tokens, spans: Sequence[Span], language: str) -> set[str]:
    """Capitalised words of the headline that no concept or actor covers and that are rare in
    the language's word list (Tallinn, Kigali, DeepSeek): the names of one story's places,
    firms and people, as telling as a product code."""
    covered = {i for span in spans for i in range(span.start, span.end)}
    found = set()
    for i, (folded, cased, spaced) in enumerate(
        zip(title.folded, title.cased, title.spaced, strict=True)
    ):
        if (
            spaced
            and i not in covered
            and len(folded) >= PARAMS.name_length
            and folded.isalpha()
            and cased[:1].isupper()
            and word_rarity(folded, language) < PARAMS.rare_name_zipf
        ):
            found.add(folded)
    return found


@functools.lru_cache(maxsize=65536)
def word_rarity(word: str, language: str) -> float:
    """How common a word is in the language (Zipf scale: 0 unknown, 3 once per million
    words, 7 the commonest), from wordfreq's small lists; English where unknown."""
    import wordfreq  # loaded on the first alert-worthy headline, not at start

    if language not in _word_lists() or has_cjk(word):
        language = "en"
    return float(wordfreq.zipf_frequency(word, language, wordlist="small"))


@functools.cache
def _word_lists() -> frozenset[str]:
    """Languages with a small word list that needs no extra tokenizer (not CJK)."""
    import wordfreq

    return frozenset(wordfreq.available_languages(wordlist="small")) - {"zh", "ja", "ko"}


def features(
    item: Item,
    actors: frozenset[str] = frozenset(),
    rules: Sequence[str] = (),
    lexicon: Lexicon = EMPTY,
    title_actors: frozenset[str] | None = None,
) -> Features:
    """`actors` are those the title and summary name; `title_actors` those of the title alone
    (by default: all of them, as for a headline-only item)."""
    wording = lexicon.wording
    title = _headline(item, wording)
    summary = item.summary[: PARAMS.summary_chars] if item.summary else ""
    body = tokenize(summary) if summary else Tokens((), (), ())
    title_spans = lexicon.spans(title)
    title_concepts = frozenset(s.concept for s in title_spans)
    every = [*title.folded, *body.folded]
    language = language_of(item)
    return Features(
        title_key=" ".join(title.folded),
        title_words=tuple(content_words(title, lexicon)),
        words=tuple(content_words(title, lexicon) + content_words(body, lexicon)),
        actors=actors,
        numbers=frozenset(numbers_in(every, wording)),
        title_numbers=frozenset(numbers_in(title.folded, wording, trivial=True)),
        codes=frozenset(t for t in every if _CODE.match(t) and not t.isdigit())
        | rare_names(title, title_spans, language),
        dates=frozenset(dates_in(f"{item.title} {summary}", wording)),
        cjk=has_cjk(item.title),
        language=language,
        rules=frozenset(rules),
        outlet=item.outlet,
        concepts=title_concepts | lexicon.concepts_of(body),
        title_concepts=title_concepts,
        subjects=lexicon.subjects(
            title_spans, PARAMS.subject_words_cjk if has_cjk(item.title) else PARAMS.subject_words
        ),
        title_actors=actors if title_actors is None else title_actors,
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
        {w for w in f.title_words if not is_cjk_token(w) and not w.startswith("@") and len(w) >= 4},
        key=lambda w: (-len(w), w),
    )
    keys += [f"w:{w}" for w in latin[: PARAMS.index_words]]
    bigrams = list(dict.fromkeys(cjk_bigrams(f.title_words)))
    keys += [f"b:{b}" for b in bigrams[: PARAMS.index_bigrams]]
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
