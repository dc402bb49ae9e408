"""Normalisation and phrase semantics (unit and property tests)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.models import Item
from bot.rules.engine import Term, TermIndex, compile_phrase
from bot.text import clean, fold, tokenize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＵＳ　Ｅｎｔｉｔｙ　Ｌｉｓｔ", "us entity list"),
        ("“Export” controls — new", '"export" controls - new'),
        ("Schröder’s café", "schroder's cafe"),
        ("<b>Entity</b>&nbsp;List &amp; chips", "entity list & chips"),
        ("Straße", "strasse"),
        ("  many\n\tspaces  ", "many spaces"),
        ("ガリウム", "ガリウム"),
    ],
)
def test_fold(raw, expected):
    assert fold(raw) == expected


def test_clean_keeps_case_and_accents():
    assert clean("<p>Pékin&#x27;s “rules”</p>") == 'Pékin\'s "rules"'


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("U.S. export controls", ["us", "export", "controls"]),
        ("Entity-List", ["entity", "list"]),
        ("$5.5 billion, 1,000 chips", ["5.5", "billion", "1000", "chips"]),
        ("16/14nm", ["16", "14", "nm"]),
        ("China's H20", ["china", "s", "h20"]),
        ("美国将36家实体", ["美", "国", "将", "36", "家", "实", "体"]),
        ("AI峰会", ["ai", "峰", "会"]),
        ("AI 서울 정상회의", ["ai", "서", "울", "정", "상", "회", "의"]),
    ],
)
def test_tokenize(text, tokens):
    assert list(tokenize(text).folded) == tokens


def _index(*phrases: str) -> TermIndex:
    return TermIndex([Term(i, p, compile_phrase(p)) for i, p in enumerate(phrases)])


def _found(index: TermIndex, text: str) -> set[str]:
    return {index.terms[t].display for t in index.scan("title", text)}


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("entity list", "US adds firms to the Entity-List", True),
        ("entity list", "entity listing", False),
        ("entity list*", "fresh entity listings", True),
        ("chip*", "chipmakers and chips", True),
        ("chip", "microchip", False),
        ("US", "U.S. rules", True),
        ("U.S.", "US rules", True),
        ("export control*", "EXPORT CONTROLS", True),
        ("export control*", "export-controls", True),
        ("chipmaking", "chip-making tools", True),
        ("chip-making", "chipmaking tools", True),
        ("出口管制", "美国升级对华芯片出口管制规则", True),
        ("出口管制", "出口和管制", False),
        ("Pékin", "pekin", True),
        ("ＧＰＵ", "GPU", True),
        ("licen* requirement*", "licence requirements", True),
        ("licen* requirement*", "license requirement", True),
        ("licen* requirement*", "requirements for licences", False),
    ],
)
def test_phrase_semantics(phrase, text, matches):
    assert (phrase in _found(_index(phrase), text)) is matches


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("c*", "3 letters"),
        ("*", "must follow a word"),
        ("芯片*", "no effect"),
        ("!!!", "no letters"),
    ],
)
def test_unusable_phrases_are_rejected(phrase, problem):
    with pytest.raises(ValueError, match=problem):
        compile_phrase(phrase)


# Letters whose upper case folds back to them (not Turkish dotless i and the like).
letters = st.characters(whitelist_categories=("Ll", "Lu")).filter(
    lambda c: fold(c.upper()) == fold(c) and len(fold(c)) == 1
)
words = st.text(alphabet=letters, min_size=3, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(words, min_size=1, max_size=3),
    st.lists(words, max_size=5),
    st.lists(words, max_size=5),
)
@example(["AῢA"], [], [])  # upper case is "AΫ̀A": a combining mark inside the word
def test_a_phrase_is_found_wherever_its_words_appear_whole(phrase_words, before, after):
    phrase = " ".join(phrase_words)
    text = " ".join([*before, phrase.upper(), *after])
    assert phrase in _found(_index(phrase), text)


@settings(max_examples=200, deadline=None)
@given(words, words)
def test_a_prefix_phrase_matches_any_ending(stem, ending):
    phrase = stem + "*"
    assert phrase in _found(_index(phrase), f"the {stem}{ending} rule")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_scanning_never_fails_on_any_text(text):
    index = _index("export control*", "entity list", "出口管制", "chip*")
    index.scan("title", text)
    tokenize(text)
    fold(text)


def test_actor_spelling_variants_and_short_codes(tmp_path):
    from helpers import write_rules

    from bot.rules.load import load_rules

    folder = write_rules(
        tmp_path / "rules",
        rules=[{"id": "r", "match": {"any": [{"actors": ["deepseek", "liang", "bis", "un"]}]}}],
        actors={
            "actors": {
                "deepseek": {"name": "DeepSeek", "aliases": ["深度求索"]},
                "liang": {"name": "Liang Wenfeng"},
                "bis": {"name": "Bureau of Industry and Security", "aliases": ["BIS"]},
                "un": {"name": "United Nations", "aliases": ["UN"]},
                "schreinemacher": {"name": "Liesje Schreinemacher", "aliases": ["Schreinemacher"]},
            }
        },
    )
    ruleset = load_rules(folder).ruleset

    def actors(text: str) -> set[str]:
        return set(ruleset.match(Item(feed_url="", guid="", title=text)).actors)

    assert actors("DeepSeek, Deep Seek and Deepseek") == {"deepseek"}
    assert actors("深度求索发布模型") == {"deepseek"}
    assert actors("Liang Wen-feng speaks") == {"liang"}
    assert actors("Liang Wenfang speaks") == {"liang"}
    assert actors("minister Schreinemaker said") == {"schreinemacher"}
    assert actors("BIS adds firms") == {"bis"}
    assert actors("von Montag bis Freitag") == set()
    assert actors("UN resolution") == {"un"}
    assert actors("un accord sur l'IA") == set()
    assert actors("deep learning seeks") == set()
