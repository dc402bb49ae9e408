"""Story merging: does a new item tell a story Radar already alerted on?

Pure functions only. `features` reduces an item to what merging compares; `index_keys` says
under which keys the storage index files a story; `decide_story` compares an item with the
candidate stories the index found and returns the story to join (or none) with its score and
evidence, so every merge can be explained later. Modules: `features` (what is compared),
`compare` (evidence and contradictions), `gist` (what an item is about), `decide` (the layers),
`evidence` (the typed record of a decision), `params` (every tunable number), `language`.
"""

from bot.merge.compare import compare, contradictions, same_actor, text_similarity
from bot.merge.decide import decide_story
from bot.merge.evidence import Conflict, Evidence, Layer, MergeDecision
from bot.merge.features import Candidate, Features, Member, dates_in, features, index_keys
from bot.merge.gist import Overlap, gist_overlap
from bot.merge.params import PARAMS, MergeParams

__all__ = [
    "PARAMS",
    "Candidate",
    "Conflict",
    "Evidence",
    "Features",
    "Layer",
    "Member",
    "MergeDecision",
    "MergeParams",
    "Overlap",
    "compare",
    "contradictions",
    "dates_in",
    "decide_story",
    "features",
    "gist_overlap",
    "index_keys",
    "same_actor",
    "text_similarity",
]
