"""Checks on a rule's phrases: which ones others already cover, and rules that can never match.

`PhraseCoverage` indexes a group's phrases so that finding the ones covering a phrase does not
compare every pair; past a budget of comparisons the check stops with a warning, so no rule file
can make start-up slow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain

from bot.errors import Problem, RadarError
from bot.rules.engine import Term
from bot.rules.ruleset import GroupNode, Node, PhraseNode
from bot.yamlfile import Location, YamlDoc

# Phrase alignments the coverage check may try per group before it stops with a warning.
MAX_COVER_COMPARISONS = 2_000_000

Parts = tuple[tuple[str, bool], ...]


def _part_covers(x: tuple[str, bool], y: tuple[str, bool]) -> bool:
    """Whether every word that part `y` matches is matched by part `x`."""
    if x[1]:
        return y[0].startswith(x[0])
    return not y[1] and x[0] == y[0]


class CoverageBudgetExceeded(RadarError):
    """The coverage check of one group compared more phrases than `MAX_COVER_COMPARISONS`."""


class PhraseCoverage:
    """Which phrases of a group cover another (every text the other matches contains them),
    without comparing every pair.

    Each phrase is filed under one anchor: its rarest whole word, or its first word prefix
    when it has no whole word. A phrase can only cover one in which its anchor occurs, so a
    query looks up the query's words (and each of their prefixes) and checks only the phrases
    filed there, aligned at that word. `comparisons` counts the alignments checked.
    """

    def __init__(self, phrases: Sequence[Parts], budget: int = MAX_COVER_COMPARISONS) -> None:
        self.phrases = phrases
        self.comparisons = 0
        self._budget = budget
        frequency = Counter(w for parts in phrases for w in {w for w, pre in parts if not pre})
        self._by_word: dict[str, list[tuple[int, int]]] = {}
        self._by_prefix: dict[str, list[tuple[int, int]]] = {}
        for index, parts in enumerate(phrases):
            whole = [(frequency[w], offset) for offset, (w, pre) in enumerate(parts) if not pre]
            if whole:
                offset = min(whole)[1]
                self._by_word.setdefault(parts[offset][0], []).append((index, offset))
            else:
                self._by_prefix.setdefault(parts[0][0], []).append((index, 0))

    def covering(self, parts: Parts) -> set[int]:
        """Indexes of the phrases that cover `parts` (including any equal to it)."""
        found: set[int] = set()
        for position, (word, is_prefix) in enumerate(parts):
            filed = chain(
                () if is_prefix else self._by_word.get(word, ()),
                *(self._by_prefix.get(word[:n], ()) for n in range(1, len(word) + 1)),
            )
            for index, offset in filed:
                if index not in found and self._aligned(
                    self.phrases[index], parts, position - offset
                ):
                    found.add(index)
        return found

    def _aligned(self, cover: Parts, parts: Parts, start: int) -> bool:
        self.comparisons += 1
        if self.comparisons > self._budget:
            raise CoverageBudgetExceeded
        if start < 0 or start + len(cover) > len(parts):
            return False
        return all(_part_covers(c, parts[start + i]) for i, c in enumerate(cover))


def _phrase_parts(terms: Sequence[Term], node: Node) -> Parts | None:
    return terms[node.term].parts if isinstance(node, PhraseNode) else None


def never_matches(terms: Sequence[Term], group: GroupNode) -> tuple[Location, str] | None:
    """Where and why a group can never hold: a required phrase excluded by its own `none`.

    None too when its phrases are too many and too alike to tell within the comparison budget.
    """
    banned = [p for n in group.none if (p := _phrase_parts(terms, n)) is not None]
    if not banned:
        return None
    coverage = PhraseCoverage(banned)

    def excluded(node: Node) -> bool:
        parts = _phrase_parts(terms, node)
        return parts is not None and bool(coverage.covering(parts))

    try:
        for index, node in enumerate(group.all):
            if isinstance(node, PhraseNode) and excluded(node):
                return (
                    ("all", index),
                    f"required phrase {node.display!r} is excluded by its own 'none'",
                )
        if group.any and all(excluded(n) for n in group.any):
            return ("any",), "every phrase of 'any' is excluded by its own 'none'"
    except CoverageBudgetExceeded:
        return None
    return None


def subsumed(terms: Sequence[Term], group: GroupNode, doc: YamlDoc, loc: Location) -> list[Problem]:
    """Warnings for phrases of an `any` that another phrase of it already covers."""
    warnings: list[Problem] = []
    nodes = [(i, n) for i, n in enumerate(group.any) if isinstance(n, PhraseNode)]
    coverage = PhraseCoverage([terms[n.term].parts for _, n in nodes])
    try:
        for i, node in nodes:
            others = [
                j
                for j in coverage.covering(terms[node.term].parts)
                if nodes[j][1].term != node.term
            ]
            if others:
                other = nodes[min(others)][1]
                warnings.append(
                    doc.problem(
                        (*loc, "any", i),
                        f"phrase {node.display!r} is already covered by {other.display!r}",
                        "warning",
                    )
                )
    except CoverageBudgetExceeded:
        warnings.append(
            doc.problem(
                (*loc, "any"),
                f"too many similar phrases to check which ones others cover "
                f"(stopped after {MAX_COVER_COMPARISONS:,} comparisons)",
                "warning",
            )
        )
    for name in ("all", "any", "none"):
        for index, child in enumerate(getattr(group, name)):
            if isinstance(child, GroupNode):
                warnings.extend(subsumed(terms, child, doc, (*loc, name, index)))
    return warnings
