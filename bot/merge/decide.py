"""Which story an item joins, if any: a pure decision over the candidates the index found.

Layers, cheapest first (GUIDs and canonical links are handled before merging, in `bot.decide`):
the same normalised title; fuzzy wording strengthened by shared evidence and weakened by
contradictions; across scripts and languages, evidence alone; the story's gathered evidence;
the gist (what the item is about, mostly told already, within a day and a half); and, within
hours, nothing contradicting: headline-only paraphrases of one event share little but their
topic and their timing, and only something specific that differs (another government, another
company, another number, tools against materials, imposed against lifted) says they are not
one story. An item only joins a story that matched one of its rules; when in doubt it opens a
new story.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.merge.compare import (
    NO_KINDS,
    Kinds,
    comparable,
    compare,
    contradictions,
    profile,
    same_actor,
    shared_evidence,
    specific_count,
)
from bot.merge.evidence import Evidence, Layer, MergeDecision
from bot.merge.features import Candidate, Features, Member
from bot.merge.gist import gist_overlap
from bot.merge.params import PARAMS, MergeParams
from bot.rules.lexicon import CONCEPT_WEIGHT, EMPTY, Lexicon


def _nearest(when: float, members: Sequence[Member]) -> float:
    return min(abs(when - m.published) for m in members)


def _closeness(when: float | None, members: Sequence[Member], params: MergeParams) -> float:
    if when is None:
        return 0.0
    nearest = _nearest(when, members)
    return next((bonus for span, bonus in params.close_in_time if nearest <= span), 0.0)


def _corroborated(evidence: Evidence, kinds: Kinds, params: MergeParams) -> bool:
    """Enough in common, and nothing contradicting, for being close in time to count: two
    specific pieces of evidence, or one and similar wording, or very similar wording."""
    if evidence.conflicts:
        return False
    specific = specific_count(evidence, kinds, params)
    text = evidence.text or 0.0
    return (
        specific >= 2
        or (specific >= 1 and text >= params.close_wording_with_evidence)
        or text >= params.close_wording_alone
    )


def _a_later_document(
    item: Features, member: Member, when: float | None, params: MergeParams
) -> bool:
    """The same headline from the same outlet, days later: a new document of a series
    ("Additions to the Entity List"), not an update, so its wording says nothing."""
    return (
        bool(item.title_key)
        and item.title_key == member.features.title_key
        and item.outlet == member.features.outlet
        and when is not None
        and abs(when - member.published) > params.quiet_span
    )


def _wording_alone(
    evidence: Evidence, member: Member, when: float | None, kinds: Kinds, params: MergeParams
) -> bool:
    """Wording that is only alike, beyond the hours a paraphrase comes in, with nothing
    specific shared: two listings on one topic a few days apart read alike."""
    return (
        evidence.layer is Layer.FUZZY
        and when is not None
        and abs(when - member.published) > params.quiet_span
        and specific_count(evidence, kinds, params) == 0
        and (evidence.text or 0.0) < params.wording_alone
    )


def _shares_facet(a: Features, b: Features, lexicon: Lexicon) -> bool:
    facets_a = lexicon.facet_values(a.title_concepts)
    facets_b = lexicon.facet_values(b.title_concepts)
    return any(facets_a[f] & facets_b[f] for f in facets_a.keys() & facets_b.keys())


def _story_layers(
    item: Features,
    candidate: Candidate,
    kinds: Kinds,
    lexicon: Lexicon,
    when: float | None,
    params: MergeParams,
) -> list[tuple[float, Evidence]]:
    """Scores of one candidate story by every layer, each with its evidence."""
    results: list[tuple[float, Evidence]] = []
    member_veto = False
    for member in candidate.members:
        if _a_later_document(item, member, when, params):
            continue
        score, evidence = compare(item, member.features, kinds, lexicon, params)
        member_veto = (
            member_veto or contradictions(item, member.features, kinds, lexicon, params)[2]
        )
        if _wording_alone(evidence, member, when, kinds, params):
            continue
        results.append((score, evidence.with_(compared_with_item=member.item_id)))
    # Evidence alone, against everything the story has gathered: across scripts one specific
    # piece is enough, in one script (where wording could have agreed) two. A story does not
    # grow more permissive as it gathers: what one of its items contradicts, it contradicts.
    cross = any(not comparable(m.features, item) for m in candidate.members)
    gathered = profile(candidate.members, item)
    points, evidence = shared_evidence(item, gathered, kinds, params)
    against, conflicts, veto = contradictions(item, gathered, kinds, lexicon, params)
    veto = veto or member_veto
    evidence = evidence.with_(conflicts=conflicts)
    if not veto and specific_count(evidence, kinds, params) >= (1 if cross else 2):
        score = max(0.0, params.cross_language_base + points - against)
        results.append((score, evidence.with_(layer=Layer.STORY_EVIDENCE)))
    nearest = _nearest(when, candidate.members) if when is not None else None
    if nearest is not None and nearest <= max(params.gist_span, params.quiet_span) and not veto:
        overlap = gist_overlap(item, candidate.members, kinds, lexicon, params)
        told = Evidence(shared=overlap.shared, coverage=overlap.coverage, conflicts=conflicts)
        if (
            nearest <= params.gist_span
            and overlap.weight >= params.gist_min_weight
            and overlap.specific >= CONCEPT_WEIGHT
        ):
            score = max(0.0, params.gist_scale * overlap.coverage - against)
            results.append((score, told.with_(layer=Layer.GIST)))
        # Nothing contradicting means something only where a contradiction could be seen: one
        # side at least must name who acts or facets (what, how) the vocabulary knows.
        readable = any(
            side.subjects or lexicon.facet_values(side.title_concepts) for side in (item, gathered)
        )
        # And something must be shared beyond the topic's broad words: the government acting,
        # a facet value (the same goods, measure, instrument, stance) or a concept or actor of
        # some weight.
        shared = (
            overlap.specific > 0
            or same_actor(item, gathered, lexicon)
            or _shares_facet(item, gathered, lexicon)
        )
        if nearest <= params.quiet_span and not conflicts and readable and shared:
            score = params.quiet_score + params.quiet_gist_bonus * overlap.coverage
            results.append((score, told.with_(layer=Layer.QUIET)))
    bonus = _closeness(when, candidate.members, params)
    scored: list[tuple[float, Evidence]] = []
    for score, evidence in results:
        if bonus and score >= params.cross_language_base and _corroborated(evidence, kinds, params):
            score, evidence = score + bonus, evidence.with_(close_in_time=bonus)
        scored.append((score, evidence))
    return scored


def decide_story(
    item: Features,
    candidates: Sequence[Candidate],
    kinds: Kinds = NO_KINDS,
    threshold: float | None = None,
    when: float | None = None,
    lexicon: Lexicon = EMPTY,
    params: MergeParams = PARAMS,
) -> MergeDecision:
    """The story this item joins, if any: the best-scoring candidate above the threshold.

    Only stories that matched one of the item's rules are considered; `when` (the item's
    time) lets stories hours away count their closeness, once something is shared.
    """
    best: tuple[float, int, Evidence] | None = None
    for candidate in candidates:
        if not candidate.members or (
            item.rules and candidate.rules and not item.rules & candidate.rules
        ):
            continue
        for score, evidence in _story_layers(item, candidate, kinds, lexicon, when, params):
            if best is None or score > best[0]:
                best = (score, candidate.story_id, evidence)
    limit = params.threshold if threshold is None else threshold
    if best is None:
        return MergeDecision(None)
    score, story_id, evidence = best
    if score < limit:
        return MergeDecision(None, score, best_story=story_id)
    return MergeDecision(story_id, score, evidence)
