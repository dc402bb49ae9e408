"""`radar rules check|test|explain|schema` on good and broken rule folders."""

from __future__ import annotations

import json

from helpers import (
    CHIP_RULE,
    ROOT,
    copy_shipped_rules,
    environment,
    in_process,
    write_feeds,
    write_rules,
)

from bot.rules.load import NOT_RULES


def _env(tmp_path, rules):
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    return environment(tmp_path, rules, feeds)


def test_rules_check_accepts_the_shipped_rules_and_feeds():
    result = in_process(["rules", "check"], {})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ok:")
    assert "warning" not in result.stdout


def test_rules_check_names_file_line_and_problem(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "typo.yaml").write_text(
        "id: typo\ntitle: Typo\nseverity: urgent\nmatch:\n  all:\n    - any: [chips]\n    - {actors: [nvdia]}\n",
        encoding="utf-8",
    )
    (rules / "syntax.yaml").write_text("id: syntax\nmatch:\n  any: [chips\n", encoding="utf-8")
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert result.returncode == 1
    out = result.stdout
    assert "typo.yaml:3: severity: Input should be 'low', 'medium' or 'high'" in out
    assert "syntax.yaml:" in out and "invalid YAML" in out
    assert "2 errors found" in out


def test_unknown_actor_is_an_error_with_a_suggestion(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "actor.yaml").write_text(
        "id: actor\nmatch:\n  all:\n    - any: [chips]\n    - {actors: [nvdia]}\n", encoding="utf-8"
    )
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert result.returncode == 1
    assert (
        "actor.yaml:5: unknown actor 'nvdia': not defined in actors.yaml (did you mean 'nvidia'?)"
        in result.stdout
    )


def test_rules_check_names_problems_in_the_concepts_file(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "concepts.yaml").write_text(
        "concepts:\n  travel:\n    form: [trip]\n  passport:\n    forms: [passport, 'pa*']\n",
        encoding="utf-8",
    )
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert result.returncode == 1
    out = result.stdout
    assert "concepts.yaml:3: unknown key 'form' in concepts.travel (did you mean 'forms'?)" in out
    assert "concepts.yaml:5: concepts.passport.forms.1: form 'pa*'" in out


def test_rules_check_rejects_a_rule_that_can_never_match(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "never.yaml").write_text(
        "id: never\nmatch:\n  all: [export controls]\n  none: [export control*]\n", encoding="utf-8"
    )
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert result.returncode == 1
    assert "never.yaml:3: rule can never match" in result.stdout


def test_rules_check_warns_about_subsumed_phrases_and_duplicate_ids(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "dupe.yaml").write_text("id: chip-export\nmatch:\n  any: [chips]\n", encoding="utf-8")
    (rules / "covered.yaml").write_text(
        "id: covered\nmatch:\n  any:\n    - chip*\n    - chips\n", encoding="utf-8"
    )
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert "covered.yaml:5: warning: phrase 'chips' is already covered by 'chip*'" in result.stdout
    assert "dupe.yaml:1: rule id 'chip-export' is also used by" in result.stdout
    assert result.returncode == 1


def test_rules_test_passes_and_fails_with_a_readable_diff(tmp_path):
    good = in_process(["rules", "test"], _env(tmp_path, write_rules(tmp_path / "good")))
    assert good.returncode == 0, good.stdout
    assert "ok: 2 examples" in good.stdout

    wrong = dict(
        CHIP_RULE,
        examples={
            "match": ["Snack maker recalls potato chips after export controls"],
            "no_match": ["Entity List adds chip firms"],
        },
    )
    rules = write_rules(tmp_path / "bad", rules=[wrong])
    bad = in_process(["rules", "test"], _env(tmp_path, rules))
    assert bad.returncode == 1
    assert "example should match but did not" in bad.stdout
    assert "- Snack maker recalls potato chips after export controls" in bad.stdout
    assert "none: 'potato chip*' found ('potato chips' in title)" in bad.stdout
    assert "example should not match but did" in bad.stdout
    assert "matched on: 'Entity List', 'chip'" in bad.stdout
    assert "2 of 2 examples failed" in bad.stdout


def test_shipped_rule_examples_pass():
    result = in_process(["rules", "test"], {})
    assert result.returncode == 0, result.stdout


def test_rules_explain_names_words_actors_and_failing_groups(tmp_path):
    env = _env(tmp_path, copy_shipped_rules(tmp_path / "rules"))
    result = in_process(["rules", "explain", "美国升级对华AI芯片出口管制 英伟达A800在列"], env)
    assert result.returncode == 0
    assert "MATCH chip-export" in result.stdout
    assert "concept 'export-control' matched '出口管制' in title" in result.stdout
    assert "actor 'Nvidia' matched '英伟达' in title" in result.stdout
    assert "no    travel-guidance" in result.stdout
    assert "actors found: " in result.stdout and "Nvidia" in result.stdout

    potato = in_process(
        ["rules", "explain", "Snack maker recalls potato chips after export controls"], env
    )
    assert "no    chip-export" in potato.stdout
    assert (
        "none: concepts lookalike-chip|lookalike-list|antitrust found ('potato chips' in title"
        in potato.stdout
    )


def test_rules_schema_is_the_committed_schema(tmp_path):
    out = tmp_path / "schema.json"
    result = in_process(["rules", "schema", "-o", str(out)], {})
    assert result.returncode == 0
    generated = json.loads(out.read_text(encoding="utf-8"))
    committed = json.loads((ROOT / "rules" / "schema.json").read_text(encoding="utf-8"))
    assert generated == committed, "run `radar rules schema -o rules/schema.json` and commit it"
    assert generated["properties"]["severity"]["enum"] == ["low", "medium", "high"]
    for path in (ROOT / "rules").glob("*.yaml"):
        if path.name not in NOT_RULES:
            assert path.read_text(encoding="utf-8").startswith(
                "# yaml-language-server: $schema=schema.json"
            )


def test_rules_check_warns_when_merging_relies_on_a_facet_no_concept_has(tmp_path):
    rules = copy_shipped_rules(tmp_path / "rules")
    concepts = rules / "concepts.yaml"
    concepts.write_text(
        concepts.read_text(encoding="utf-8").replace("stance:", "position:"), encoding="utf-8"
    )
    result = in_process(["rules", "check"], _env(tmp_path, rules))
    assert result.returncode == 0, result.stdout
    assert (
        "concepts.yaml: warning: merge parameters name facet 'stance', which no concept has"
        in result.stdout
    )
