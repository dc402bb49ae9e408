"""One vocabulary for rules and merging: concepts in rules, forms, folding, facets, actors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError
from bot.models import Item
from bot.rules.load import load_rules
from bot.rules.wildcards import common_word_problems
from bot.text import tokenize


def _folder(tmp_path: Path, rule: dict, concepts: dict, actors: dict | None = None) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "rule.yaml").write_text(yaml.safe_dump(rule, allow_unicode=True), encoding="utf-8")
    (folder / "concepts.yaml").write_text(
        yaml.safe_dump({"concepts": concepts}, allow_unicode=True), encoding="utf-8"
    )
    (folder / "actors.yaml").write_text(
        yaml.safe_dump({"actors": actors or {}}, allow_unicode=True), encoding="utf-8"
    )
    return folder


def _rule(match: dict) -> dict:
    return {"id": "rule", "title": "Rule", "match": match}


def _matches(folder: Path, title: str, summary: str = "") -> bool:
    ruleset = load_rules(folder).ruleset
    return bool(ruleset.match(Item(feed_url="f", guid=title, title=title, summary=summary)).rules)


BLACKLIST = {
    "trade-list": {"forms": ["entity list", "blacklist*", "实体清单", "*liste", "naughty list"]},
    "ai": {"forms": ["AI", "人工智能"]},
}


@pytest.mark.parametrize(
    ("title", "matched"),
    [
        ("US adds 32 entities to trade blacklist", True),
        ("Washington puts firms on its naughty list", True),
        ("美国将36家中国实体列入实体清单", True),
        ("美國將36家中國實體列入實體清單", True),  # Traditional folds to Simplified
        ("Neue Exportliste für Chipanlagen", True),  # a leading * finds the end of a compound
        ("Listen to the new album", False),
    ],
)
def test_a_rule_names_concepts_in_any_language(tmp_path, title, matched):
    folder = _folder(tmp_path, _rule({"any": [{"concepts": ["trade-list"]}]}), BLACKLIST)
    assert _matches(folder, title) is matched


def test_short_upper_case_forms_match_as_written(tmp_path):
    folder = _folder(tmp_path, _rule({"any": [{"concepts": ["ai"]}]}), BLACKLIST)
    assert _matches(folder, "G7 leaders agree AI code")
    assert not _matches(folder, "J'ai rencontré le ministre")


def test_a_group_may_look_at_the_headline_only(tmp_path):
    rule = _rule({"all": [{"fields": ["title"], "any": [{"concepts": ["trade-list"]}]}]})
    folder = _folder(tmp_path, rule, BLACKLIST)
    assert _matches(folder, "US adds firms to the Entity List")
    assert not _matches(folder, "A new album", "It mentions the Entity List in passing.")


def test_a_concept_can_add_actors_and_every_actor_of_a_kind(tmp_path):
    concepts = {
        **BLACKLIST,
        "chipmaker": {"forms": ["chipmaker*"], "actors": ["nvidia"]},
        "state": {"forms": ["government"], "kinds": ["country"]},
    }
    actors = {
        "nvidia": {"name": "Nvidia", "kind": "company", "aliases": ["英伟达"]},
        "japan": {"name": "Japan", "kind": "country", "aliases": ["Tokyo"]},
    }
    rule = _rule({"all": [{"concepts": ["chipmaker"]}, {"concepts": ["state"]}]})
    folder = _folder(tmp_path, rule, concepts, actors)
    assert _matches(folder, "Tokyo questions 英伟达 over exports")
    assert not _matches(folder, "A chipmaker opens a plant")


def test_unknown_concepts_and_actors_are_errors_with_a_line(tmp_path):
    rule = _rule({"any": [{"concepts": ["trade-lists"]}]})
    concepts = {**BLACKLIST, "broken": {"forms": ["x"], "actors": ["nobody"]}}
    folder = _folder(tmp_path, rule, concepts)
    with pytest.raises(ConfigError) as caught:
        load_rules(folder)
    text = str(caught.value)
    assert "unknown concept 'trade-lists'" in text and "did you mean 'trade-list'?" in text
    assert "concepts.yaml:" in text and "unknown actor 'nobody'" in text


def test_facets_and_countries_are_validated(tmp_path):
    concepts = {**BLACKLIST, "odd": {"forms": ["odd"], "facets": ["no-colon"]}}
    folder = _folder(tmp_path, _rule({"any": ["x"]}), concepts)
    with pytest.raises(ConfigError, match=r"concepts\.yaml:.*facets"):
        load_rules(folder)
    concepts = {**BLACKLIST, "to-x": {"forms": ["赴x"], "country": "atlantis"}}
    (folder / "concepts.yaml").write_text(yaml.safe_dump({"concepts": concepts}), encoding="utf-8")
    with pytest.raises(ConfigError, match="country 'atlantis' is not a country"):
        load_rules(folder)


def test_actor_kinds_are_a_closed_list_and_part_of_names_the_wider_actor(tmp_path):
    actors = {
        "terbium": {"name": "terbium", "kind": "material", "part_of": "rare-earths"},
        "rare-earths": {"name": "rare earths", "kind": "material"},
    }
    folder = _folder(tmp_path, _rule({"any": [{"actors": ["rare-earths"]}]}), BLACKLIST, actors)
    ruleset = load_rules(folder).ruleset
    found = ruleset.match(Item(feed_url="f", guid="t", title="New curbs on terbium"))
    assert found.actors == {"terbium", "rare-earths"}
    actors["terbium"]["kind"] = "mineral"
    (folder / "actors.yaml").write_text(yaml.safe_dump({"actors": actors}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"actors\.yaml:.*kind"):
        load_rules(folder)


def test_languages_file_is_read_and_validated(tmp_path):
    folder = _folder(tmp_path, _rule({"any": ["x"]}), BLACKLIST)
    (folder / "languages.yaml").write_text(
        "languages:\n  en:\n    months: {sept: 9}\n    numbers: {dozen: 12}\n", encoding="utf-8"
    )
    wording = load_rules(folder).ruleset.lexicon.wording
    assert wording.months["sept"] == 9 and wording.numbers["dozen"] == "12"
    (folder / "languages.yaml").write_text("languages:\n  en:\n    month: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"languages\.yaml:3: unknown key 'month'"):
        load_rules(folder)


def test_the_shipped_lexicon_reads_spans_longest_first():
    lexicon = load_rules(Path(__file__).resolve().parents[1] / "rules").ruleset.lexicon
    spans = lexicon.spans(tokenize("Russland: Führungskräfte müssen Reisepässe abgeben"))
    assert {s.concept for s in spans} >= {"executive", "passport"}
    assert "travel" not in {s.concept for s in spans}, "Reisepässe is a passport, not a trip"
    words = lexicon.canonical(tokenize("US curbs chip exports"))
    assert words == ["@united-states", "@control-noun", "@chip", "@export-flow"]


def test_rules_check_names_common_words_a_short_wildcard_also_matches(tmp_path):
    rule = _rule({"all": [{"any": ["ban*", "restrict*", "chip*"]}, {"any": ["export*"]}]})
    folder = _folder(tmp_path, rule, BLACKLIST)
    (folder / "languages.yaml").write_text(
        "languages:\n  en:\n    endings: [s, ed, ing, ion, ions, ive, er, ers]\n"
        "  de:\n    compounds: true\n    endings: [e, en]\n",
        encoding="utf-8",
    )
    loaded = load_rules(folder)
    problems = common_word_problems(loaded.wildcards, loaded.ruleset.lexicon.wording)
    assert len(problems) == 1, [str(p) for p in problems]
    text = str(problems[0])
    assert text.startswith(f"{folder / 'rule.yaml'}:") and "warning: 'ban*' also matches" in text
    assert "bank" in text and "band" in text and "banned" not in text


def test_a_name_inside_a_longer_name_names_only_the_longer_ones_actor():
    ruleset = load_rules(Path(__file__).resolve().parents[1] / "rules").ruleset

    def actors(title: str) -> frozenset[str]:
        return ruleset.match(Item(feed_url="f", guid=title, title=title, summary="")).actors

    assert actors("美国商务部更新实体清单") == {"us-commerce", "united-states"}, (
        "not China's 商务部"
    )
    assert actors("印度尼西亚限制镍出口") == {"indonesia"}, "印度 (India) is inside 印度尼西亚"
    assert actors("白俄罗斯") == {"belarus"}
    assert actors("China's commerce ministry adds firms to its list") == {"mofcom", "china"}
