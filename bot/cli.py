"""The `radar` command line: a thin shell over the library.

Every command is registered in `_parser()` with `_command()`, which gives it the global
options (so `radar run -v --once` works as well as `radar -v run --once`), a description and
an example; its handler, `(args, settings) -> exit code`, is set with `set_defaults`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bot import __version__, logs
from bot.config import VARIABLES, Settings, load_settings
from bot.errors import ConfigError, StorageError
from bot.untrusted import for_terminal

# Exit codes, the same for every command (the README has the table).
EXIT_OK = 0
EXIT_FAILED = 1  # failures found: failing feeds or deliveries (status), bad rules, a failed test
EXIT_CONFIG = 2  # a configuration or usage error
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # standard output closed early (`radar status | head`), as a shell reports it

Handler = Callable[[argparse.Namespace, Settings], int]
FORMATS = ("text", "markdown", "json")  # of `radar backtest`

DESCRIPTION = """\
Radar polls RSS/Atom feeds, matches new items against the rule files in git, merges the same
story told by many outlets into one alert, and posts alerts to Slack channels, to Telegram
chats that subscribed to a topic, or (with neither configured) to standard output."""

EPILOG = (
    "global options (-v, --db, --feeds, --rules) may stand before or after the command.\n\n"
    "environment variables:\n"
    + "\n".join(f"  {name:<30} {meaning}" for name, meaning in VARIABLES.items())
    + "\n\nexit codes: 0 ok, 1 failures found, 2 configuration or usage error, 130 interrupted"
    + "\n\nexample:\n  RADAR_FEEDS=examples/feeds.yaml radar run --once"
)

# Where the global flags go in the environment, before settings are read.
FLAG_VARIABLES = {"db": "RADAR_DB", "feeds": "RADAR_FEEDS", "rules": "RADAR_RULES"}


def _global_options() -> argparse.ArgumentParser:
    """Options every command accepts, in any position. Their defaults are suppressed so a
    subcommand's parser does not undo what was given before the command's name."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("global options")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more logging (-vv: HTTP requests too)",
    )
    group.add_argument(
        "--db", metavar="URL", default=argparse.SUPPRESS, help="database URL (RADAR_DB)"
    )
    group.add_argument(
        "--feeds", metavar="FILE", default=argparse.SUPPRESS, help="feeds file (RADAR_FEEDS)"
    )
    group.add_argument(
        "--rules", metavar="DIR", default=argparse.SUPPRESS, help="rules folder (RADAR_RULES)"
    )
    return common


_COMMON = _global_options()


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    example: str,
    handler: Handler | None = None,
) -> argparse.ArgumentParser:
    """Register one command (or group) with its help, its example and its handler."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_COMMON],
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _actions(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return parser.add_subparsers(dest=f"{parser.prog.split()[-1]}_action", metavar="ACTION")


# Handlers: each turns parsed arguments into one call of a `bot.*commands` module.


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import run_commands

    return run_commands.run(
        settings, once=args.once, dry_run=args.dry_run, feeds=args.feed, json_lines=args.json
    )


def _rules_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.rules_check(settings)


def _rules_test(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.rules_test(settings)


def _rules_explain(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.rules_explain(settings, args.text, args.item)


def _rules_schema(args: argparse.Namespace, settings: Settings) -> int:
    from bot.rules.schema import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.status(settings, as_json=args.json)


def _stories(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.stories(settings, limit=args.limit)


def _story_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.story_show(settings, args.story_id)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands

    return commands.db_upgrade(settings)


def _feeds_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot import feed_commands

    return feed_commands.feeds_list(settings, as_json=args.json)


def _feeds_test(args: argparse.Namespace, settings: Settings) -> int:
    from bot import feed_commands

    return asyncio.run(feed_commands.feeds_test(settings, args.url, matching=args.matching))


def _feeds_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot import feed_commands

    return feed_commands.feeds_import(settings, args.opml, dry_run=args.dry_run)


def _feeds_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot import feed_commands

    return feed_commands.feeds_export(settings, args.output)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radar",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_COMMON],
    )
    # Not `verbose=0` here: the global options' actions are shared by every parser, and a
    # default set on one would be set on all (and undo a `-v` given before the command).
    parser.set_defaults(handler=None)
    parser.add_argument("--version", action="version", version=f"radar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = _command(
        commands,
        "run",
        "run the service (or one cycle with --once)",
        "Poll every feed on its schedule, match, merge, deliver and answer Telegram commands\n"
        "until SIGINT or SIGTERM. With RADAR_HTTP_PORT set, also serve /healthz, /metrics and\n"
        "a status page (on 127.0.0.1 unless RADAR_HTTP_HOST says otherwise).",
        "radar run --once -v --feed 'Federal Register — BIS'",
        _run,
    )
    run.add_argument(
        "--once",
        action="store_true",
        help="apply Telegram commands, poll every feed once, deliver, exit",
    )
    run.add_argument("--json", action="store_true", help="console alerts as JSON lines")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="poll and match into a throw-away database, print alerts to the console only: "
        "nothing is stored or sent (feeds alert on what they hold, within max_age)",
    )
    run.add_argument(
        "--feed",
        action="append",
        metavar="NAME",
        help="only this feed (its name or URL in the feeds file); may be repeated",
    )

    rules = _command(
        commands,
        "rules",
        "check, test and explain the rule files",
        "Validate, test and explain the rules in RADAR_RULES.",
        "radar rules check",
    )
    rule_actions = _actions(rules)
    rule_actions.required = True
    _command(
        rule_actions,
        "check",
        "validate feeds and rules (errors name file and line)",
        "Validate the feeds file and every rule, actor and concept file; each problem names\n"
        "its file and line. Exit 1 when an error is found.",
        "radar rules check --rules my-rules/",
        _rules_check,
    )
    _command(
        rule_actions,
        "test",
        "run every rule's examples",
        "Run every rule's match and no_match examples; a failure says why. Exit 1 on a failure.",
        "radar rules test",
        _rules_test,
    )
    explain = _command(
        rule_actions,
        "explain",
        "which rules match a text, and why",
        "Each rule's verdict on a text (or a stored item): the words and actors that fired,\n"
        "or the requirement that failed.",
        'radar rules explain "US adds 80 Chinese firms to Entity List over AI chips"',
        _rules_explain,
    )
    explain.add_argument("text", nargs="?", help="a headline or any text")
    explain.add_argument("--item", type=int, help="explain a stored item by its id instead")
    schema = _command(
        rule_actions,
        "schema",
        "write the JSON Schema of rule files",
        "Write the JSON Schema that rule files follow (editors use rules/schema.json).",
        "radar rules schema -o rules/schema.json",
        _rules_schema,
    )
    schema.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output)"
    )

    status = _command(
        commands,
        "status",
        "feeds, deliveries and subscribers; exit 1 when any is failing",
        "Which database, feeds file and rules folder are read; per feed its health, last poll,\n"
        "next due and last error; deliveries pending, retrying and failed; subscribers.\n"
        "Exit 1 when a feed is failing (or broken or gone) or a delivery failed, so it can\n"
        "serve as a health check from cron; 2 when the database does not exist.",
        "radar status --db sqlite:///state/radar.db || mail -s 'radar' ops@example.com",
        _status,
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")

    feeds = _command(
        commands,
        "feeds",
        "list, try, import and export the feeds",
        "The operator's view of the feeds file.",
        "radar feeds list",
    )
    feed_actions = _actions(feeds)
    feed_actions.required = True
    feeds_list = _command(
        feed_actions,
        "list",
        "name, URL, interval, health and last new item of each feed",
        "Each feed of the feeds file with its name, URL, interval, health and its last new\n"
        "item (from the database; a database that does not exist yet shows every feed as new).",
        "radar feeds list --json",
        _feeds_list,
    )
    feeds_list.add_argument("--json", action="store_true", help="machine-readable output")
    feeds_test = _command(
        feed_actions,
        "test",
        "fetch and parse one feed now and show which rules match (stores nothing)",
        "Fetch and parse one feed now, list its items and the rules each one matches, with\n"
        "the words that fired. Nothing is stored. Exit 1 when the feed cannot be fetched or\n"
        "parsed.",
        "radar feeds test https://www.gov.uk/search/news-and-communications.atom",
        _feeds_test,
    )
    feeds_test.add_argument("url", metavar="URL", help="a feed URL or file, or a feed's name")
    feeds_test.add_argument(
        "--matching", action="store_true", help="list only the items a rule matches"
    )
    feeds_import = _command(
        feed_actions,
        "import",
        "add the feeds of an OPML file to the feeds file (comments kept)",
        "Append the feeds of an OPML file that are not in the feeds file yet, with their\n"
        "titles as names and OPML categories as tags. The file keeps its comments and layout.",
        "radar feeds import subscriptions.opml",
        _feeds_import,
    )
    feeds_import.add_argument("opml", metavar="OPML", type=Path, help="the OPML file to read")
    feeds_import.add_argument(
        "--dry-run", action="store_true", help="list what would be added; change nothing"
    )
    feeds_export = _command(
        feed_actions,
        "export",
        "write the feeds file as OPML",
        "Write the web feeds of the feeds file as OPML 2.0 (names, URLs, tags as categories);\n"
        "local file feeds are left out.",
        "radar feeds export -o radar.opml",
        _feeds_export,
    )
    feeds_export.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output)"
    )

    stories = _command(
        commands,
        "stories",
        "recent stories and how they were merged",
        "Recent stories with their items and outlets; `stories show ID` explains each merge.",
        "radar stories --limit 5",
        _stories,
    )
    stories.add_argument("--limit", type=int, default=20, help="stories to list (default 20)")
    show = _command(
        _actions(stories),
        "show",
        "one story, explaining each merge",
        "One story's items, and for each the evidence that joined it to the story.",
        "radar stories show 12",
        _story_show,
    )
    show.add_argument("story_id", type=int)

    _review_parsers(commands)

    db = _command(
        commands,
        "db",
        "the database's schema",
        "Schema migrations of the database in RADAR_DB.",
        "radar db upgrade",
    )
    db_actions = _actions(db)
    db_actions.required = True
    _command(
        db_actions,
        "upgrade",
        "apply schema migrations (also applied at start when safe)",
        "Bring the database's schema to this Radar's latest revision and say what was done;\n"
        "for a deploy step before starting several instances.",
        "radar db upgrade --db postgresql://radar@db/radar",
        _db_upgrade,
    )
    return parser


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


def _review_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`radar backtest`, `feedback`, `ci` and `archive`: reviewing rule changes."""
    backtest = _command(
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

    feedback = _command(
        commands,
        "feedback",
        "users' verdicts on alerts, per rule (export: candidate examples)",
        "Users' verdicts on alerts (Telegram buttons, Slack reactions), counted per rule.",
        "radar feedback --rule chip-export",
        _feedback,
    )
    feedback.add_argument("--rule", metavar="ID", help="only this rule's alerts")
    feedback_actions = _actions(feedback)
    export_examples = _command(
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

    ci = _command(
        commands,
        "ci",
        "what CI runs (the same check before you push)",
        "The checks a rules pull request gets, run locally.",
        "radar ci rules --base main",
    )
    ci_actions = _actions(ci)
    ci_actions.required = True
    ci_rules = _command(
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

    archive = _command(
        commands,
        "archive",
        "export or import the item archive",
        "The archive of polled items that backtests replay: export it, or import an export.",
        "radar archive export archive.jsonl.gz --since 90d",
    )
    archive_actions = _actions(archive)
    archive_actions.required = True
    export = _command(
        archive_actions,
        "export",
        "write the archive as JSON Lines (gzip when FILE ends in .gz)",
        "Write every stored item (or those first seen within --since) as JSON Lines.",
        "radar archive export archive.jsonl.gz",
        _archive_export,
    )
    export.add_argument("file", type=Path)
    export.add_argument("--since", help="only items first seen this long ago (for example 30d)")
    load = _command(
        archive_actions,
        "import",
        "add an exported archive's items (already stored ones are skipped)",
        "Add the items of an exported archive; items already stored (by GUID or link) are\n"
        "skipped, so importing twice adds nothing. Nothing alerts.",
        "radar archive import archive.jsonl.gz",
        _archive_import,
    )
    load.add_argument("file", type=Path)


def _environment(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str]:
    """The environment with the global flags (`--db`, `--feeds`, `--rules`) applied."""
    merged = dict(env)
    for flag, variable in FLAG_VARIABLES.items():
        value = getattr(args, flag, None)
        if value is not None:
            merged[variable] = value
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.handler is None:
        parser.print_help()
        return EXIT_OK
    try:
        settings = load_settings(_environment(args, os.environ))
    except ConfigError as exc:
        print(f"radar: configuration error: {for_terminal(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    logs.protect(settings.secrets)
    verbosity = getattr(args, "verbose", 0)
    logs.setup(verbosity, quiet=args.command != "run", fmt=settings.log_format)
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except ConfigError as exc:
        print(
            f"radar: configuration error:\n{for_terminal(logs.redact(str(exc)))}", file=sys.stderr
        )
        return EXIT_CONFIG
    except StorageError as exc:
        print(f"radar: database error: {for_terminal(logs.redact(str(exc)))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whatever is still buffered would fail again at exit: send it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
