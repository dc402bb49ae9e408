"""The compiled matcher: every phrase and actor alias of every rule in one index.

Each field of an item is scanned once, token by token, against one trie of all terms (phrases
and actor aliases), whatever the number of rules. Per-token work is memoised by token, so the
cost of a scan barely grows with the number of rules; only the rules whose terms were found are
then evaluated. Nothing here is a user-supplied regular expression.

Tolerances:
- case, diacritics, full-width forms, punctuation and hyphens: by normalisation (`bot.text`);
- spacing ("Deep Seek" / "DeepSeek", "chip-making" / "chipmaking"): windows of up to four tokens
  are joined and compared with each term's joined form, for forms of 8 characters or more;
- spelling variants of actor names: rapidfuzz edit distance on joined forms of 8 characters or
  more (1 edit, 2 from 12 characters); shorter aliases match exactly, and short upper-case
  aliases ("BIS", "UN") only as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.errors import InvalidValue
from bot.text import Tokens, is_cjk_char, tokenize

JOIN_MIN = 8
JOIN_MAX_TOKENS = 4
FUZZY_MIN = 8
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Term:
    """A phrase or an actor alias, compiled: a sequence of (text, is_prefix) parts."""

    id: int
    display: str
    parts: tuple[tuple[str, bool], ...]
    case_sensitive: bool = False
    actor: str | None = None
    concept: str | None = None
    lead: bool = False  # a leading `*`: the first part may end (or sit inside) a longer word

    @property
    def joined(self) -> str | None:
        """The parts run together, when the term can match across spacing differences."""
        if self.case_sensitive or self.lead or any(prefix for _, prefix in self.parts[:-1]):
            return None
        text = "".join(p for p, _ in self.parts)
        if len(text) < JOIN_MIN or any(is_cjk_char(c) for c in text):
            return None
        return text


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a term was found: the term, the field, token span, word position and text."""

    term: int
    field: str
    start: int
    end: int
    position: float
    text: str
    fuzzy: bool = False


@dataclass(slots=True)
class _Node:
    exact: dict[str, _Node] = field(default_factory=dict)
    prefix: dict[str, _Node] = field(default_factory=dict)
    terms: list[int] = field(default_factory=list)
    # At the root only: first words that may end a token (`*reise`) or sit inside one (`*reise*`).
    suffix: dict[str, _Node] = field(default_factory=dict)
    infix: dict[str, _Node] = field(default_factory=dict)

    def step(self, token: str) -> list[_Node]:
        found: list[_Node] = []
        if (child := self.exact.get(token)) is not None:
            found.append(child)
        if self.prefix:
            found.extend(node for p, node in self.prefix.items() if token.startswith(p))
        return found


class _Trie:
    def __init__(self) -> None:
        self.root = _Node()
        self._root_cache: dict[str, list[_Node]] = {}

    def add(self, term: Term) -> None:
        node = self.root
        for index, (text, is_prefix) in enumerate(term.parts):
            if index == 0 and term.lead:
                table = node.infix if is_prefix else node.suffix
            else:
                table = node.prefix if is_prefix else node.exact
            node = table.setdefault(text, _Node())
        node.terms.append(term.id)

    def root_step(self, token: str) -> list[_Node]:
        cached = self._root_cache.get(token)
        if cached is None:
            if len(self._root_cache) > CACHE_LIMIT:
                self._root_cache.clear()
            cached = self._root_cache[token] = self._root_lookup(token)
        return cached

    def _root_lookup(self, token: str) -> list[_Node]:
        found: list[_Node] = []
        root = self.root
        if (child := root.exact.get(token)) is not None:
            found.append(child)
        for end in range(1, len(token) + 1):
            if (child := root.prefix.get(token[:end])) is not None:
                found.append(child)
        found.extend(node for text, node in root.suffix.items() if token.endswith(text))
        found.extend(node for text, node in root.infix.items() if text in token)
        return found

    def scan(self, tokens: Sequence[str], emit: _Emit) -> None:
        for start, token in enumerate(tokens):
            frontier = self.root_step(token)
            end = start + 1
            while frontier:
                following: list[_Node] = []
                for node in frontier:
                    for term_id in node.terms:
                        emit(term_id, start, end, False)
                    if end < len(tokens) and (node.exact or node.prefix):
                        following.extend(node.step(tokens[end]))
                frontier = following
                end += 1


class _Emit(Protocol):
    def __call__(self, term_id: int, start: int, end: int, fuzzy: bool) -> None: ...


class _Joined:
    """Terms by their joined form, for spacing-tolerant and fuzzy matching of token windows."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self.exact: dict[str, list[int]] = {}
        self.prefix: dict[str, list[int]] = {}
        fuzzy: dict[tuple[str, int], list[str]] = {}
        self.fuzzy_terms: dict[str, list[int]] = {}
        for term in terms:
            joined = term.joined
            if joined is None:
                continue
            table = self.prefix if term.parts[-1][1] else self.exact
            table.setdefault(joined, []).append(term.id)
            if term.actor is not None and not term.parts[-1][1] and len(joined) >= FUZZY_MIN:
                fuzzy.setdefault((joined[0], len(joined)), []).append(joined)
                self.fuzzy_terms.setdefault(joined, []).append(term.id)
        self._fuzzy_buckets = fuzzy
        self._prefix_lengths = sorted({len(p) for p in self.prefix})
        self._cache: dict[str, tuple[tuple[int, int, bool], ...]] = {}
        # Every beginning of every joined form: a window whose text is not one of these can
        # never grow into a match, so scanning stops there.
        self.starts = frozenset(
            j[:k] for j in (*self.exact, *self.prefix) for k in range(1, len(j) + 1)
        )
        self.fuzzy_starts = frozenset(j[:3] for j in self.fuzzy_terms)
        # A text can only begin with a prefix term if its first `shortest` letters begin one.
        self.shortest = min(self._prefix_lengths, default=0)
        self.prefix_heads = frozenset(p[: self.shortest] for p in self.prefix)

    def may_match(self, text: str, fuzzy: bool) -> bool:
        """Cheap test: could `lookup(text)` find anything?"""
        return (
            text in self.exact
            or (self.shortest > 0 and text[: self.shortest] in self.prefix_heads)
            or (fuzzy and len(text) >= FUZZY_MIN)
        )

    def lookup(self, text: str) -> tuple[tuple[int, int, bool], ...]:
        """(term id, joined length, fuzzy) for every term whose joined form matches `text`."""
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) > CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[text] = self._compute(text)
        return cached

    def _compute(self, text: str) -> tuple[tuple[int, int, bool], ...]:
        found = [(t, len(text), False) for t in self.exact.get(text, ())]
        for length in self._prefix_lengths:
            if length > len(text):
                break
            found.extend((t, length, False) for t in self.prefix.get(text[:length], ()))
        if not found and len(text) >= FUZZY_MIN and self._fuzzy_buckets:
            found.extend(self._fuzzy(text))
        return tuple(found)

    def _fuzzy(self, text: str) -> list[tuple[int, int, bool]]:
        from rapidfuzz import process  # imported when first needed: a quiet cycle never is
        from rapidfuzz.distance import Levenshtein

        allowed = 2 if len(text) >= 12 else 1
        candidates: list[str] = []
        for length in range(len(text) - allowed, len(text) + allowed + 1):
            candidates.extend(self._fuzzy_buckets.get((text[0], length), ()))
        if not candidates:
            return []
        best = process.extractOne(
            text, candidates, scorer=Levenshtein.distance, score_cutoff=allowed
        )
        if best is None:
            return []
        return [(t, len(text), True) for t in self.fuzzy_terms[best[0]]]


class TermIndex:
    """All terms of a rule set; `scan` finds every occurrence of every term in a field."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)
        self._folded = _Trie()
        self._cased = _Trie()
        for term in self.terms:
            (self._cased if term.case_sensitive else self._folded).add(term)
        self._joined = _Joined(self.terms)
        self._has_cased = any(t.case_sensitive for t in self.terms)

    def scan(self, field_name: str, text: str) -> dict[int, list[Occurrence]]:
        """Every occurrence of every term in one field's text, by term id."""
        tokens = tokenize(text)
        return self.scan_tokens(field_name, tokens)

    def scan_tokens(self, field_name: str, tokens: Tokens) -> dict[int, list[Occurrence]]:
        folded = tokens.folded
        positions = _word_positions(tokens)
        found: dict[int, list[Occurrence]] = {}
        seen: set[tuple[int, int]] = set()

        def emit(term_id: int, start: int, end: int, fuzzy: bool = False) -> None:
            if (term_id, start) in seen:
                return
            seen.add((term_id, start))
            text = _span_text(tokens.cased, start, end)
            found.setdefault(term_id, []).append(
                Occurrence(term_id, field_name, start, end, positions[start], text, fuzzy)
            )

        self._folded.scan(folded, emit)
        if self._has_cased:
            self._cased.scan(tokens.cased, emit)
        self._scan_joined(folded, tokens.spaced, emit)
        return found

    def _scan_joined(self, folded: Sequence[str], spaced: Sequence[bool], emit: _Emit) -> None:
        joined = self._joined
        starts, fuzzy_starts, lookup, may_match = (
            joined.starts,
            joined.fuzzy_starts,
            joined.lookup,
            joined.may_match,
        )
        count = len(folded)
        for start, first in enumerate(folded):
            if not spaced[start]:
                continue
            fuzzy = first[:3] in fuzzy_starts
            if first not in starts and not fuzzy and len(first) < JOIN_MIN:
                continue
            text, previous_length, end = first, 0, start + 1
            while True:
                if len(text) >= JOIN_MIN and may_match(text, fuzzy and end - start <= 2):
                    for term_id, length, approximate in lookup(text):
                        # The term must reach into the window's last token, or the shorter
                        # window already found it.
                        if length > previous_length:
                            emit(term_id, start, end, approximate)
                width = end - start
                if end >= count or width >= JOIN_MAX_TOKENS:
                    break
                if text not in starts and not (fuzzy and width < 2):
                    break
                if not spaced[end]:
                    break
                previous_length, text, end = len(text), text + folded[end], end + 1


def _word_positions(tokens: Tokens) -> list[float]:
    """Position of each token in words: a CJK character counts as half a word."""
    positions: list[float] = []
    position = 0.0
    for token, is_spaced in zip(tokens.folded, tokens.spaced, strict=True):
        positions.append(position)
        position += 0.5 if not is_spaced and len(token) == 1 and is_cjk_char(token) else 1.0
    return positions


def _span_text(cased: Sequence[str], start: int, end: int) -> str:
    """The matched words as written: CJK characters run together, other words spaced."""
    text = ""
    previous_cjk = True
    for part in cased[start:end]:
        cjk = len(part) == 1 and is_cjk_char(part)
        text += part if (cjk or previous_cjk) else " " + part
        previous_cjk = cjk
    return text


def compile_pattern(text: str) -> tuple[tuple[tuple[str, bool], ...], bool]:
    """A phrase's parts (see `compile_phrase`), and whether it starts with `*`: then its first
    word may also end a longer word (`*reise` finds "Dienstreise"), or sit inside one when it
    ends with `*` too (`*reise*` finds "Auslandsreisen")."""
    stripped = text.strip()
    if not stripped.startswith("*"):
        return compile_phrase(stripped), False
    parts = compile_phrase(stripped[1:])
    if is_cjk_char(parts[0][0][0]):
        raise InvalidValue(
            f"`*` before {parts[0][0]!r} has no effect: Chinese, Japanese and Korean text "
            "already matches without word boundaries"
        )
    if len(parts[0][0]) < 4:
        raise InvalidValue(f"{text!r} would match too many words: a leading `*` needs 4 letters")
    return parts, True


def compile_phrase(text: str) -> tuple[tuple[str, bool], ...]:
    """Split a phrase into (token, is_prefix) parts; a `*` after a word makes it a prefix.

    Raises ValueError with a readable reason when the phrase cannot be used.
    """
    parts: list[tuple[str, bool]] = []
    chunks = text.replace("*", "* ").split()
    for chunk in chunks:
        is_prefix = chunk.endswith("*")
        body = chunk.rstrip("*")
        if not body:
            if is_prefix:
                raise InvalidValue("a `*` must follow a word (it stands for the end of that word)")
            continue
        tokens = tokenize(body).folded
        if not tokens:
            if is_prefix:
                raise InvalidValue(f"nothing to match before `*` in {chunk!r}")
            continue
        for index, token in enumerate(tokens):
            last = index == len(tokens) - 1
            prefix = is_prefix and last
            if prefix and is_cjk_char(token[0]):
                raise InvalidValue(
                    f"`*` after {token!r} has no effect: Chinese, Japanese and Korean text "
                    "already matches without word boundaries"
                )
            parts.append((token, prefix))
    if not parts:
        raise InvalidValue(f"phrase {text!r} has no letters or digits to match")
    if len(parts) == 1 and parts[0][1] and len(parts[0][0]) < 3:
        raise InvalidValue(f"{text!r} would match too many words: a `*` needs 3 letters before it")
    return tuple(parts)
