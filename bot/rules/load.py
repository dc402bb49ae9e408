"""Reading the rules folder: `actors.yaml`, `concepts.yaml` and one rule per `*.yaml` file.

Every problem names its file and line. Errors reject the rule set (a typo must never silently
disable a rule); warnings are reported by `radar rules check` and do not stop Radar.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from bot.errors import ConfigError, InvalidValue, Problem
from bot.rules.coverage import Parts, never_matches, subsumed
from bot.rules.engine import Term, compile_pattern, compile_phrase
from bot.rules.ruleset import (
    Actor,
    ActorNode,
    ConceptNode,
    GroupNode,
    Leaf,
    NearNode,
    Node,
    PhraseNode,
    Rule,
    RuleSet,
    positive_leaves,
)
from bot.rules.schema import (
    ENTRY_TAGS,
    ID_PATTERN,
    RULE_KEYS,
    ActorsEntry,
    AnyOfTerms,
    ConceptsEntry,
    Group,
    NearEntry,
    RuleFile,
)
from bot.rules.vocabulary import (
    Concepts,
    build_lexicon,
    is_short_code,
    load_actors,
    read_concepts,
    read_languages,
)
from bot.rules.wildcards import Wildcard
from bot.text import tokenize
from bot.types import Severity
from bot.yamlfile import Location, YamlDoc, load_yaml, validation_problems

MAX_PHRASE_WORDS = 30
MAX_SHOWN_CHARS = 80  # of a phrase quoted in a problem
NOT_RULES = frozenset(
    f"{name}.{ext}"
    for name in ("feeds", "actors", "concepts", "languages")
    for ext in ("yaml", "yml")
)


@dataclass(frozen=True, slots=True)
class LoadedRules:
    ruleset: RuleSet
    warnings: tuple[Problem, ...]
    wildcards: tuple[Wildcard, ...] = ()  # word prefixes written, for `rules check`


def rule_files(folder: Path, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Rule files of a folder: every `*.yaml`/`*.yml` but the feeds and actors files."""
    excluded = {p.resolve() for p in exclude}
    return sorted(
        p
        for p in (*folder.glob("*.yaml"), *folder.glob("*.yml"))
        if p.name not in NOT_RULES and p.resolve() not in excluded and p.is_file()
    )


def _shown(text: str) -> str:
    """A phrase as quoted in a problem, cut short when it is long."""
    return repr(text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…")


def _bounded(parts: tuple[tuple[str, bool], ...]) -> tuple[tuple[str, bool], ...]:
    if len(parts) > MAX_PHRASE_WORDS:
        raise InvalidValue(
            f"it has {len(parts)} words, more than the {MAX_PHRASE_WORDS} a phrase may have "
            "(in Chinese, Japanese and Korean each character counts as a word)"
        )
    return parts


def _compiled(text: str) -> tuple[tuple[str, bool], ...]:
    """A phrase's parts, refused when it has more words than `MAX_PHRASE_WORDS`."""
    if len(text.split()) > MAX_PHRASE_WORDS:  # before compiling: a huge phrase costs memory
        return _bounded(tuple((word, False) for word in text.split()))
    return _bounded(compile_phrase(text))


class _Compiler:
    """Builds terms (shared between rules) and rule trees, collecting problems."""

    def __init__(self, actors: dict[str, Actor], concepts: Concepts | None = None) -> None:
        self.actors = actors
        self.concepts = concepts or Concepts({}, None)
        self.concept_terms: dict[str, frozenset[int]] = {}
        self.terms: list[Term] = []
        self._phrases: dict[tuple[tuple[tuple[str, bool], ...], bool], int] = {}
        self.actor_terms: dict[str, tuple[int, ...]] = {}
        self.problems: list[Problem] = []
        self.wildcards: list[Wildcard] = []
        self.alias_owner: dict[tuple[tuple[str, bool], ...], str] = {}

    def add_actor_terms(self, doc: YamlDoc | None) -> None:
        for actor in self.actors.values():
            ids: list[int] = []
            for index, alias in enumerate((actor.name, *actor.aliases)):
                loc: Location = (
                    ("actors", actor.id, "aliases", index - 1)
                    if index
                    else ("actors", actor.id, "name")
                )
                case_sensitive = is_short_code(alias)
                try:
                    parts = (
                        _bounded(tuple((t, False) for t in tokenize(alias).cased))
                        if case_sensitive
                        else _compiled(alias.replace("*", ""))
                    )
                except ValueError as exc:
                    if doc is not None:
                        self.problems.append(doc.problem(loc, f"alias {_shown(alias)}: {exc}"))
                    continue
                owner = self.alias_owner.setdefault(parts, actor.id)
                if owner != actor.id and doc is not None:
                    self.problems.append(
                        doc.problem(
                            loc,
                            f"alias {alias!r} of {actor.id!r} is also an alias of {owner!r}",
                            "warning",
                        )
                    )
                term = Term(len(self.terms), alias, parts, case_sensitive, actor.id)
                self.terms.append(term)
                ids.append(term.id)
            self.actor_terms[actor.id] = tuple(ids)

    def phrase(self, text: str, doc: YamlDoc, loc: Location) -> PhraseNode | None:
        try:
            parts = _compiled(text)
        except ValueError as exc:
            self.problems.append(doc.problem(loc, f"phrase {_shown(text)}: {exc}"))
            return None
        self._note_wildcards(parts, text, doc, loc)
        key = (parts, False)
        term_id = self._phrases.get(key)
        if term_id is None:
            term_id = self._phrases[key] = len(self.terms)
            self.terms.append(Term(term_id, text, parts))
        return PhraseNode(term_id, text)

    def _note_wildcards(self, parts: Parts, text: str, doc: YamlDoc, loc: Location) -> None:
        for word, is_prefix in parts:
            if is_prefix and word.isalpha() and word.isascii():
                self.wildcards.append(Wildcard(word, text, doc, loc))

    def actor_node(self, entry: ActorsEntry, doc: YamlDoc, loc: Location) -> ActorNode | None:
        ok = True
        for index, actor_id in enumerate(entry.actors):
            if actor_id not in self.actors:
                close = difflib.get_close_matches(actor_id, sorted(self.actors), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problems.append(
                    doc.problem(
                        (*loc, "actors", index),
                        f"unknown actor {actor_id!r}: not defined in actors.yaml{hint}",
                    )
                )
                ok = False
        if not ok:
            return None
        terms = frozenset(t for a in entry.actors for t in self.actor_terms.get(a, ()))
        return ActorNode(tuple(entry.actors), terms)

    def concept_node(self, entry: ConceptsEntry, doc: YamlDoc, loc: Location) -> ConceptNode | None:
        ok = True
        for index, concept in enumerate(entry.concepts):
            if concept not in self.concepts.forms:
                close = difflib.get_close_matches(concept, sorted(self.concepts.forms), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problems.append(
                    doc.problem(
                        (*loc, "concepts", index),
                        f"unknown concept {concept!r}: not defined in concepts.yaml{hint}",
                    )
                )
                ok = False
        if not ok:
            return None
        terms = frozenset(t for c in entry.concepts for t in self.concept_node_terms(c))
        return ConceptNode(tuple(entry.concepts), terms)

    def concept_node_terms(self, concept: str) -> frozenset[int]:
        """The terms of a concept's forms, compiled when a rule first names it."""
        if (known := self.concept_terms.get(concept)) is not None:
            return known
        ids: list[int] = []
        doc = self.concepts.doc
        for index, form in enumerate(self.concepts.forms[concept]):
            case_sensitive = is_short_code(form)
            try:
                parts, lead = (
                    (tuple((t, False) for t in tokenize(form).cased), False)
                    if case_sensitive
                    else compile_pattern(form)
                )
            except ValueError as exc:
                if doc is not None:
                    self.problems.append(
                        doc.problem(("concepts", concept, "forms", index), f"form {form!r}: {exc}")
                    )
                continue
            if doc is not None and not lead:
                self._note_wildcards(parts, form, doc, ("concepts", concept, "forms", index))
            term = Term(len(self.terms), form, parts, case_sensitive, concept=concept, lead=lead)
            self.terms.append(term)
            ids.append(term.id)
        if concept in self.actors:  # a concept named after an actor finds its aliases too
            ids.extend(self.actor_terms.get(concept, ()))
        kinds = self.concepts.kinds.get(concept, frozenset())
        for actor in sorted(a.id for a in self.actors.values() if a.kind in kinds):
            ids.extend(self.actor_terms.get(actor, ()))
        for index, actor in enumerate(self.concepts.actors.get(concept, ())):
            if actor in self.actor_terms:
                ids.extend(self.actor_terms[actor])
            elif doc is not None:
                close = difflib.get_close_matches(actor, sorted(self.actors), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problems.append(
                    doc.problem(
                        ("concepts", concept, "actors", index),
                        f"unknown actor {actor!r}: not defined in actors.yaml{hint}",
                    )
                )
        self.concept_terms[concept] = frozenset(ids)
        return self.concept_terms[concept]

    def group(self, group: Group, doc: YamlDoc, loc: Location) -> GroupNode | None:
        parts: dict[str, tuple[Node, ...]] = {}
        ok = True
        for name, entries in (("all", group.all_), ("any", group.any_), ("none", group.none_)):
            nodes: list[Node] = []
            for index, entry in enumerate(entries or ()):
                node = self.entry(entry, doc, (*loc, name, index))
                if node is None:
                    ok = False
                else:
                    nodes.append(node)
            if entries is not None and not entries:
                self.problems.append(doc.problem((*loc, name), f"'{name}' is empty"))
                ok = False
            parts[name] = tuple(nodes)
        if ok and not parts["all"] and not parts["any"]:
            self.problems.append(
                doc.problem(
                    loc,
                    "group has nothing to find: it needs 'all' or 'any' (a group of only 'none' would match everything)",
                )
            )
            ok = False
        if not ok:
            return None
        fields = frozenset(group.fields) if group.fields is not None else None
        return GroupNode(parts["all"], parts["any"], parts["none"], fields)

    def entry(self, entry: Any, doc: YamlDoc, loc: Location) -> Node | None:
        if isinstance(entry, str):
            return self.phrase(entry, doc, loc)
        if isinstance(entry, ActorsEntry):
            return self.actor_node(entry, doc, loc)
        if isinstance(entry, ConceptsEntry):
            return self.concept_node(entry, doc, loc)
        if isinstance(entry, NearEntry):
            return self.near(entry, doc, loc)
        return self.group(entry, doc, loc)

    def near(self, entry: NearEntry, doc: YamlDoc, loc: Location) -> NearNode | None:
        elements: list[tuple[Leaf | NearNode, ...]] = []
        ok = True
        for index, element in enumerate(entry.near):
            eloc = (*loc, "near", index)
            members: list[tuple[Any, Location]] = (
                [(m, (*eloc, "any", i)) for i, m in enumerate(element.any_)]
                if isinstance(element, AnyOfTerms)
                else [(element, eloc)]
            )
            compiled: list[Leaf | NearNode] = []
            for member, mloc in members:
                node: Leaf | NearNode | None
                if isinstance(member, str):
                    node = self.phrase(member, doc, mloc)
                elif isinstance(member, ActorsEntry):
                    node = self.actor_node(member, doc, mloc)
                elif isinstance(member, ConceptsEntry):
                    node = self.concept_node(member, doc, mloc)
                else:
                    node = self.near(member, doc, mloc)
                if node is None:
                    ok = False
                else:
                    compiled.append(node)
            elements.append(tuple(compiled))
        if not ok:
            return None
        terms = tuple(
            frozenset(
                term
                for member in element
                if not isinstance(member, NearNode)
                for term in ((member.term,) if isinstance(member, PhraseNode) else member.terms)
            )
            for element in elements
        )
        return NearNode(tuple(elements), entry.within, terms)


def load_rules(folder: Path, *, exclude: tuple[Path, ...] = ()) -> LoadedRules:
    """Load and compile the rules folder; raise ConfigError with every error found."""
    if not folder.is_dir():
        raise ConfigError([Problem(folder, None, "rules folder does not exist")])
    actors, actors_doc = load_actors(folder / "actors.yaml")
    concepts = read_concepts(folder / "concepts.yaml", actors)
    wording = read_languages(folder / "languages.yaml")
    compiler = _Compiler(actors, concepts)
    compiler.add_actor_terms(actors_doc)
    for concept in concepts.forms:
        compiler.concept_node_terms(concept)
    rules: list[Rule] = []
    warnings: list[Problem] = []
    first_seen: dict[str, Path] = {}
    files = rule_files(folder, exclude)
    for path in files:
        try:
            doc = load_yaml(path)
        except ConfigError as exc:
            compiler.problems.extend(exc.problems)
            continue
        if not isinstance(doc.data, dict):
            compiler.problems.append(
                Problem(path, 1, "a rule file must be a mapping with at least 'match'")
            )
            continue
        try:
            parsed = RuleFile.model_validate(doc.data)
        except pydantic.ValidationError as exc:
            compiler.problems.extend(
                validation_problems(doc, exc, hidden=ENTRY_TAGS, known=RULE_KEYS)
            )
            continue
        rule_id = parsed.id or path.stem
        if parsed.id is None and not _valid_id(rule_id):
            compiler.problems.append(
                Problem(
                    path,
                    1,
                    f"file name {path.stem!r} is not a valid rule id: set 'id' (lower-case letters, digits, - and _)",
                )
            )
            continue
        if rule_id in first_seen:
            compiler.problems.append(
                doc.problem(("id",), f"rule id {rule_id!r} is also used by {first_seen[rule_id]}")
            )
            continue
        first_seen[rule_id] = path
        before = len(compiler.problems)
        group = compiler.group(parsed.match, doc, ("match",))
        if group is None or len(compiler.problems) > before:
            continue
        if (never := never_matches(compiler.terms, group)) is not None:
            where, why = never
            compiler.problems.append(doc.problem(("match", *where), f"rule can never match: {why}"))
            continue
        warnings.extend(subsumed(compiler.terms, group, doc, ("match",)))
        if not any(True for _ in positive_leaves(group)):
            compiler.problems.append(doc.problem(("match",), "rule has nothing to find"))
            continue
        rules.append(
            Rule(
                id=rule_id,
                title=parsed.title or rule_id,
                match=group,
                path=path,
                description=parsed.description,
                severity=Severity(parsed.severity),
                fields=tuple(parsed.fields),
                slack=tuple(parsed.slack),
                telegram=parsed.telegram,
                examples_match=tuple(parsed.examples.match),
                examples_no_match=tuple(parsed.examples.no_match),
            )
        )
    if not files:
        compiler.problems.append(
            Problem(
                folder,
                None,
                "no rule files: nothing could alert, and every item polled would be recorded as "
                "seen (so it would never alert once rules arrive)",
            )
        )
    errors = [p for p in compiler.problems if p.severity == "error"]
    warnings.extend(p for p in compiler.problems if p.severity != "error")
    if errors:
        raise ConfigError([*errors, *warnings])
    ruleset = RuleSet(
        tuple(rules),
        actors,
        tuple(compiler.terms),
        compiler.actor_terms,
        build_lexicon(concepts, actors, compiler.terms, compiler.actor_terms, wording),
    )
    return LoadedRules(ruleset, tuple(warnings), tuple(compiler.wildcards))


def _valid_id(text: str) -> bool:
    return re.fullmatch(ID_PATTERN, text) is not None
