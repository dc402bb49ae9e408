"""What every `radar` command's registration shares: the global options, `command()` to
register a command with its help and example, `actions()` for a command's own subcommands.

Each area registers its commands in a module of its own (`cli_review`, `cli_operate`); `cli`
gathers them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


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


COMMON = _global_options()


def command(
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
        parents=[COMMON],
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def actions(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return parser.add_subparsers(dest=f"{parser.prog.split()[-1]}_action", metavar="ACTION")
