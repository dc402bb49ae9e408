"""Compiled rules and actors: which rules an item matches, and why (or why not)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.models import Hit, Item, ItemMatches, RuleMatch
from bot.rules.engine import Occurrence, Term, TermIndex
from bot.rules.lexicon import Lexicon
from bot.types import Severity

Found = dict[int, list[Occurrence]]
DEFAULT_FIELDS = ("title", "summary")  # what a rule reads unless it says otherwise


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    kind: str | None = None
    country: str | None = None  # for an agency: the country it acts for
    part_of: str | None = None  # a wider actor: naming this one names that one too


@dataclass(frozen=True, slots=True)
class PhraseNode:
    term: int
    display: str

    def describe(self) -> str:
        return repr(self.display)


@dataclass(frozen=True, slots=True)
class ActorNode:
    """Any of these actors, by any alias; `terms` are the ids of those aliases."""

    actors: tuple[str, ...]
    terms: frozenset[int] = frozenset()

    def describe(self) -> str:
        return "actors " + "|".join(self.actors)


@dataclass(frozen=True, slots=True)
class ConceptNode:
    """Any of these concepts (`concepts.yaml`), by any form; `terms` are the ids of those forms."""

    concepts: tuple[str, ...]
    terms: frozenset[int] = frozenset()

    def describe(self) -> str:
        return "concepts " + "|".join(self.concepts)


Leaf = PhraseNode | ActorNode | ConceptNode
LEAVES = (PhraseNode, ActorNode, ConceptNode)


@dataclass(frozen=True, slots=True)
class NearNode:
    """`elements` as written; `terms` holds, per element, the ids of every phrase and actor
    alias it can be satisfied by, so finding an element's occurrences is one set operation."""

    elements: tuple[tuple[Leaf | NearNode, ...], ...]
    within: int
    terms: tuple[frozenset[int], ...] = ()

    def describe(self) -> str:
        parts = [_alternatives([m.describe() for m in element]) for element in self.elements]
        return f"near({'; '.join(parts)}; within {self.within} words)"


@dataclass(frozen=True, slots=True)
class GroupNode:
    """`fields`, when set, narrows what the group looks at ("the headline must say so")."""

    all: tuple[Node, ...] = ()
    any: tuple[Node, ...] = ()
    none: tuple[Node, ...] = ()
    fields: frozenset[str] | None = None

    def describe(self) -> str:
        parts = [f"in {'/'.join(sorted(self.fields))}"] if self.fields else []
        for name in ("all", "any", "none"):
            nodes = getattr(self, name)
            if nodes:
                parts.append(f"{name}: [{_alternatives([n.describe() for n in nodes], ', ')}]")
        return "{" + "; ".join(parts) + "}"


Node = PhraseNode | ActorNode | ConceptNode | NearNode | GroupNode
SHOWN = 6


def _alternatives(items: Sequence[str], separator: str = " or ") -> str:
    """A readable list: the first few items and how many more."""
    shown = separator.join(items[:SHOWN])
    return shown if len(items) <= SHOWN else f"{shown}{separator}… ({len(items) - SHOWN} more)"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    match: GroupNode
    path: Path
    description: str = ""
    severity: Severity = Severity.MEDIUM
    fields: tuple[str, ...] = DEFAULT_FIELDS
    slack: tuple[str, ...] = ()
    telegram: bool = True
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """A rule's verdict on an item, for `radar rules explain`."""

    rule: Rule
    matched: bool
    hits: tuple[Hit, ...]
    reason: str | None = None


class _Context:
    """Occurrences visible to one rule (its fields only)."""

    def __init__(self, found: Found, fields: Iterable[str]) -> None:
        self._found = found
        self._fields = frozenset(fields)

    def within(self, node: GroupNode) -> _Context:
        """The context of a group: only the fields it names, when it names some."""
        if node.fields is None:
            return self
        return _Context(self._found, self._fields & node.fields)

    def leaf(self, node: Leaf) -> list[Occurrence]:
        if isinstance(node, PhraseNode):
            return [o for o in self._found.get(node.term, ()) if o.field in self._fields]
        return self.occurrences(node.terms)

    def occurrences(self, terms: frozenset[int]) -> list[Occurrence]:
        found = self._found
        return [
            o for t in sorted(terms & found.keys()) for o in found[t] if o.field in self._fields
        ]


def _holds(node: Node, ctx: _Context) -> bool:
    if isinstance(node, LEAVES):
        return bool(ctx.leaf(node))
    if isinstance(node, NearNode):
        return _near(node, ctx)
    ctx = ctx.within(node)
    return (
        all(_holds(n, ctx) for n in node.all)
        and (not node.any or any(_holds(n, ctx) for n in node.any))
        and not any(_holds(n, ctx) for n in node.none)
    )


def _near(node: NearNode, ctx: _Context) -> bool:
    return bool(_windows(node, ctx))


def _events(member: Leaf | NearNode, ctx: _Context) -> list[tuple[str, float]]:
    if isinstance(member, NearNode):
        return _windows(member, ctx)
    return [(o.field, o.position) for o in ctx.leaf(member)]


def _windows(node: NearNode, ctx: _Context) -> list[tuple[str, float]]:
    """(field, first position) of every span where all elements occur within `within` words."""
    events: list[tuple[str, float, int]] = []
    for index, element in enumerate(node.elements):
        events.extend((o.field, o.position, index) for o in ctx.occurrences(node.terms[index]))
        for member in element:
            if isinstance(member, NearNode):
                events.extend((f, p, index) for f, p in _windows(member, ctx))
    if len({index for _, _, index in events}) < len(node.elements):
        return []
    events.sort()
    needed = len(node.elements)
    counts = [0] * needed
    covered = 0
    left = 0
    found: list[tuple[str, float]] = []
    for field_name, position, index in events:
        if counts[index] == 0:
            covered += 1
        counts[index] += 1
        while events[left][0] != field_name or position - events[left][1] > node.within:
            counts[events[left][2]] -= 1
            if counts[events[left][2]] == 0:
                covered -= 1
            left += 1
        if covered == needed:
            found.append((field_name, events[left][1]))
    return found


def _why_not(node: GroupNode, ctx: _Context, path: str) -> str | None:
    """The first requirement of a group that fails, in words; None when the group holds."""
    ctx = ctx.within(node)
    for index, child in enumerate(node.all):
        if not _holds(child, ctx):
            where = f"{path}all[{index}]"
            if isinstance(child, GroupNode):
                return _why_not(child, ctx, f"{where}.") or f"{where} failed"
            if isinstance(child, NearNode):
                return f"{where}: {_near_failure(child, ctx)}"
            return f"{where}: {child.describe()} not found"
    if node.any and not any(_holds(n, ctx) for n in node.any):
        shown = _alternatives([n.describe() for n in node.any], ", ")
        return f"{path}any: none of [{shown}] found"
    for child in node.none:
        if _holds(child, ctx):
            words = ", ".join(f"{o.text!r} in {o.field}" for o in _positive(child, ctx))
            return f"{path}none: {child.describe()} found ({words})"
    return None


def _near_failure(node: NearNode, ctx: _Context) -> str:
    """Which elements of a `near` group were missing, or that they were too far apart."""
    missing = []
    found = []
    for index, element in enumerate(node.elements):
        events = [e for member in element for e in _events(member, ctx)]
        texts = [o.text for member in element for o in _positive(member, ctx)]
        if events:
            found.append(f"element {index + 1} ({', '.join(dict.fromkeys(texts))})")
        else:
            missing.append(
                f"element {index + 1}: none of [{_alternatives([m.describe() for m in element], ', ')}] found"
            )
    if missing:
        return "; ".join(missing)
    return f"{' and '.join(found)} found, but not within {node.within} words of each other in one field"


def _positive(node: Node, ctx: _Context) -> list[Occurrence]:
    """Occurrences of the terms that make a node hold (never those under `none`)."""
    if isinstance(node, LEAVES):
        return ctx.leaf(node)
    if isinstance(node, NearNode):
        return [
            o for element in node.elements for member in element for o in _positive(member, ctx)
        ]
    found: list[Occurrence] = []
    ctx = ctx.within(node)
    for child in (*node.all, *node.any):
        if _holds(child, ctx):
            found.extend(_positive(child, ctx))
    return found


def positive_leaves(node: Node) -> Iterable[Leaf]:
    """Every phrase and actor leaf a node can be satisfied by (not those under `none`)."""
    if isinstance(node, LEAVES):
        yield node
    elif isinstance(node, NearNode):
        for element in node.elements:
            for member in element:
                yield from positive_leaves(member)
    else:
        for child in (*node.all, *node.any):
            yield from positive_leaves(child)


@dataclass(slots=True)
class RuleSet:
    """Rules compiled into one term index; `match` returns what an item matches."""

    rules: tuple[Rule, ...]
    actors: dict[str, Actor]
    terms: tuple[Term, ...]
    actor_terms: dict[str, tuple[int, ...]]
    lexicon: Lexicon = field(default_factory=Lexicon)
    index: TermIndex = field(init=False)
    _rules_by_term: dict[int, list[int]] = field(init=False)
    _fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.index = TermIndex(self.terms)
        self._rules_by_term = {}
        for position, rule in enumerate(self.rules):
            for term_id in self._triggers(rule.match):
                self._rules_by_term.setdefault(term_id, []).append(position)
        fields = {"title", "summary"}
        for rule in self.rules:
            fields.update(rule.fields)
        self._fields = tuple(sorted(fields))

    def _triggers(self, node: Node) -> frozenset[int]:
        """Terms of which at least one must be found for `node` to hold, as few as possible:
        a rule is only evaluated for items holding one of its triggers."""
        if isinstance(node, PhraseNode):
            return frozenset({node.term})
        if isinstance(node, ActorNode | ConceptNode):
            return node.terms
        if isinstance(node, NearNode):
            options = [
                frozenset().union(*(self._triggers(m) for m in element))
                for element in node.elements
            ]
            return min(options, key=len)
        if node.all:
            return min((self._triggers(child) for child in node.all), key=len)
        return frozenset().union(*(self._triggers(child) for child in node.any))

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def topics(self) -> tuple[Rule, ...]:
        """Rules that Telegram chats can subscribe to."""
        return tuple(r for r in self.rules if r.telegram)

    def scan(self, item: Item) -> Found:
        found: Found = {}
        for name in self._fields:
            text = item.field_text(name)
            if text:
                for term_id, occurrences in self.index.scan(name, text).items():
                    found.setdefault(term_id, []).extend(occurrences)
        return found

    def match(self, item: Item) -> ItemMatches:
        found = self.scan(item)
        candidates = sorted({r for t in found for r in self._rules_by_term.get(t, ())})
        matches = []
        for position in candidates:
            rule = self.rules[position]
            ctx = _Context(found, rule.fields)
            if _holds(rule.match, ctx):
                matches.append(RuleMatch(rule.id, self._hits(_positive(rule.match, ctx))))
        return ItemMatches(
            rules=tuple(matches),
            actors=self._actors_in(found, ("title", "summary")),
            title_actors=self._actors_in(found, ("title",)),
        )

    def explain(self, item: Item) -> list[RuleVerdict]:
        found = self.scan(item)
        verdicts = []
        for rule in self.rules:
            ctx = _Context(found, rule.fields)
            reason = _why_not(rule.match, ctx, "")
            hits = self._hits(_positive(rule.match, ctx))
            verdicts.append(RuleVerdict(rule, reason is None, hits, reason))
        return verdicts

    def _actors_in(self, found: Found, fields: tuple[str, ...]) -> frozenset[str]:
        """Actors named in these fields, with the wider actors they are part of (an agency's
        country too). A name inside
        a longer one names only the longer one's actor ("Korea" in "North Korea")."""
        spans = [
            (o.field, o.start, o.end, term.actor)
            for term_id in found
            if (term := self.terms[term_id]).actor is not None
            for o in found[term_id]
            if o.field in fields
        ]
        named = {
            actor
            for field, start, end, actor in spans
            if not any(
                f == field and s <= start and end <= e and (e - s) > (end - start) and a != actor
                for f, s, e, a in spans
            )
        }
        for start in list(named):
            wider = self._wider(start)
            while wider is not None and wider not in named:
                named.add(wider)
                wider = self._wider(wider)
        return frozenset(named)

    def _wider(self, actor_id: str) -> str | None:
        """What naming this actor names too: what it is part of, or an agency's country."""
        actor = self.actors[actor_id]
        return actor.part_of or actor.country

    def _hits(self, occurrences: Iterable[Occurrence]) -> tuple[Hit, ...]:
        seen: dict[tuple[str, str, str], Hit] = {}
        by_id = {id(o): o for o in occurrences}
        for occurrence in sorted(by_id.values(), key=lambda o: (o.field != "title", o.start)):
            term = self.terms[occurrence.term]
            if term.actor is not None:
                display, kind = self.actors[term.actor].name, "actor"
            elif term.concept is not None:
                display, kind = term.concept, "concept"
            else:
                display, kind = term.display, "phrase"
            key = (display, occurrence.field, occurrence.text)
            seen.setdefault(key, Hit(display, occurrence.field, occurrence.text, kind))
        return tuple(seen.values())
