"""The vocabulary story merging reads headlines with: concepts, countries and language data.

Two reports of one event often share no wording ("AI bosses told to skip American trips",
"中国要求AI企业家避免赴美") but they share concepts: executives, avoiding travel, the United
States. The concepts and their forms are the ones the rules use (`rules/concepts.yaml`, compiled
by `bot.rules.load` into the same terms), found by the same matcher (`bot.rules.engine`), so a
form added once serves both. Where forms overlap, the longest wins ("Reisepässe" is a passport,
not only travel). `weight` says how much sharing a concept counts: what every story of a topic
says counts least. Countries are found by their concepts and by the aliases of country actors
and of agencies acting for one ("商务部" is China acting). `languages.yaml` adds the words that
carry no meaning, numbers in words, months and wire prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType

from bot.rules.engine import Term, TermIndex
from bot.text import Tokens, is_cjk_char, tokenize

BROAD_WEIGHT = 1.0
CONCEPT_WEIGHT = 2.0


@dataclass(frozen=True, slots=True)
class Span:
    """A concept found in a text: tokens `start` to `end`, at word position `position`."""

    start: int
    end: int
    position: float
    concept: str


@dataclass(frozen=True, slots=True)
class Wording:
    """What `languages.yaml` says, all languages together."""

    stopwords: frozenset[str] = frozenset()
    numbers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    months: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    title_prefixes: frozenset[str] = frozenset()
    endings: Mapping[str, frozenset[str]] = field(  # per language, the endings a `*` is for
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(slots=True)
class Lexicon:
    """Concept forms as compiled terms (`term.concept` names the concept).

    `broad` concepts are what every story of a topic mentions; `countries` maps the concepts
    that name a country to its actor id, and `not_acting` those that name it as where
    someone goes or what a measure targets ("赴美", "对华"), not as who acts. `facets` maps a
    concept to its facets and values (("goods", "tools"),)."""

    terms: Sequence[Term] = ()
    broad: frozenset[str] = frozenset()
    countries: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    not_acting: frozenset[str] = frozenset()
    facets: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    wording: Wording = field(default_factory=Wording)
    restrictions: frozenset[str] = frozenset()  # concepts that name a restriction
    locating: frozenset[str] = frozenset()  # after a country, it is a place ("UAE-based")
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
        """The concepts named by tokens (as `bot.text.tokenize` gives them)."""
        return frozenset(span.concept for span in self.spans(tokens))

    def spans(self, tokens: Tokens) -> list[Span]:
        """Where concepts are named, left to right: the longest form starting at a token wins,
        and the tokens it covers are skipped."""
        if not self.terms or not tokens.folded:
            return []
        starting: dict[int, list[tuple[int, int, float, str]]] = {}
        for term_id, occurrences in self._index.scan_tokens("text", tokens).items():
            term = self._by_id[term_id]
            size = sum(len(text) for text, _ in term.parts)
            for o in occurrences:
                starting.setdefault(o.start, []).append(
                    (size, o.end, o.position, term.concept or "")
                )
        found: list[Span] = []
        covered = 0
        for start in sorted(starting):
            if start < covered:
                continue
            options = starting[start]
            best = max(size for size, _, _, _ in options)
            winners = sorted({(end, pos, c) for size, end, pos, c in options if size == best})
            found.extend(Span(start, end, pos, concept) for end, pos, concept in winners)
            covered = min(end for end, _, _ in winners)
        return found

    def subjects(self, spans: Sequence[Span], words: float) -> frozenset[str]:
        """Countries named in a headline's first `words` words, other than as a destination
        or a place (a `locating` concept right after: "UAE-based firms"): whose action the
        headline reports ("South Korea asks…", "美国将…")."""
        placed = {
            a.end for a, b in pairwise(spans) if b.start == a.end and b.concept in self.locating
        }
        return frozenset(
            self.countries[s.concept]
            for s in spans
            if s.position < words
            and s.concept in self.countries
            and s.concept not in self.not_acting
            and s.end not in placed
        )

    def names_restriction(self, concepts: frozenset[str]) -> bool:
        return bool(concepts & self.restrictions)

    def facet_catalogue(self) -> dict[str, set[str]]:
        """Every facet the concepts have, with the values they name."""
        catalogue: dict[str, set[str]] = {}
        for pairs in self.facets.values():
            for facet, value in pairs:
                catalogue.setdefault(facet, set()).add(value)
        return catalogue

    def facet_values(
        self, concepts: frozenset[str], *, leave_out: tuple[str, ...] = ()
    ) -> dict[str, frozenset[str]]:
        """Per facet (but those left out), the values a set of concepts names."""
        values: dict[str, set[str]] = {}
        for concept in concepts:
            for facet, value in self.facets.get(concept, ()):
                if facet not in leave_out:
                    values.setdefault(facet, set()).add(value)
        return {name: frozenset(v) for name, v in values.items()}

    def canonical(self, tokens: Tokens) -> list[str]:
        """The tokens with every concept form replaced by its concept ("curbs" and
        "restrictions" both become "@restrict"), so wording can be compared across
        paraphrases."""
        replaced: dict[int, tuple[int, str]] = {}
        for span in self.spans(tokens):
            replaced.setdefault(span.start, (span.end, f"@{span.concept}"))
        out: list[str] = []
        at = 0
        folded = tokens.folded
        while at < len(folded):
            if at in replaced:
                end, concept = replaced[at]
                out.append(concept)
                at = max(end, at + 1)
                continue
            out.append(folded[at])
            at += 1
        return out


def is_cjk_token(token: str) -> bool:
    return bool(token) and is_cjk_char(token[0])


EMPTY = Lexicon()
