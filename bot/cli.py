"""The `radar` command line: a thin shell over the library."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import __version__, logs
from bot.config import Settings, load_settings
from bot.errors import ConfigError, StorageError
from bot.untrusted import for_terminal

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
FORMATS = ("text", "markdown", "json")  # of `radar backtest`

DESCRIPTION = """\
Radar polls RSS/Atom feeds, matches new items against the rule files in git, merges the same
story told by many outlets into one alert, and posts alerts to Slack channels, to Telegram
chats that subscribed to a topic, or (with neither configured) to standard output.

Configuration comes from the environment: RADAR_DB, RADAR_RULES, RADAR_FEEDS, SLACK_BOT_TOKEN,
SLACK_API_URL, SLACK_DEFAULT_CHANNEL, TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL,
TELEGRAM_ALLOWED_CHATS, TELEGRAM_MAX_CHATS, TELEGRAM_COMMANDS_TIMEOUT, RADAR_ARCHIVE_DAYS,
RADAR_RELOAD_INTERVAL (see the README)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radar", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"radar {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: HTTP too)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the service (or one cycle with --once)")
    run.add_argument(
        "--once",
        action="store_true",
        help="apply Telegram commands, poll every feed once, deliver, exit",
    )
    run.add_argument("--json", action="store_true", help="console alerts as JSON lines")

    rules = commands.add_parser("rules", help="check, test and explain the rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rules_commands.add_parser("check", help="validate feeds and rules (errors name file and line)")
    rules_commands.add_parser("test", help="run every rule's examples")
    explain = rules_commands.add_parser("explain", help="which rules match a text, and why")
    explain.add_argument("text", nargs="?", help="a headline or any text")
    explain.add_argument("--item", type=int, help="explain a stored item by its id instead")
    schema = rules_commands.add_parser("schema", help="write the JSON Schema of rule files")
    schema.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output)"
    )

    status = commands.add_parser("status", help="feeds, deliveries and subscribers")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    stories = commands.add_parser("stories", help="recent stories and how they were merged")
    stories_commands = stories.add_subparsers(dest="stories_command", metavar="ACTION")
    stories.add_argument("--limit", type=int, default=20, help="stories to list (default 20)")
    show = stories_commands.add_parser("show", help="one story, explaining each merge")
    show.add_argument("story_id", type=int)

    _review_parsers(commands)

    db = commands.add_parser("db", help="the database's schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser(
        "upgrade", help="apply schema migrations (also applied at start when safe)"
    )
    return parser


def _review_parsers(commands: Any) -> None:
    """`radar backtest` and `radar archive`: reviewing rule changes."""
    backtest = commands.add_parser(
        "backtest",
        help="what the rules in this working tree would alert on differently from a base",
        description="Replay the item archive through the working tree's rules and through the "
        "rules at a git ref, merging stories as radar run does, and report per rule the "
        "stories that would now alert and those that would no longer alert.",
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

    verdicts = commands.add_parser(
        "feedback", help="users' verdicts on alerts, per rule (export: candidate examples)"
    )
    verdicts.add_argument("--rule", metavar="ID", help="only this rule's alerts")
    verdicts_commands = verdicts.add_subparsers(dest="feedback_command", metavar="ACTION")
    export_examples = verdicts_commands.add_parser(
        "export", help="headlines judged not relevant, as no_match examples in YAML"
    )
    export_examples.add_argument("--rule", metavar="ID", required=True, dest="export_rule")
    export_examples.add_argument("-o", "--output", type=Path, help="file to write")

    ci = commands.add_parser("ci", help="what CI runs (the same check before you push)")
    ci_commands = ci.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    ci_rules = ci_commands.add_parser(
        "rules",
        help="rules check, rules test and a backtest against the base, as one Markdown report",
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
    archive = commands.add_parser("archive", help="export or import the item archive")
    archive_commands = archive.add_subparsers(
        dest="archive_command", metavar="ACTION", required=True
    )
    export = archive_commands.add_parser(
        "export", help="write the archive as JSON Lines (gzip when FILE ends in .gz)"
    )
    export.add_argument("file", type=Path)
    export.add_argument("--since", help="only items first seen this long ago (for example 30d)")
    load = archive_commands.add_parser(
        "import", help="add an exported archive's items (already stored ones are skipped)"
    )
    load.add_argument("file", type=Path)


REVIEW_COMMANDS = frozenset({"backtest", "archive", "feedback", "ci"})


def _review_dispatch(args: argparse.Namespace, settings: Settings) -> int | None:
    if args.command not in REVIEW_COMMANDS:
        return None
    from bot import commands_review as review

    if args.command == "backtest":
        return review.backtest(
            settings,
            base=args.base,
            since=args.since,
            archive=args.archive,
            fmt=args.format,
            limit=args.limit,
            output=args.output,
        )
    if args.command == "feedback":
        if args.feedback_command == "export":
            return review.feedback_export(settings, args.export_rule, args.output)
        return review.feedback_list(settings, args.rule)
    if args.command == "ci":
        return review.ci_rules(
            settings, base=args.base, archive=args.archive, output=args.output, limit=args.limit
        )
    if args.command == "archive":
        if args.archive_command == "export":
            return review.archive_export(settings, args.file, args.since)
        return review.archive_import(settings, args.file)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"radar: configuration error: {for_terminal(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    logs.protect(settings.secrets)
    logs.setup(args.verbose, quiet=args.command != "run")
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(
            f"radar: configuration error:\n{for_terminal(logs.redact(str(exc)))}", file=sys.stderr
        )
        return EXIT_CONFIG
    except StorageError as exc:
        print(f"radar: database error: {for_terminal(logs.redact(str(exc)))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    if (code := _review_dispatch(args, settings)) is not None:
        return code

    if args.command == "run":
        if args.once:
            return asyncio.run(commands.run_once(settings, json_lines=args.json))
        from bot.service import serve

        return asyncio.run(serve(settings, json_lines=args.json))
    if args.command == "rules":
        if args.rules_command == "check":
            return commands.rules_check(settings)
        if args.rules_command == "test":
            return commands.rules_test(settings)
        if args.rules_command == "schema":
            from bot.rules.schema import json_schema

            text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
            if args.output:
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return EXIT_OK
        return commands.rules_explain(settings, args.text, args.item)
    if args.command == "status":
        return commands.status(settings, as_json=args.json)
    if args.command == "stories":
        if args.stories_command == "show":
            return commands.story_show(settings, args.story_id)
        return commands.stories(settings, limit=args.limit)
    if args.command == "db":
        return commands.db_upgrade(settings)
    return EXIT_FAILED
