"""Every tunable number of story merging, in one place.

Scores run 0-100 and an item joins the best story scoring at least `threshold`. Weights say
how much a piece of shared evidence adds; conflicts how much a contradiction takes away. The
figures were tuned on the labelled sets in `tests/data/` (with a third of the events held out:
see `bench/merge_eval.py --part`), and `bench/merge_eval.py --crowd` stress-tests them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

HOUR = 3600.0
DAY = 24 * HOUR


def _kind_weights() -> Mapping[str, float]:
    # Countries and big agencies are in many unrelated stories: sharing one counts little.
    return MappingProxyType(
        {"country": 5.0, "region": 5.0, "agency": 15.0, "organisation": 15.0, "material": 15.0}
    )


@dataclass(frozen=True, slots=True)
class MergeParams:
    threshold: float = 35.0

    # Evidence for: what two items share that matters.
    kind_weights: Mapping[str, float] = field(default_factory=_kind_weights)
    strong_weight: float = 30.0  # actors of other kinds: companies, people, places, events
    number_weight: float = 15.0
    small_number_weight: float = 6.0  # one-digit numbers
    code_weight: float = 25.0  # product codes such as H20, and rare names
    rare_name_zipf: float = 3.0  # a capitalised word rarer than this (wordfreq Zipf) is a name
    name_length: int = 4  # letters a name has at least
    date_weight: float = 25.0
    evidence_cap: float = 60.0
    text_factor: float = 0.7  # share of the wording similarity (0-100) a fuzzy score takes
    set_ratio_factor: float = 0.9  # headlines alike as sets of words (one inside the other)
    body_factor: float = 0.85  # titles and summaries alike, headlines not
    # Closeness in time counts once this much is shared: two specific pieces, one and wording
    # this alike, or wording this alike alone.
    close_wording_with_evidence: float = 25.0
    close_wording_alone: float = 50.0
    summary_chars: int = 1000  # of a summary, read for evidence
    site_name_words: int = 4  # a trailing " | Site Name" of at most this many words is cut
    close_in_time: tuple[tuple[float, float], ...] = ((6 * HOUR, 20.0), (DAY, 10.0))
    cross_language_base: float = 20.0  # evidence-only comparison across scripts and languages

    # Evidence against: what contradicts.
    title_number_conflict: float = 30.0
    actor_conflict: float = 10.0
    # Two headlines naming different actors of one of these groups of kinds, none shared, tell
    # different stories (two companies, two summits, two materials). People are left out: a
    # story quotes many; countries are weighed as acting governments.
    rival_kinds: tuple[tuple[str, ...], ...] = (
        ("company",),
        ("event", "organisation"),  # forums: a summit, a process, a body
        ("place",),
        ("material",),
        ("agency",),
        ("media",),
    )
    facet_conflict: float = 30.0  # tools against materials, approval against reporting...
    target_conflict: float = 30.0  # Tokyo's curbs on China against Tokyo's curbs on Russia
    veto: float = 100.0  # imposed against lifted, another government acting
    veto_facets: tuple[str, ...] = ("direction", "stance")  # facets of concepts.yaml that veto

    # The gist: close in time, an item whose concepts, actors, numbers and dates the story has
    # mostly told joins it (gist_scale * the share told).
    gist_span: float = 36 * HOUR
    gist_min_weight: float = 4.0
    gist_scale: float = 70.0
    gist_number_weight: float = 3.0
    gist_code_weight: float = 4.0  # product codes and dates
    gist_actor_weight: float = 3.0  # at most; a country weighs 1, like a broad concept

    # Hours apart and nothing contradicting: headline-only paraphrases of one event, from
    # several outlets in several languages, share little but their topic and their timing.
    quiet_span: float = 12 * HOUR
    wording_alone: float = 75.0  # beyond quiet_span, wording joins alone only this alike
    quiet_score: float = 40.0
    quiet_gist_bonus: float = 10.0  # times the share of the gist told, to rank stories

    # Whose action a headline reports: a country named in its first few words (a CJK character
    # counts as half a word: "美国将…", not "黄仁勋访北京").
    subject_words: float = 3.0
    subject_words_cjk: float = 1.0
    # Facets that only hold where the headline names a restriction (concepts.yaml
    # `restriction: true`): a summit text that "clears" the assembly lifts nothing.
    restriction_facets: tuple[str, ...] = ("direction",)
    # A headline naming no value of these facets has this value: one that reports no reaction
    # reports the action itself.
    facet_defaults: tuple[tuple[str, str], ...] = (("act", "action"),)
    # Facets that only hold where the headline names a government acting: a company answering
    # a report is part of the story, a government answering another is a story of its own.
    subject_facets: tuple[str, ...] = ("act",)
    # Shared actors of these kinds are specific evidence; countries, agencies and bodies are
    # in too many stories to be.
    unspecific_kinds: tuple[str, ...] = ("country", "region", "agency", "organisation")
    # Per-key candidate lookups are capped in storage; words kept as index keys per item.
    index_words: int = 8
    index_bigrams: int = 16


PARAMS = MergeParams()


def unknown_facets(params: MergeParams, facets: Mapping[str, set[str]]) -> list[str]:
    """The facets `params` relies on that `concepts.yaml` does not define (`facets` maps each
    facet to its values): a renamed facet would silently stop merging's vetoes and defaults."""
    named = {
        *params.veto_facets,
        *params.restriction_facets,
        *params.subject_facets,
        *(facet for facet, _ in params.facet_defaults),
    }
    return [
        f"merge parameters name facet {name!r}, which no concept has"
        for name in sorted(named - facets.keys())
    ]
