"""The audit trail: every alert records the version of the rules that made it (the git commit
of a clean checkout, else a content hash), shown by `radar stories show` and `radar status`."""

from __future__ import annotations

import json
import shutil

from feedserver import rss, static
from helpers import (
    commit_all,
    distinct_items,
    environment,
    git,
    git_repo,
    run_once,
    write_feeds,
    write_rules,
)
from test_archive import radar

from bot.deliver.outbox import build_view
from bot.rules.load import load_rules
from bot.rules.version import rules_version
from bot.storage import Store


def test_a_clean_checkout_is_its_commit_and_anything_else_a_content_hash(tmp_path):
    root = tmp_path / "repo"
    rules = write_rules(root / "rules")
    git_repo(root)
    commit = git(root, "rev-parse", "HEAD")
    assert rules_version(rules) == f"git:{commit}"
    (root / "elsewhere.txt").write_text("outside the rules folder\n", encoding="utf-8")
    assert rules_version(rules) == f"git:{commit}", "changes outside the folder do not count"

    (rules / "draft.yaml").write_text("id: draft\nmatch: {any: [x]}\n", encoding="utf-8")
    untracked = rules_version(rules)
    assert untracked.startswith("sha256:") and len(untracked) == len("sha256:") + 12
    commit_all(root, "draft")
    (rules / "draft.yaml").write_text("id: draft\nmatch: {any: [y]}\n", encoding="utf-8")
    modified = rules_version(rules)
    assert modified.startswith("sha256:") and modified != untracked

    copy = shutil.copytree(rules, tmp_path / "copy")
    assert rules_version(copy) == modified, "the same files, outside git: the same hash"
    (copy / "draft.yaml").write_text("id: draft\nmatch: {any: [z]}\n", encoding="utf-8")
    assert rules_version(copy) != modified


def test_alerts_record_the_version_and_the_commands_show_it(
    tmp_path, feed_server, monkeypatch, capsys
):
    root = tmp_path / "repo"
    rules = write_rules(root / "rules")
    git_repo(root)
    commit = git(root, "rev-parse", "HEAD")
    url = feed_server.set("/feed.xml", static(rss(distinct_items(2))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    env = environment(tmp_path, rules, feeds)
    run_once(env)

    store = Store(env["RADAR_DB"])
    try:
        alerts = list(store.alerts.iterate())
        assert [a.rules_version for a in alerts] == [f"git:{commit}"] * 2
        view = build_view(store, load_rules(rules).ruleset, alerts[0].id)
        assert view.rules_version == f"git:{commit}"
        story_id = alerts[0].story_id
    finally:
        store.close()

    code, out, _ = radar(["stories", "show", str(story_id)], env, monkeypatch, capsys)
    assert code == 0
    assert f"alert #{alerts[0].id} for chip-export; rules git:{commit[:12]}" in out

    (rules / "chip-export.yaml").write_text(
        (rules / "chip-export.yaml").read_text(encoding="utf-8") + "description: edited\n",
        encoding="utf-8",
    )
    now = rules_version(rules)
    code, out, _ = radar(["status"], env, monkeypatch, capsys)
    assert f"Rules: {rules} at {now}; latest alert made by git:{commit[:12]}" in out
    code, out, _ = radar(["status", "--json"], env, monkeypatch, capsys)
    assert json.loads(out)["rules"] == {
        "folder": str(rules),
        "version": now,
        "latest_alert": f"git:{commit}",
    }
