"""Concepts for story merging: what a news item is about, in words any language may use.

Two reports of one event often share no wording ("AI bosses told to skip American trips",
"中国要求AI企业家避免赴美") but they share concepts: executives, avoiding travel, the United
States. The concepts and their forms are the ones the rules use (`rules/concepts.yaml`, compiled
by `bot.rules.load` into the same terms), found by the same matcher (`bot.rules.engine`), so a
form added once serves both. A `Lexicon` reduces a text to the concepts it names; where forms
overlap, the longest wins ("Reisepässe" is a passport, not only travel). `weight` says how much
sharing a concept counts: what every story of a topic says counts least.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.rules.engine import Term, TermIndex
from bot.text import Tokens, tokenize

BROAD_WEIGHT = 1.0
CONCEPT_WEIGHT = 2.0


@dataclass(slots=True)
class Lexicon:
    """Concept forms as compiled terms (`term.concept` names the concept). `broad` concepts
    (and `countries`, which are actor ids) are what every story of a topic mentions."""

    terms: Sequence[Term] = ()
    broad: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    concepts: frozenset[str] = field(init=False)
    _index: TermIndex = field(init=False)
    _by_id: dict[int, Term] = field(init=False)

    def __post_init__(self) -> None:
        self.terms = tuple(t for t in self.terms if t.concept is not None)
        self.concepts = frozenset(t.concept for t in self.terms if t.concept is not None)
        self._index = TermIndex(self.terms)
        self._by_id = {t.id: t for t in self.terms}

    def weight(self, concept: str) -> float:
        broad = concept in self.broad or concept in self.countries
        return BROAD_WEIGHT if broad else CONCEPT_WEIGHT

    def concepts_in(self, text: str) -> frozenset[str]:
        """The concepts a text names, in any of the lexicon's languages."""
        return self.concepts_of(tokenize(text))

    def concepts_of(self, tokens: Tokens) -> frozenset[str]:
        """The concepts named by tokens (as `bot.text.tokenize` gives them). Scanning left to
        right, the longest form starting at a token wins, and the tokens it covers are
        skipped."""
        if not self.terms or not tokens.folded:
            return frozenset()
        starting: dict[int, list[tuple[int, int, str]]] = {}
        for term_id, occurrences in self._index.scan_tokens("text", tokens).items():
            term = self._by_id[term_id]
            size = sum(len(text) for text, _ in term.parts)
            for o in occurrences:
                starting.setdefault(o.start, []).append((size, o.end, term.concept or ""))
        found: set[str] = set()
        covered = 0
        for start in sorted(starting):
            if start < covered:
                continue
            options = starting[start]
            best = max(size for size, _, _ in options)
            winners = [(end, concept) for size, end, concept in options if size == best]
            found.update(concept for _, concept in winners)
            covered = min(end for end, _ in winners)
        return frozenset(found)


EMPTY = Lexicon()
