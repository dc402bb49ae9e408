"""`radar backtest`, `feedback`, `ci` and `archive`: reviewing rule changes (registration
and handlers; the work is in `bot.commands_review`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli_base import actions, command
from bot.config import Settings

FORMATS = ("text", "markdown", "json")  # of `radar backtest`


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.backtest(
        settings,
        base=args.base,
        since=args.since,
        archive=args.archive,
        fmt=args.format,
        limit=args.limit,
        output=args.output,
    )


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.feedback_list(settings, args.rule)


def _feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.feedback_export(settings, args.export_rule, args.output)


def _ci_rules(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.ci_rules(
        settings, base=args.base, archive=args.archive, output=args.output, limit=args.limit
    )


def _archive_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.archive_export(settings, args.file, args.since)


def _archive_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands_review as review

    return review.archive_import(settings, args.file)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`radar backtest`, `feedback`, `ci` and `archive`: reviewing rule changes."""
    backtest = command(
        commands,
        "backtest",
        "what the rules in this working tree would alert on differently from a base",
        "Replay the item archive through the working tree's rules and through the rules at a\n"
        "git ref, merging stories as radar run does, and report per rule the stories that\n"
        "would now alert and those that would no longer alert.",
        "radar backtest --base main --since 30d --format markdown",
        _backtest,
    )
    backtest.add_argument(
        "--base", metavar="REF", help="git ref to compare with (default: the merge base with main)"
    )
    backtest.add_argument(
        "--since", help="only items first seen this long ago (for example 30d, 12h)"
    )
    backtest.add_argument(
        "--archive", type=Path, metavar="FILE", help="an exported archive instead of the database"
    )
    backtest.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    backtest.add_argument(
        "--limit", type=int, default=10, help="stories to list per rule and way (default 10)"
    )
    backtest.add_argument("-o", "--output", type=Path, help="write the report to this file")

    feedback = command(
        commands,
        "feedback",
        "users' verdicts on alerts, per rule (export: candidate examples)",
        "Users' verdicts on alerts (Telegram buttons, Slack reactions), counted per rule.",
        "radar feedback --rule chip-export",
        _feedback,
    )
    feedback.add_argument("--rule", metavar="ID", help="only this rule's alerts")
    feedback_actions = actions(feedback)
    export_examples = command(
        feedback_actions,
        "export",
        "headlines judged not relevant, as no_match examples in YAML",
        "The headlines users judged not relevant for one rule, as candidate no_match examples\n"
        "to review and paste into the rule file.",
        "radar feedback export --rule chip-export -o candidates.yaml",
        _feedback_export,
    )
    export_examples.add_argument("--rule", metavar="ID", required=True, dest="export_rule")
    export_examples.add_argument("-o", "--output", type=Path, help="file to write")

    ci = command(
        commands,
        "ci",
        "what CI runs (the same check before you push)",
        "The checks a rules pull request gets, run locally.",
        "radar ci rules --base main",
    )
    ci_actions = actions(ci)
    ci_actions.required = True
    ci_rules = command(
        ci_actions,
        "rules",
        "rules check, rules test and a backtest against the base, as one Markdown report",
        "Run `rules check`, `rules test` and a backtest against the base, and write one\n"
        "Markdown report (what the pull request's comment shows). Exit 1 when a check fails.",
        "radar ci rules --base main --archive archive.jsonl.gz",
        _ci_rules,
    )
    ci_rules.add_argument(
        "--base", metavar="REF", help="git ref to compare with (default: the merge base with main)"
    )
    ci_rules.add_argument(
        "--archive",
        type=Path,
        metavar="FILE",
        help="archive to replay (default: $RADAR_CI_ARCHIVE, else the database's)",
    )
    ci_rules.add_argument("-o", "--output", type=Path, help="write the report to this file")
    ci_rules.add_argument(
        "--limit", type=int, default=5, help="stories to list per rule and way (default 5)"
    )

    archive = command(
        commands,
        "archive",
        "export or import the item archive",
        "The archive of polled items that backtests replay: export it, or import an export.",
        "radar archive export archive.jsonl.gz --since 90d",
    )
    archive_actions = actions(archive)
    archive_actions.required = True
    export = command(
        archive_actions,
        "export",
        "write the archive as JSON Lines (gzip when FILE ends in .gz)",
        "Write every stored item (or those first seen within --since) as JSON Lines.",
        "radar archive export archive.jsonl.gz",
        _archive_export,
    )
    export.add_argument("file", type=Path)
    export.add_argument("--since", help="only items first seen this long ago (for example 30d)")
    load = command(
        archive_actions,
        "import",
        "add an exported archive's items (already stored ones are skipped)",
        "Add the items of an exported archive; items already stored (by GUID or link) are\n"
        "skipped, so importing twice adds nothing. Nothing alerts.",
        "radar archive import archive.jsonl.gz",
        _archive_import,
    )
    load.add_argument("file", type=Path)
