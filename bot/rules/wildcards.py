"""Wildcards that match common words they were not meant to: `ban*` also finds "bank",
"band" and "Bangkok".

`radar rules check` looks each short one-word wildcard of the rules and concepts up in
word-frequency lists (wordfreq, for the languages of `languages.yaml`): a common word that
starts with the stem but is not one of its inflections (the endings `languages.yaml` lists for
that word's language) is named in a warning, so the author can list the forms they mean.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.errors import Problem
from bot.rules.lexicon import Wording
from bot.text import fold
from bot.yamlfile import Location, YamlDoc

COMMON = 4.0  # Zipf frequency: once in 100,000 words or more, the top 8,000 or so of a language
WORDS_PER_LANGUAGE = 60_000
SHOWN = 4
# Longer prefixes hardly ever begin an unrelated word ("restrict*", "licencia*").
SHORT_PREFIX = 5


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A word prefix written in a rule or a concept form, and where."""

    prefix: str
    display: str
    doc: YamlDoc
    loc: Location


@functools.lru_cache(maxsize=8)
def _common_words(language: str) -> tuple[tuple[str, float], ...]:
    """(folded word, Zipf frequency) of a language's common words, sorted."""
    import wordfreq  # only `radar rules check` needs the word lists

    found: dict[str, float] = {}
    for word in wordfreq.top_n_list(language, WORDS_PER_LANGUAGE):
        frequency = wordfreq.zipf_frequency(word, language)
        if frequency < COMMON:
            break
        folded = fold(word)
        if folded.isalpha():
            found[folded] = max(found.get(folded, 0.0), frequency)
    return tuple(sorted(found.items()))


OVERLAP = 2  # an ending may begin with the stem's last letters: "firma*" is for "firm-ado"


def _inflection(prefix: str, word: str, endings: frozenset[str]) -> bool:
    """Whether `word` is the stem's own word: an ending after the stem (or after all but its
    last letter or two, "firm" + "ado"), maybe after a doubled last letter ("chip" + "ped")."""
    rest = word[len(prefix) :]
    if rest[:1] == prefix[-1:] and rest[1:] in endings:
        return True
    return any(word[len(prefix) - k :] in endings for k in range(OVERLAP + 1))


def surprises(
    prefix: str, words: Sequence[tuple[str, float]], endings: frozenset[str]
) -> dict[str, float]:
    """Common words the prefix matches that are not its inflections, with their frequency."""
    start = bisect.bisect_left(words, (prefix, 0.0))
    found: dict[str, float] = {}
    for word, frequency in words[start:]:
        if not word.startswith(prefix):
            break
        if word != prefix and not _inflection(prefix, word, endings):
            found[word] = frequency
    return found


def common_word_problems(wildcards: Iterable[Wildcard], wording: Wording) -> list[Problem]:
    """A warning for each short wildcard that matches common words it was not meant to, in
    any of the languages of `languages.yaml` (each word judged by its own language's
    endings)."""
    languages = sorted(wording.endings) or ["en"]
    try:
        lists = {language: _common_words(language) for language in languages}
    except ImportError:
        return []
    problems: list[Problem] = []
    for wildcard in wildcards:
        if len(wildcard.prefix) > SHORT_PREFIX or " " in wildcard.display.strip():
            continue  # long stems and phrases (the other words narrow them) are safe
        frequencies: dict[str, float] = {}
        for language, words in lists.items():
            endings = wording.endings.get(language, frozenset())
            for word, frequency in surprises(wildcard.prefix, words, endings).items():
                frequencies[word] = max(frequency, frequencies.get(word, 0.0))
        found = sorted(frequencies, key=lambda w: (-frequencies[w], w))
        if found:
            shown = ", ".join(found[:SHOWN]) + (
                f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
            )
            problems.append(
                wildcard.doc.problem(
                    wildcard.loc,
                    f"{wildcard.display!r} also matches common words: {shown} "
                    "(list the forms you mean instead of the `*`)",
                    "warning",
                )
            )
    return problems
