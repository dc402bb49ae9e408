"""Concepts for story merging: what a news item is about, in words any language may use.

Two reports of one event often share no wording ("AI bosses told to skip American trips",
"中国要求AI企业家避免赴美") but they share concepts: executives, avoiding travel, the United
States. A `Lexicon` (read from `rules/concepts.yaml` by `bot.rules.load`) reduces a text to the
concepts it names, so that merging can compare paraphrases and translations; `weight` says how
much sharing a concept counts (what every story of a topic says counts least).

Latin forms are folded like the rule engine folds text (lower case, no Latin diacritics); a
form is a word or a phrase, and `*` at its end or start stands for any letters there
("passport*", "*erklarung*"). A Chinese, Japanese or Korean form is found anywhere in the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.text import is_cjk_char, tokenize

BROAD_WEIGHT = 1.0
CONCEPT_WEIGHT = 2.0
_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Form:
    """A Latin form as words; `head`/`tail`: its first/last word may be part of a longer one."""

    words: tuple[str, ...]
    head: bool
    tail: bool
    concept: str

    @classmethod
    def parse(cls, text: str, concept: str) -> Form:
        return cls(
            tokenize(text.strip("*")).folded, text.startswith("*"), text.endswith("*"), concept
        )

    @property
    def size(self) -> int:
        return sum(len(w) for w in self.words)

    def starts(self, token: str) -> bool:
        word = self.words[0]
        if self.head:
            return word in token if self.tail or len(self.words) > 1 else token.endswith(word)
        return token.startswith(word) if self.tail and len(self.words) == 1 else token == word

    def rest_matches(self, tokens: Sequence[str], at: int) -> bool:
        rest = self.words[1:]
        if at + len(rest) >= len(tokens):
            return False
        for offset, word in enumerate(rest, start=1):
            token = tokens[at + offset]
            last = offset == len(rest)
            if not (token == word or (last and self.tail and token.startswith(word))):
                return False
        return True


def cjk_run(tokens: Sequence[str]) -> str:
    """CJK characters run together (a space where other words were; no middle dots)."""
    return "".join(t if is_cjk_char(t[0]) else " " for t in tokens if t != "・")


def is_cjk_form(text: str) -> bool:
    return any(is_cjk_char(c) for c in text)


@dataclass(slots=True)
class Lexicon:
    """Concepts and their forms. `broad` concepts (and `countries`, which are actor ids) are
    what every story of a topic mentions."""

    forms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    broad: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    _exact: dict[str, list[Form]] = field(init=False, default_factory=dict)
    _prefixes: dict[str, list[Form]] = field(init=False, default_factory=dict)
    _prefix_sizes: tuple[int, ...] = field(init=False, default=())
    _inner: tuple[Form, ...] = field(init=False, default=())
    _cjk: tuple[tuple[str, str], ...] = field(init=False, default=())
    _starting: dict[str, tuple[Form, ...]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        inner: list[Form] = []
        cjk: list[tuple[str, str]] = []
        for concept, texts in self.forms.items():
            for text in texts:
                if is_cjk_form(text):
                    cjk.append((cjk_run(tokenize(text).folded), concept))
                    continue
                form = Form.parse(text, concept)
                if not form.words:
                    continue
                if form.head:
                    inner.append(form)
                elif form.tail and len(form.words) == 1:
                    self._prefixes.setdefault(form.words[0], []).append(form)
                else:
                    self._exact.setdefault(form.words[0], []).append(form)
        self._prefix_sizes = tuple(sorted({len(p) for p in self._prefixes}))
        self._inner = tuple(inner)
        self._cjk = tuple(cjk)

    def weight(self, concept: str) -> float:
        broad = concept in self.broad or concept in self.countries
        return BROAD_WEIGHT if broad else CONCEPT_WEIGHT

    def concepts_in(self, text: str) -> frozenset[str]:
        """The concepts a text names, in any of the lexicon's languages."""
        return self.concepts_of(tokenize(text).folded)

    def concepts_of(self, tokens: Sequence[str]) -> frozenset[str]:
        """The concepts named by folded tokens (as `bot.text.tokenize` gives them)."""
        found = self._latin([t for t in tokens if not is_cjk_char(t[0])])
        if self._cjk and any(is_cjk_char(t[0]) for t in tokens):
            run = cjk_run(tokens)
            found.update(concept for form, concept in self._cjk if form in run)
        return frozenset(found)

    def _forms_starting(self, token: str) -> tuple[Form, ...]:
        """Forms whose first word matches this token (news reuses words: cached)."""
        cached = self._starting.get(token)
        if cached is not None:
            return cached
        options = [*self._exact.get(token, ())]
        for size in self._prefix_sizes:
            if size > len(token):
                break
            options += self._prefixes.get(token[:size], ())
        options += self._inner
        found = tuple(f for f in options if f.starts(token))
        if len(self._starting) >= _CACHE_SIZE:
            self._starting.clear()
        self._starting[token] = found
        return found

    def _latin(self, tokens: Sequence[str]) -> set[str]:
        """Scan left to right; where forms overlap, the longest (most specific) wins:
        "Reisepässe" is a passport, not only travel."""
        found: set[str] = set()
        at = 0
        while at < len(tokens):
            options = self._forms_starting(tokens[at])
            matched = [f for f in options if f.rest_matches(tokens, at)] if options else ()
            if not matched:
                at += 1
                continue
            best = max(f.size for f in matched)
            winners = [f for f in matched if f.size == best]
            found.update(f.concept for f in winners)
            at += len(winners[0].words)
        return found


EMPTY = Lexicon()
