"""The shared vocabulary of the rules folder: `actors.yaml`, `concepts.yaml`, `languages.yaml`.

Rules name actors and concepts; merging reads headlines with the same concepts, the countries
they and the actors name, and the words of `languages.yaml`. Every problem names its file and
line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import pydantic

from bot.errors import ConfigError, Problem
from bot.rules.engine import Term
from bot.rules.lexicon import Lexicon, Wording
from bot.rules.ruleset import Actor
from bot.rules.schema import ActorsFile, ConceptsFile, LanguagesFile
from bot.text import fold
from bot.yamlfile import YamlDoc, load_yaml, validation_problems

COUNTRY_KINDS = frozenset({"country", "region"})
M = TypeVar("M", bound=pydantic.BaseModel)


def is_short_code(alias: str) -> bool:
    """Short upper-case names ("BIS", "UN", "G7", "AI") match only as written."""
    compact = alias.replace(" ", "").replace(".", "")
    return compact.isascii() and compact.isupper() and len(compact) <= 5


def _read(
    path: Path, model: type[M], empty: dict[str, object], known: frozenset[str]
) -> tuple[M, YamlDoc]:
    doc = load_yaml(path)
    try:
        return model.model_validate(doc.data if doc.data is not None else empty), doc
    except pydantic.ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, known=known)) from exc


def load_actors(path: Path) -> tuple[dict[str, Actor], YamlDoc | None]:
    if not path.exists():
        return {}, None
    known = frozenset({"actors", "name", "aliases", "kind", "country", "part_of"})
    parsed, doc = _read(path, ActorsFile, {"actors": {}}, known)
    actors = {
        actor_id: Actor(actor_id, d.name, tuple(d.aliases), d.kind, d.country, d.part_of)
        for actor_id, d in parsed.actors.items()
    }
    problems = [
        doc.problem(
            ("actors", actor.id, "country"),
            f"country {actor.country!r} of {actor.id!r} is not a country of actors.yaml",
        )
        for actor in actors.values()
        if actor.country is not None
        and (actor.country not in actors or actors[actor.country].kind not in COUNTRY_KINDS)
    ]
    problems.extend(
        doc.problem(
            ("actors", actor.id, "part_of"),
            f"part_of {actor.part_of!r} of {actor.id!r} is not an actor of actors.yaml",
        )
        for actor in actors.values()
        if actor.part_of is not None and (actor.part_of not in actors or actor.part_of == actor.id)
    )
    if problems:
        raise ConfigError(problems)
    return actors, doc


@dataclass(frozen=True, slots=True)
class Concepts:
    """`concepts.yaml` as read: forms by concept, and the document (for problems' lines)."""

    forms: dict[str, tuple[str, ...]]
    doc: YamlDoc | None
    broad: frozenset[str] = frozenset()
    actors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    facets: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    countries: Mapping[str, str] = field(default_factory=dict)  # a concept naming a country
    not_acting: frozenset[str] = frozenset()
    restrictions: frozenset[str] = frozenset()
    locating: frozenset[str] = frozenset()


def read_concepts(path: Path, actors: Mapping[str, Actor]) -> Concepts:
    if not path.exists():
        return Concepts({}, None)
    known = frozenset(
        {
            *("concepts", "forms", "broad", "actors", "kinds", "facets", "country"),
            *("not_acting", "restriction", "locates"),
        }
    )
    parsed, doc = _read(path, ConceptsFile, {"concepts": {}}, known)
    concepts = parsed.concepts
    problems: list[Problem] = []
    countries: dict[str, str] = {}
    for concept, d in concepts.items():
        country = d.country or (concept if concept in actors else None)
        if country is None:
            continue
        if country not in actors or actors[country].kind not in COUNTRY_KINDS:
            if d.country is not None:
                problems.append(
                    doc.problem(
                        ("concepts", concept, "country"),
                        f"country {country!r} is not a country of actors.yaml",
                    )
                )
            continue
        countries[concept] = country
    if problems:
        raise ConfigError(problems)
    return Concepts(
        {c: tuple(d.forms) for c, d in concepts.items()},
        doc,
        frozenset(c for c, d in concepts.items() if d.broad),
        {c: tuple(d.actors) for c, d in concepts.items() if d.actors},
        {c: frozenset(d.kinds) for c, d in concepts.items() if d.kinds},
        MappingProxyType(
            {
                c: tuple((f.split(":", 1)[0], f.split(":", 1)[1]) for f in d.facets)
                for c, d in concepts.items()
                if d.facets
            }
        ),
        MappingProxyType(countries),
        frozenset(c for c, d in concepts.items() if d.not_acting),
        frozenset(c for c, d in concepts.items() if d.restriction),
        frozenset(c for c, d in concepts.items() if d.locates),
    )


def read_languages(path: Path) -> Wording:
    """`languages.yaml`, all languages together (merging reads any of them)."""
    if not path.exists():
        return Wording()
    known = frozenset(
        {"languages", "stopwords", "numbers", "months", "title-prefixes", "endings", "compounds"}
    )
    parsed, _ = _read(path, LanguagesFile, {"languages": {}}, known)
    stopwords: set[str] = set()
    numbers: dict[str, str] = {}
    months: dict[str, int] = {}
    prefixes: set[str] = set()
    endings = {
        code: frozenset(fold(w) for w in language.endings)
        for code, language in parsed.languages.items()
        if not language.compounds
    }
    for language in parsed.languages.values():
        stopwords.update(fold(w) for w in language.stopwords)
        numbers.update((fold(w), str(n)) for w, n in language.numbers.items())
        months.update((fold(w), n) for w, n in language.months.items())
        prefixes.update(fold(w) for w in language.title_prefixes)
    return Wording(
        frozenset(stopwords),
        MappingProxyType(numbers),
        MappingProxyType(months),
        frozenset(prefixes),
        MappingProxyType(endings),
    )


def build_lexicon(
    concepts: Concepts,
    actors: Mapping[str, Actor],
    terms: Sequence[Term],
    actor_terms: Mapping[str, Sequence[int]],
    wording: Wording,
) -> Lexicon:
    """Merging's vocabulary: the concepts' compiled forms, plus the aliases of every country
    (found as the concept of that country) and of every agency that acts for one."""
    named = dict(concepts.countries)
    extra: list[Term] = []
    next_id = len(terms)
    for actor in sorted(actors.values(), key=lambda a: a.id):
        country = actor.id if actor.kind in COUNTRY_KINDS else actor.country
        if country is None:
            continue
        named.setdefault(country, country)
        for term_id in actor_terms.get(actor.id, ()):
            term = terms[term_id]
            extra.append(
                Term(next_id, term.display, term.parts, term.case_sensitive, concept=country)
            )
            next_id += 1
    return Lexicon(
        (*terms, *extra),
        concepts.broad,
        MappingProxyType(named),
        concepts.not_acting,
        concepts.facets,
        wording,
        concepts.restrictions,
        concepts.locating,
    )
