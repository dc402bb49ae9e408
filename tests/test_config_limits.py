"""Rule, actor, concept and feed files cannot make start-up slow or large: alias bombs, huge
files, huge phrases and thousands of phrases."""

from __future__ import annotations

import itertools

import pytest
import yaml
from helpers import environment, in_process, write_feeds, write_rules
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import ConfigError
from bot.feeds import load_feeds
from bot.rules.coverage import PhraseCoverage
from bot.rules.load import MAX_PHRASE_WORDS, load_rules
from bot.yamlfile import MAX_FILE_BYTES, load_yaml


def _alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" with YAML anchors: 9 levels of 9 aliases each (9^9 strings)."""
    lines = [
        "id: bomb",
        "match:",
        '  any: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    previous = "a"
    for name in "bcdefghij"[: levels - 1]:
        lines.append(f"{name}: &{name} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_naming_the_file(tmp_path):
    rules = write_rules(tmp_path / "rules")
    bomb = rules / "bomb.yaml"
    bomb.write_text(_alias_bomb(), encoding="utf-8")
    assert len(bomb.read_bytes()) < 500
    with pytest.raises(ConfigError) as caught:
        load_rules(rules)
    [problem] = [p for p in caught.value.problems if p.path == bomb]
    assert "aliases expand the document beyond 250,000 values (an alias bomb?)" in problem.message
    assert problem.line is not None


def test_a_merge_key_bomb_is_refused_before_it_is_built(tmp_path):
    lines = ["a0: &a0 {x: 1, y: 2}"]
    lines += [f"a{n}: &a{n} {{<<: [{', '.join([f'*a{n - 1}'] * 9)}]}}" for n in range(1, 10)]
    path = tmp_path / "merge.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alias bomb"):
        load_yaml(path)


def test_a_recursive_alias_and_deep_nesting_are_refused(tmp_path):
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"recursive\.yaml:1: an alias refers to a collection"):
        load_yaml(recursive)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 100 + "]" * 100 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep\.yaml:1: values nested more than 64 levels"):
        load_yaml(deep)
    deeper = tmp_path / "deeper.yaml"
    deeper.write_text("[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    refused = r"deeper\.yaml(:1)?: invalid YAML: (nested too deeply|exceeded maximum nesting depth)"
    with pytest.raises(ConfigError, match=refused):
        load_yaml(deeper)


def test_ordinary_aliases_still_work(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("base: &b [chips, GPUs]\nagain: *b\n", encoding="utf-8")
    assert load_yaml(path).data == {"base": ["chips", "GPUs"], "again": ["chips", "GPUs"]}


@pytest.mark.parametrize("name", ["big-rule.yaml", "actors.yaml", "concepts.yaml", "feeds.yaml"])
def test_files_over_the_size_limit_are_refused_naming_the_file(tmp_path, name):
    rules = write_rules(tmp_path / "rules")
    big = rules / name
    padding = "#" + "x" * 99 + "\n"
    big.write_text(padding * (MAX_FILE_BYTES // len(padding) + 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_feeds(big) if name == "feeds.yaml" else load_rules(rules)
    assert f"{big}: file is larger than the 1 MB limit" in str(caught.value)


def test_rules_check_reports_an_alias_bomb_as_an_error(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "bomb.yaml").write_text(_alias_bomb(), encoding="utf-8")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    result = in_process(["rules", "check"], environment(tmp_path, rules, feeds))
    assert result.returncode == 1
    assert "bomb.yaml:" in result.stdout and "alias bomb" in result.stdout


def test_a_phrase_of_too_many_words_is_refused(tmp_path):
    rules = write_rules(
        tmp_path / "rules",
        rules=[
            {"id": "long", "match": {"any": [" ".join(f"word{n}" for n in range(8000))]}},
            {"id": "fine", "match": {"any": [" ".join(f"w{n}" for n in range(MAX_PHRASE_WORDS))]}},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(rules)
    [problem] = caught.value.problems
    assert problem.path.name == "long.yaml"
    assert "it has 8000 words, more than the 30 a phrase may have" in problem.message
    assert len(problem.message) < 300, "the phrase is quoted cut short"


# Which phrases cover others ("phrase 'chips' is already covered by 'chip*'")


def _covers(a, b) -> bool:
    """The definition, pair by pair: every text phrase `b` matches contains phrase `a`."""

    def part(x, y) -> bool:
        return y[0].startswith(x[0]) if x[1] else (not y[1] and x[0] == y[0])

    return any(
        all(part(a[i], b[offset + i]) for i in range(len(a)))
        for offset in range(len(b) - len(a) + 1)
    )


_part = st.tuples(st.sampled_from(["a", "ab", "abc", "b", "ba", "c"]), st.booleans())
_phrases = st.lists(st.lists(_part, min_size=1, max_size=4).map(tuple), min_size=1, max_size=12)


@given(_phrases)
def test_the_coverage_index_agrees_with_the_pairwise_definition(phrases):
    coverage = PhraseCoverage(phrases)
    for query in phrases:
        expected = {i for i, other in enumerate(phrases) if _covers(other, query)}
        assert coverage.covering(query) == expected


def _many_phrases(count: int) -> list[tuple[tuple[str, bool], ...]]:
    """Distinct phrases that share common words, as a big real rule would."""
    common = ["export", "control", "chip", "ban", "travel", "summit"]
    return [
        ((f"term{n}", False), (common[n % len(common)], n % 4 == 0), (f"x{n % 101}", False))
        for n in range(count)
    ]


def test_the_coverage_check_grows_linearly_with_the_phrases():
    counts = {}
    for size in (1_000, 10_000):
        phrases = _many_phrases(size)
        coverage = PhraseCoverage(phrases)
        for parts in phrases:
            coverage.covering(parts)
        counts[size] = coverage.comparisons
    assert counts[10_000] < 15 * counts[1_000], counts  # pairwise would be 100 times as many


def test_a_rule_of_10000_phrases_loads_and_its_covered_phrases_are_found(tmp_path):
    phrases = [
        " ".join(w if not p else w + "*" for w, p in parts) for parts in _many_phrases(10_000)
    ]
    phrases += ["term7 control x7 and more", "specially important", "special*"]
    rules = write_rules(tmp_path / "rules", rules=[{"id": "big", "match": {"any": phrases}}])
    assert (rules / "big.yaml").stat().st_size < MAX_FILE_BYTES
    loaded = load_rules(rules)
    covered = sorted(w.message for w in loaded.warnings)
    assert covered == [
        "phrase 'specially important' is already covered by 'special*'",
        "phrase 'term7 control x7 and more' is already covered by 'term7 control x7'",
    ]


def test_the_coverage_check_stops_with_a_warning_past_its_budget(tmp_path):
    # Every phrase made of the same two words: the index cannot tell them apart.
    phrases = [" ".join(p) for n in range(2, 12) for p in itertools.product(["ab", "ba"], repeat=n)]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "alike.yaml").write_text(
        yaml.safe_dump({"id": "alike", "match": {"any": phrases[:3000]}}), encoding="utf-8"
    )
    warnings = [w.message for w in load_rules(rules).warnings]
    assert any("too many similar phrases" in w for w in warnings), warnings[:3]
