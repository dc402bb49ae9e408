"""`radar feeds`, `deliveries` and `db`: the operator's commands (registration and
handlers; the work is in `bot.feed_commands`, `bot.delivery_commands` and `bot.commands`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli_base import actions, command
from bot.config import Settings


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


def _deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from bot import delivery_commands

    return delivery_commands.deliveries_list(
        settings,
        destination=args.destination,
        since=args.since,
        limit=args.limit,
        as_json=args.json,
    )


def _deliveries_retry(args: argparse.Namespace, settings: Settings) -> int:
    from bot import delivery_commands

    return delivery_commands.deliveries_retry(
        settings, destination=args.destination, since=args.since
    )


def _deliveries_drop(args: argparse.Namespace, settings: Settings) -> int:
    from bot import delivery_commands

    return delivery_commands.deliveries_drop(
        settings, destination=args.destination, since=args.since, pending=args.pending
    )


def _choose(parser: argparse.ArgumentParser) -> None:
    """--destination and --since, which every `deliveries` action takes."""
    parser.add_argument(
        "--destination",
        metavar="D",
        help="one destination (slack:#alerts, telegram:42) or service (slack, telegram)",
    )
    parser.add_argument("--since", help="only rows created this long ago (for example 1d, 6h)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`radar feeds`, `radar deliveries` and `radar db`."""
    feeds = command(
        commands,
        "feeds",
        "list, try, import and export the feeds",
        "The operator's view of the feeds file.",
        "radar feeds list",
    )
    feed_actions = actions(feeds)
    feed_actions.required = True
    feeds_list = command(
        feed_actions,
        "list",
        "name, URL, interval, health and last new item of each feed",
        "Each feed of the feeds file with its name, URL, interval, health and its last new\n"
        "item (from the database; a database that does not exist yet shows every feed as new).",
        "radar feeds list --json",
        _feeds_list,
    )
    feeds_list.add_argument("--json", action="store_true", help="machine-readable output")
    feeds_test = command(
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
    feeds_import = command(
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
    feeds_export = command(
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

    deliveries = command(
        commands,
        "deliveries",
        "pending, retrying, held and failed deliveries; resend or drop them",
        "Outbox rows not sent yet (pending, retrying, held while their service's token is\n"
        "refused) and failed ones, oldest first: id, destination, status, attempts, headline\n"
        "and last error. `retry` makes failed rows pending again (the next run sends them),\n"
        "`drop` discards them.",
        "radar deliveries --destination slack",
        _deliveries,
    )
    _choose(deliveries)
    deliveries.add_argument("--limit", type=int, default=100, help="rows to list (default 100)")
    deliveries.add_argument("--json", action="store_true", help="machine-readable output")
    delivery_actions = actions(deliveries)
    retry = command(
        delivery_actions,
        "retry",
        "failed deliveries become pending: the next run sends them",
        "Make failed rows pending again, due now; the next `radar run` (or the running\n"
        "service) sends them, in order. Prints how many.",
        "radar deliveries retry --destination slack:#export-controls --since 1d",
        _deliveries_retry,
    )
    _choose(retry)
    drop = command(
        delivery_actions,
        "drop",
        "discard failed deliveries (with --pending, unsent ones too)",
        "Mark failed rows (and, with --pending, rows not sent yet) dropped: they are never\n"
        "sent. Prints how many.",
        "radar deliveries drop --destination telegram:42",
        _deliveries_drop,
    )
    _choose(drop)
    drop.add_argument("--pending", action="store_true", help="drop rows not sent yet too")

    db = command(
        commands,
        "db",
        "the database's schema",
        "Schema migrations of the database in RADAR_DB.",
        "radar db upgrade",
    )
    db_actions = actions(db)
    db_actions.required = True
    command(
        db_actions,
        "upgrade",
        "apply schema migrations (also applied at start when safe)",
        "Bring the database's schema to this Radar's latest revision and say what was done;\n"
        "for a deploy step before starting several instances.",
        "radar db upgrade --db postgresql://radar@db/radar",
        _db_upgrade,
    )
