"""The shape of rule files and `actors.yaml`, validated with pydantic and exported as JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

from bot.rules.engine import compile_pattern
from bot.rules.ruleset import DEFAULT_FIELDS

FIELDS = ("title", "summary", "content", "author", "categories", "link", "outlet")
DEFAULT_WITHIN = 8
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
FACET_PATTERN = r"^[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_-]*$"
# Union tags pydantic adds to error locations; they are not keys of the file.
ENTRY_TAGS = frozenset({"phrase", "group", "actor-list", "concept-list", "proximity"})

_STRICT = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


def _entry_kind(value: Any) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return "phrase"
    if isinstance(value, dict):
        if "actors" in value:
            return "actor-list"
        if "concepts" in value:
            return "concept-list"
        if "near" in value:
            return "proximity"
        return "group"
    return None


Phrase = Annotated[str, Field(min_length=1, description="Words to find; `*` ends a word prefix")]


class ActorsEntry(BaseModel):
    """Any of these actors (ids from actors.yaml), by any alias."""

    model_config = _STRICT
    actors: list[str] = Field(min_length=1)


class ConceptsEntry(BaseModel):
    """Any of these concepts (ids from concepts.yaml), by any of their forms."""

    model_config = _STRICT
    concepts: list[str] = Field(min_length=1)


Term = Annotated[
    Annotated[Phrase, Tag("phrase")]
    | Annotated[ActorsEntry, Tag("actor-list")]
    | Annotated[ConceptsEntry, Tag("concept-list")]
    | Annotated["NearEntry", Tag("proximity")],
    Discriminator(
        _entry_kind,
        custom_error_type="near_element",
        custom_error_message="expected a phrase, {actors: [...]}, {concepts: [...]} or {near: [...]}",
    ),
]


class AnyOfTerms(BaseModel):
    """Any of these phrases, actors or nested `near` groups, as one element of a `near`."""

    model_config = _STRICT
    any_: list[Term] = Field(alias="any", min_length=1)


NearElement = Annotated[
    Annotated[Phrase, Tag("phrase")]
    | Annotated[ActorsEntry, Tag("actor-list")]
    | Annotated[ConceptsEntry, Tag("concept-list")]
    | Annotated[AnyOfTerms, Tag("group")]
    | Annotated["NearEntry", Tag("proximity")],
    Discriminator(
        _entry_kind,
        custom_error_type="near_element",
        custom_error_message="expected a phrase, {actors: [...]}, {concepts: [...]}, {any: [...]} or {near: [...]}",
    ),
]


class NearEntry(BaseModel):
    """Holds when every element occurs within `within` words of the others, in one field."""

    model_config = _STRICT
    near: list[NearElement] = Field(min_length=2)
    within: int = Field(DEFAULT_WITHIN, ge=1, le=100)


class Group(BaseModel):
    """`all` must all hold, at least one of `any` must hold, none of `none` may appear."""

    model_config = _STRICT
    all_: list[Entry] | None = Field(None, alias="all")
    any_: list[Entry] | None = Field(None, alias="any")
    none_: list[Entry] | None = Field(None, alias="none")
    fields: list[Literal[FIELDS]] | None = Field(  # type: ignore[valid-type]
        None, description="Look only in these fields (default: the rule's)", min_length=1
    )


Entry = Annotated[
    Annotated[Phrase, Tag("phrase")]
    | Annotated[Group, Tag("group")]
    | Annotated[ActorsEntry, Tag("actor-list")]
    | Annotated[ConceptsEntry, Tag("concept-list")]
    | Annotated[NearEntry, Tag("proximity")],
    Discriminator(
        _entry_kind,
        custom_error_type="entry",
        custom_error_message="expected a phrase, a group (all/any/none), {actors: [...]}, {concepts: [...]} or {near: [...]}",
    ),
]
Group.model_rebuild()
AnyOfTerms.model_rebuild()
NearEntry.model_rebuild()


class Examples(BaseModel):
    model_config = _STRICT
    match: list[str] = []
    no_match: list[str] = []


class RuleFile(BaseModel):
    """One rule file in the rules folder."""

    model_config = _STRICT
    id: str | None = Field(None, pattern=ID_PATTERN, description="Defaults to the file name")
    title: str | None = Field(None, description="Defaults to the id")
    description: str = ""
    severity: Literal["low", "medium", "high"] = "medium"
    match: Group
    fields: list[Literal[FIELDS]] = Field(list(DEFAULT_FIELDS), min_length=1)  # type: ignore[valid-type]
    slack: list[str] = []
    telegram: bool = True
    examples: Examples = Examples()


ActorKind = Literal[
    "country",
    "region",
    "agency",
    "organisation",
    "company",
    "person",
    "event",
    "place",
    "material",
    "media",
]
ACTOR_KINDS: tuple[str, ...] = ActorKind.__args__  # type: ignore[attr-defined]


class ActorDef(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1)
    aliases: list[str] = []
    kind: ActorKind | None = Field(None, description="What the actor is; merging weighs by kind")
    country: str | None = Field(
        None, description="The country an agency acts for (its headline is that country's)"
    )
    part_of: str | None = Field(
        None, description="A wider actor it is part of (terbium: rare-earths); naming it names both"
    )


class ActorsFile(BaseModel):
    """`actors.yaml`: every actor once, with aliases in any language."""

    model_config = ConfigDict(extra="forbid")
    actors: dict[Annotated[str, Field(pattern=ID_PATTERN)], ActorDef]


def _concept_form(form: str) -> str:
    try:
        compile_pattern(form)
    except ValueError as exc:
        raise ValueError(f"form {form!r}: {exc}") from None
    return form


class ConceptDef(BaseModel):
    model_config = _STRICT
    forms: list[Annotated[str, AfterValidator(_concept_form)]] = Field(min_length=1)
    broad: bool = False
    actors: list[str] = Field([], description="Actors (actors.yaml) rules find as this concept")
    kinds: list[ActorKind] = Field(
        [], description="Every actor of these kinds counts as this concept for the rules"
    )
    facets: list[Annotated[str, Field(pattern=FACET_PATTERN)]] = Field(
        [],
        description="`facet:value`: two headlines naming different values of one facet tell "
        "different stories (goods:tools against goods:materials)",
    )
    country: str | None = Field(
        None, description="The country this concept names (a country id of actors.yaml)"
    )
    not_acting: bool = Field(
        False,
        description="Names the country, not as who acts: a destination, a target, an adjective",
    )
    restriction: bool = Field(
        False,
        description="Names a restriction: only a headline naming one can impose or lift (the "
        "direction facet)",
    )
    locates: bool = Field(
        False,
        description="Right after a country, says it is where someone is, not who acts "
        "(UAE-based firms)",
    )


class ConceptsFile(BaseModel):
    """`concepts.yaml`: what items are about, for rules and story merging, in any language."""

    model_config = ConfigDict(extra="forbid")
    concepts: dict[Annotated[str, Field(pattern=ID_PATTERN)], ConceptDef]


class LanguageDef(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    stopwords: list[str] = []
    numbers: dict[str, int] = {}
    months: dict[str, Annotated[int, Field(ge=1, le=12)]] = {}
    title_prefixes: list[str] = Field([], alias="title-prefixes")
    endings: list[str] = Field(
        [], description="Word endings a `*` is meant for (rules check warns about others)"
    )
    compounds: bool = Field(
        False, description="Words join into compounds: every word a stem begins is meant"
    )


class LanguagesFile(BaseModel):
    """`languages.yaml`: per language, the words merging needs to read headlines."""

    model_config = ConfigDict(extra="forbid")
    languages: dict[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")], LanguageDef]


RULE_KEYS = frozenset(
    {
        *RuleFile.model_fields,
        *("all", "any", "none", "near", "within", "actors", "concepts", "match", "no_match"),
    }
)


def json_schema() -> dict[str, Any]:
    """JSON Schema of a rule file, for editors (yaml-language-server) and CI."""
    schema = RuleFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Radar rule file"
    return schema
