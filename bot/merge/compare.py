"""Comparing an item with a story's items: evidence for, contradictions against, wording.

Evidence for: actors (weighed by kind), numbers, product codes, dates. Against: different
numbers in the headlines, different companies, events or places, different values of a facet
(tools against materials, approval against reporting), another government acting, and a
restriction lifted against one imposed (a veto).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from bot.merge.evidence import Conflict, Evidence, Layer
from bot.merge.features import Features, Member
from bot.merge.language import same_language
from bot.merge.params import PARAMS, MergeParams
from bot.rules.lexicon import EMPTY, Lexicon

Kinds = Mapping[str, str | None]
NO_KINDS: Kinds = MappingProxyType({})
Conflicts = dict[Conflict, tuple[tuple[str, ...], tuple[str, ...]]]


def comparable(a: Features, b: Features) -> bool:
    return same_language(a.cjk, a.language, b.cjk, b.language)


def actor_weight(actor: str, kinds: Kinds, params: MergeParams = PARAMS) -> float:
    return params.kind_weights.get(kinds.get(actor) or "", params.strong_weight)


def _kind(actor: str, kinds: Kinds) -> str:
    return kinds.get(actor) or "company"  # an actor of no kind is a company


def _rivals(
    a: frozenset[str], b: frozenset[str], kinds: Kinds, params: MergeParams
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Actors of one rival group of kinds on both sides, none of them shared (two companies,
    two summits, two materials)."""
    for group in params.rival_kinds:
        same_a = frozenset(x for x in a if _kind(x, kinds) in group)
        same_b = frozenset(x for x in b if _kind(x, kinds) in group)
        if same_a and same_b and not same_a & same_b:
            return tuple(sorted(same_a)), tuple(sorted(same_b))
    return None


def shared_evidence(
    a: Features, b: Features, kinds: Kinds, params: MergeParams = PARAMS
) -> tuple[float, Evidence]:
    """Points for what two items share that matters, and what it was."""
    points = 0.0
    actors = a.actors & b.actors
    points += sum(actor_weight(x, kinds, params) for x in actors)
    numbers = a.numbers & b.numbers
    points += sum(
        params.number_weight if len(n) > 1 else params.small_number_weight for n in numbers
    )
    codes = a.codes & b.codes
    points += params.code_weight * len(codes)
    dates = a.dates & b.dates
    points += params.date_weight * len(dates)
    evidence = Evidence(
        actors=tuple(sorted(actors)),
        numbers=tuple(sorted(numbers)),
        codes=tuple(sorted(codes)),
        dates=tuple(sorted(dates)),
    )
    return min(points, params.evidence_cap), evidence


def specific_count(evidence: Evidence, kinds: Kinds, params: MergeParams = PARAMS) -> int:
    """How many pieces of evidence name something specific: companies, people, places,
    events (not countries, agencies or organisations, which are in many stories), numbers,
    codes, dates."""
    return (
        sum(1 for x in evidence.actors if (kinds.get(x) or "") not in params.unspecific_kinds)
        + len(evidence.codes)
        + len(evidence.dates)
        + sum(1 for n in evidence.numbers if len(n) > 1)
    )


def contradictions(
    a: Features,
    b: Features,
    kinds: Kinds,
    lexicon: Lexicon = EMPTY,
    params: MergeParams = PARAMS,
) -> tuple[float, Conflicts, bool]:
    """Points against, what contradicts, and whether one of them is a veto (opposite actions,
    another government acting)."""
    found: Conflicts = {}
    points = 0.0
    veto = False
    if (
        a.cjk == b.cjk  # across scripts, units differ (55亿 is 5.5 billion)
        and a.title_numbers
        and b.title_numbers
        and not (a.title_numbers & b.numbers or b.title_numbers & a.numbers)
    ):
        points += params.title_number_conflict
        found[Conflict.NUMBERS] = (tuple(sorted(a.title_numbers)), tuple(sorted(b.title_numbers)))
    # To impose or lift is to impose or lift a restriction: one of the headlines must name one.
    restricted = lexicon.names_restriction(a.title_concepts | b.title_concepts)
    leave_out = () if restricted else params.restriction_facets
    facets_a = lexicon.facet_values(
        a.title_concepts, leave_out=leave_out + (() if a.subjects else params.subject_facets)
    )
    facets_b = lexicon.facet_values(
        b.title_concepts, leave_out=leave_out + (() if b.subjects else params.subject_facets)
    )
    for facet, value in params.facet_defaults:
        facets_a.setdefault(facet, frozenset({value}))
        facets_b.setdefault(facet, frozenset({value}))
    for facet in sorted(facets_a.keys() & facets_b.keys()):
        if facets_a[facet] & facets_b[facet]:
            continue
        values = (tuple(sorted(facets_a[facet])), tuple(sorted(facets_b[facet])))
        if facet in params.veto_facets:
            found[Conflict.DIRECTION] = values
            points += params.veto
            veto = True
        else:
            found.setdefault(Conflict.FACET, ((), ()))
            old_a, old_b = found[Conflict.FACET]
            found[Conflict.FACET] = (
                (*old_a, *(f"{facet}:{v}" for v in values[0])),
                (*old_b, *(f"{facet}:{v}" for v in values[1])),
            )
            points += params.facet_conflict
    if a.subjects and b.subjects and not a.subjects & b.subjects:
        found[Conflict.SUBJECTS] = (tuple(sorted(a.subjects)), tuple(sorted(b.subjects)))
        points += params.facet_conflict
        veto = True
    if a.subjects & b.subjects:  # one government acting: on the same countries?
        targets_a, targets_b = _targets(a, lexicon), _targets(b, lexicon)
        if targets_a and targets_b and not targets_a & targets_b:
            found[Conflict.TARGETS] = (tuple(sorted(targets_a)), tuple(sorted(targets_b)))
            points += params.target_conflict
            veto = True
    if (rivals := _rivals(a.title_actors, b.title_actors, kinds, params)) is not None:
        # the headlines are about different companies, summits, materials: a veto
        points += params.facet_conflict
        found[Conflict.ACTORS] = rivals
        veto = True
    elif (rivals := _rivals(a.actors, b.actors, kinds, params)) is not None:
        points += params.actor_conflict
        found[Conflict.ACTORS] = rivals
    return points, found, veto


def _named(f: Features, lexicon: Lexicon) -> frozenset[str]:
    """Every country a headline names, acting or not."""
    return frozenset(lexicon.countries[c] for c in f.title_concepts if c in lexicon.countries)


def _targets(f: Features, lexicon: Lexicon) -> frozenset[str]:
    """The countries a headline names that do not act in it: where a measure lands, whose
    firms it lists, where someone must not travel."""
    return _named(f, lexicon) - f.subjects


def same_actor(a: Features, b: Features, lexicon: Lexicon) -> bool:
    """Both headlines tell of one government acting: the same country leads both, or one
    names no government acting and names the one the other leads with ("Russian officials
    told to hand in passports" beside "Russia tightens foreign travel for officials")."""
    if a.subjects or b.subjects:
        if a.subjects & b.subjects:
            return True
        lone, other = (a, b) if not a.subjects else (b, a)
        return not lone.subjects and other.subjects <= _named(lone, lexicon)
    return False


def _distinctive(words: Sequence[str], lexicon: Lexicon) -> list[str]:
    """Words that tell stories of one topic apart: not what every story of it says."""
    broad = lexicon.broad
    countries = lexicon.countries
    return [w for w in words if not (w.startswith("@") and (w[1:] in broad or w[1:] in countries))]


def text_similarity(
    a: Features, b: Features, lexicon: Lexicon = EMPTY, params: MergeParams = PARAMS
) -> float:
    """0-100: how alike two items' titles and summaries read, on the words that tell stories
    of one topic apart (same script only)."""
    from rapidfuzz import fuzz  # imported when first needed: a quiet cycle never is

    title_a, title_b = _distinctive(a.title_words, lexicon), _distinctive(b.title_words, lexicon)
    if not title_a or not title_b:
        return 0.0
    title = max(
        fuzz.token_sort_ratio(title_a, title_b),
        params.set_ratio_factor * fuzz.token_set_ratio(title_a, title_b),
    )
    words_a, words_b = _distinctive(a.words, lexicon), _distinctive(b.words, lexicon)
    body = fuzz.token_set_ratio(words_a, words_b) if words_a and words_b else 0.0
    return max(title, params.body_factor * body)


def compare(
    a: Features,
    b: Features,
    kinds: Kinds = NO_KINDS,
    lexicon: Lexicon = EMPTY,
    params: MergeParams = PARAMS,
) -> tuple[float, Evidence]:
    """How likely two items tell the same story, 0-100, with the evidence."""
    if a.title_key and a.title_key == b.title_key:
        return 100.0, Evidence(layer=Layer.SAME_TITLE)
    points, evidence = shared_evidence(a, b, kinds, params)
    against, conflicts, veto = contradictions(a, b, kinds, lexicon, params)
    evidence = evidence.with_(conflicts=conflicts)
    if veto:
        return 0.0, evidence.with_(layer=Layer.FUZZY if comparable(a, b) else Layer.CROSS_LANGUAGE)
    if not comparable(a, b):
        base = params.cross_language_base if specific_count(evidence, kinds, params) else None
        score = 0.0 if base is None else base + points - against
        return max(0.0, score), evidence.with_(layer=Layer.CROSS_LANGUAGE)
    text = text_similarity(a, b, lexicon, params)
    score = text * params.text_factor + points - against
    return max(0.0, score), evidence.with_(layer=Layer.FUZZY, text=text)


def profile(members: Sequence[Member], item: Features) -> Features:
    """Everything a story has gathered (its members' actors, numbers, codes, dates, headline
    concepts and the governments its headlines name as acting), and the numbers named by its
    titles in the item's language."""
    first = members[0].features
    return Features(
        title_key="",
        title_words=first.title_words,
        words=first.words,
        actors=frozenset().union(*(m.features.actors for m in members)),
        numbers=frozenset().union(*(m.features.numbers for m in members)),
        title_numbers=frozenset().union(
            *(m.features.title_numbers for m in members if comparable(m.features, item))
        ),
        codes=frozenset().union(*(m.features.codes for m in members)),
        dates=frozenset().union(*(m.features.dates for m in members)),
        cjk=item.cjk,
        language=item.language,
        title_concepts=frozenset().union(*(m.features.title_concepts for m in members)),
        subjects=frozenset().union(*(m.features.subjects for m in members)),
        title_actors=frozenset().union(*(m.features.title_actors for m in members)),
    )
