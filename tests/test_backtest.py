"""`radar backtest` in a temporary git repository: a rule added, one removed and one narrowed
against the base, replayed over an archive built here, in every format; clear errors."""

from __future__ import annotations

import json
import time

import pytest
from helpers import ACTORS, CHIP_RULE, commit_all, git, git_repo, write_feeds, write_rules
from test_archive import radar

from bot.archive import ArchivedItem, write_archive
from bot.models import Item
from bot.types import ItemVerdict

HOUR = 3600.0
GPU_RULE = {"id": "gpu-watch", "title": "GPU watch", "match": {"any": ["GPU*"]}}
SUMMIT_RULE = {
    "id": "ai-summit",
    "title": "AI summits",
    "match": {"all": [{"any": ["AI summit*"]}, {"any": ["sign*", "declaration*"]}]},
}
NARROWED = {**CHIP_RULE, "match": {**CHIP_RULE["match"], "none": ["potato chip*", "lithography"]}}


def _entry(n: int, title: str, outlet: str, seen: float) -> ArchivedItem:
    item = Item(
        feed_url=f"https://{outlet.lower()}.example/rss",
        guid=f"{outlet}-{n}",
        title=title,
        link=f"https://{outlet.lower()}.example/{n}",
        outlet=outlet,
        published=seen - 60,
    )
    return ArchivedItem(item, seen - 60, seen)


def _archive(path, start: float):
    rows = [
        (1, "Tokyo adds export controls on lithography chips, covering 17 firms", "Wire"),
        (2, "Seoul adds export controls on HBM chips, covering 1038 firms", "Wire"),
        (3, "Leaders sign AI summit declaration in Seoul", "Courier"),
        (4, "Nvidia GPU prices fall as supply recovers", "Courier"),
        (5, "Seoul adds export controls on HBM chips, covering 1038 firms", "Herald"),
        (6, "Weather stays mild in Oslo", "Herald"),
    ]
    entries = [_entry(n, title, outlet, start + n * HOUR) for n, title, outlet in rows]
    write_archive(path, entries)
    return path


@pytest.fixture
def repo(tmp_path):
    """main: chip-export and gpu-watch; the working tree: chip-export narrowed (no more
    lithography), gpu-watch removed, ai-summit added (not committed)."""
    root = tmp_path / "repo"
    rules = write_rules(root / "rules", [CHIP_RULE, GPU_RULE], ACTORS)
    write_feeds(rules / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    git_repo(root)
    (rules / "gpu-watch.yaml").unlink()
    write_rules(rules, [NARROWED, SUMMIT_RULE], ACTORS)
    env = {
        "RADAR_DB": f"sqlite:///{tmp_path / 'radar.db'}",
        "RADAR_RULES": str(rules),
        "RADAR_FEEDS": str(rules / "feeds.yaml"),
    }
    return root, env, _archive(tmp_path / "archive.jsonl", time.time() - 10 * 24 * HOUR)


def test_added_removed_and_narrowed_rules_against_the_base(repo, monkeypatch, capsys):
    root, env, archive = repo
    args = ["backtest", "--base", "main", "--archive", str(archive), "--format", "json"]
    code, out, err = radar(args, env, monkeypatch, capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["items"] == 6
    assert report["base"] == {"label": "main", "version": f"git:{git(root, 'rev-parse', 'main')}"}
    assert report["head"]["version"].startswith("sha256:")  # uncommitted changes
    rules = {r["id"]: r for r in report["rules"]}
    assert {r: rules[r]["status"] for r in rules} == {
        "chip-export": "edited",
        "ai-summit": "new",
        "gpu-watch": "removed",
    }
    chip = rules["chip-export"]
    assert (chip["before"], chip["after"], chip["now"]) == (2, 1, [])
    [gone] = chip["no_longer"]
    assert gone["title"].startswith("Tokyo adds export controls on lithography")
    assert gone["outlet"] == "Wire" and "export controls" in gone["words"]
    assert "lithography" in gone["why_not"]
    summit = rules["ai-summit"]
    assert [s["title"] for s in summit["now"]] == ["Leaders sign AI summit declaration in Seoul"]
    assert summit["no_longer"] == [] and (summit["before"], summit["after"]) == (0, 1)
    gpu = rules["gpu-watch"]
    assert [s["outlet"] for s in gpu["no_longer"]] == ["Courier"]
    assert gpu["no_longer"][0]["why_not"] == "the rule is gone"
    # The Herald's copy of the Seoul story is a follow-up on both sides: no change anywhere.
    listed = [s["outlet"] for r in report["rules"] for s in r["now"] + r["no_longer"]]
    assert "Herald" not in listed


def test_markdown_reads_as_a_pull_request_comment(repo, monkeypatch, capsys):
    _, env, archive = repo
    args = ["backtest", "--base", "main", "--archive", str(archive), "--format", "markdown"]
    code, out, _ = radar(args, env, monkeypatch, capsys)
    assert code == 0
    assert out.startswith("<!-- radar-backtest -->\n### Radar backtest")
    assert "3 rules alert differently: 1 story would now alert, 2 would no longer alert" in out
    assert "| `chip-export` | edited | 2 | 1 | 0 | −1 |" in out
    assert "| `ai-summit` | new | 0 | 1 | +1 | 0 |" in out
    assert "**Would no longer alert (1)**" in out
    assert (
        "[Tokyo adds export controls on lithography chips, covering 17 firms](https://wire.example/1)"
        in out
    )
    assert "`export controls`" in out

    code, out, _ = radar(
        [*args[:-2], "--format", "markdown", "--limit", "0"], env, monkeypatch, capsys
    )
    assert "- … and 1 more" in out and "Tokyo adds" not in out

    code, out, _ = radar(
        ["backtest", "--base", "main", "--archive", str(archive)], env, monkeypatch, capsys
    )
    assert (
        "chip-export (edited): 2 → 1 stories; +0 would now alert, -1 would no longer alert" in out
    )
    assert "    - " in out and "now: " in out


def test_the_default_base_is_the_merge_base_with_main(repo, monkeypatch, capsys):
    root, env, archive = repo
    git(root, "checkout", "-q", "-b", "change")
    head = commit_all(root, "narrow chip-export, add ai-summit, drop gpu-watch")
    base = git(root, "rev-parse", "main")
    (root / "rules" / "README").write_text("unrelated\n", encoding="utf-8")
    commit_all(root, "another commit on the branch")
    git(root, "checkout", "-q", "main")
    (root / "other.txt").write_text("main moves on\n", encoding="utf-8")
    commit_all(root, "main moves on")
    git(root, "checkout", "-q", "change")
    code, out, err = radar(
        ["backtest", "--archive", str(archive), "--format", "json"], env, monkeypatch, capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["base"] == {"label": "merge base with main", "version": f"git:{base}"}
    assert report["head"]["version"] == f"git:{git(root, 'rev-parse', 'HEAD')}" != f"git:{head}"


def test_the_database_archive_and_since(repo, monkeypatch, capsys):
    _, env, archive = repo
    assert radar(["archive", "import", str(archive)], env, monkeypatch, capsys)[0] == 0
    code, out, _ = radar(
        ["backtest", "--base", "main", "--format", "json"], env, monkeypatch, capsys
    )
    assert code == 0 and json.loads(out)["items"] == 6
    code, out, _ = radar(["backtest", "--base", "main", "--since", "2d"], env, monkeypatch, capsys)
    assert code == 0
    assert "no item of the archive in sqlite:///" in out
    assert "was first seen in the last 2d (6 items in all, first seen" in out
    assert "nothing to replay" in out
    code, out, _ = radar(
        ["backtest", "--base", "main", "--since", "9d12h", "--format", "json"],
        env,
        monkeypatch,
        capsys,
    )
    assert code == 2  # not a duration this parser knows: said, not a traceback
    code, out, _ = radar(
        ["backtest", "--base", "main", "--since", "237.5h", "--format", "json"],
        env,
        monkeypatch,
        capsys,
    )
    assert code == 0 and json.loads(out)["items"] == 4  # first seen 237, 236, 235 and 234 h ago
    code, out, _ = radar(
        ["backtest", "--base", "main", "--since", "1h", "--format", "json"],
        env,
        monkeypatch,
        capsys,
    )
    assert json.loads(out)["items"] == 0 and "nothing to replay" in json.loads(out)["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "30x"], "radar: backtest: --since 30x: expected a duration such as 30s"),
        (["--base", "no-such-branch"], "radar: backtest: --base no-such-branch: no such commit"),
        (["--base=--upload-pack=x"], "radar: backtest: --base --upload-pack=x: not a git ref"),
        (["--archive", "missing.jsonl"], "radar: backtest: missing.jsonl: No such file"),
    ],
)
def test_user_errors_exit_2_with_one_clear_line(repo, monkeypatch, capsys, args, message):
    _, env, archive = repo
    if "--archive" not in args:
        args = [*args, "--archive", str(archive)]
    code, _, err = radar(["backtest", *args], env, monkeypatch, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_outside_git_the_base_cannot_be_found(tmp_path, monkeypatch, capsys):
    rules = write_rules(tmp_path / "rules")
    archive = _archive(tmp_path / "a.jsonl", time.time())
    env = {"RADAR_RULES": str(rules), "RADAR_FEEDS": str(tmp_path / "feeds.yaml")}
    code, _, err = radar(["backtest", "--archive", str(archive)], env, monkeypatch, capsys)
    assert code == 2
    assert "is not in a git repository" in err


def test_base_without_the_rules_folder(repo, monkeypatch, capsys):
    root, env, archive = repo
    (root / "rules").rename(root / "moved")
    commit_all(root, "rules moved")
    moved = root / "moved"
    env = {**env, "RADAR_RULES": str(moved), "RADAR_FEEDS": str(moved / "feeds.yaml")}
    args = ["backtest", "--base", "HEAD~1", "--archive", str(archive)]
    code, _, err = radar(args, env, monkeypatch, capsys)
    assert code == 2
    assert "HEAD~1 (" in err and "has no folder moved/" in err


def test_ci_rules_reports_check_examples_and_backtest_in_one_comment(repo, monkeypatch, capsys):
    root, env, archive = repo
    report = root.parent / "report.md"
    args = ["ci", "rules", "--base", "main", "--archive", str(archive), "-o", str(report)]
    code, _, err = radar(args, env, monkeypatch, capsys)
    assert code == 0, err
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!-- radar-backtest -->\n### Radar: rules check")
    assert "✅ **radar rules check**: ok: 1 feed, 2 rules" in text
    assert "✅ **radar rules test**: ok: 2 examples of 2 rules behave as written" in text
    assert "#### Backtest" in text and "| `ai-summit` | new | 0 | 1 | +1 | 0 |" in text
    assert text.count("<!-- radar-backtest -->") == 1

    bad = {**NARROWED, "examples": {"match": ["Tokyo adds export controls on lithography chips"]}}
    write_rules(root / "rules", [bad], ACTORS)
    monkeypatch.setenv("RADAR_CI_ARCHIVE", str(archive))
    code, out, err = radar(["ci", "rules", "--base", "main"], env, monkeypatch, capsys)
    assert code == 1 and "radar: ci rules: rules test failed" in err
    assert "❌ **radar rules test**: 1 of 1 example failed" in out
    assert "<details><summary>details</summary>" in out and "#### Backtest" in out

    (root / "rules" / "ai-summit.yaml").write_text(
        "id: ai-summit\nmatch: {any: [\n", encoding="utf-8"
    )
    code, out, _ = radar(["ci", "rules", "--base", "main"], env, monkeypatch, capsys)
    assert code == 1
    assert "❌ **radar rules check**: 1 error found" in out
    assert "Backtest not run: the rules do not load." in out


def test_an_archive_of_backlog_items_only_has_nothing_to_replay(repo, monkeypatch, capsys):
    _, env, _ = repo
    path = repo[0].parent / "backlog.jsonl"
    entry = _entry(1, "Seoul adds export controls on HBM chips", "Wire", time.time())
    write_archive(
        path, [ArchivedItem(entry.item, entry.effective, entry.first_seen, ItemVerdict.RECORD)]
    )
    code, out, _ = radar(
        ["backtest", "--base", "main", "--archive", str(path)], env, monkeypatch, capsys
    )
    assert code == 0
    assert "none of the 1 item of" in out and "recorded without alerting" in out


def test_base_rules_that_do_not_load_are_named_by_ref(repo, monkeypatch, capsys):
    root, env, archive = repo
    git(root, "stash", "-q", "--include-untracked")
    git(root, "checkout", "-q", "-b", "broken")
    (root / "rules" / "gpu-watch.yaml").write_text(
        "id: gpu-watch\nmatch: {any: [\n", encoding="utf-8"
    )
    commit_all(root, "broken")
    git(root, "checkout", "-q", "main")
    git(root, "stash", "pop", "-q")
    args = ["backtest", "--base", "broken", "--archive", str(archive)]
    code, _, err = radar(args, env, monkeypatch, capsys)
    assert code == 2
    assert "radar: backtest: the rules at broken (" in err and "gpu-watch.yaml:" in err
