"""The `radar` command line: a thin shell over the library.

Every command is registered with `bot.cli_base.command()`, which gives it the global options
(so `radar run -v --once` works as well as `radar -v run --once`), a description and an
example; its handler, `(args, settings) -> exit code`, is set with `set_defaults`. `_parser()`
registers `run`, `rules`, `status` and `stories` here, and the other areas' modules
(`cli_operate`, `cli_review`) register theirs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from bot import __version__, cli_operate, cli_review, logs
from bot.cli_base import COMMON, Handler, actions, command
from bot.config import VARIABLES, Settings, load_settings
from bot.errors import ConfigError, StorageError, UsageError
from bot.untrusted import for_terminal

# Exit codes, the same for every command (the README has the table).
EXIT_OK = 0
EXIT_FAILED = 1  # failures found: failing feeds or deliveries (status), bad rules, a failed test
EXIT_CONFIG = 2  # a configuration or usage error
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # standard output closed early (`radar status | head`), as a shell reports it


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radar",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[COMMON],
    )
    # Not `verbose=0` here: the global options' actions are shared by every parser, and a
    # default set on one would be set on all (and undo a `-v` given before the command).
    parser.set_defaults(handler=None)
    parser.add_argument("--version", action="version", version=f"radar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = command(
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

    rules = command(
        commands,
        "rules",
        "check, test and explain the rule files",
        "Validate, test and explain the rules in RADAR_RULES.",
        "radar rules check",
    )
    rule_actions = actions(rules)
    rule_actions.required = True
    command(
        rule_actions,
        "check",
        "validate feeds and rules (errors name file and line)",
        "Validate the feeds file and every rule, actor and concept file; each problem names\n"
        "its file and line. Exit 1 when an error is found.",
        "radar rules check --rules my-rules/",
        _rules_check,
    )
    command(
        rule_actions,
        "test",
        "run every rule's examples",
        "Run every rule's match and no_match examples; a failure says why. Exit 1 on a failure.",
        "radar rules test",
        _rules_test,
    )
    explain = command(
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
    schema = command(
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

    status = command(
        commands,
        "status",
        "feeds, deliveries and subscribers; exit 1 when any is failing",
        "Which database, feeds file and rules folder are read; per feed its health, last poll,\n"
        "next due and last error; deliveries pending, retrying and failed; subscribers.\n"
        "Exit 1 when a feed is failing (or broken or gone), a delivery failed or a service is\n"
        "held (its token refused), so it can serve as a health check from cron; 2 when the\n"
        "database does not exist.",
        "radar status --db sqlite:///state/radar.db || mail -s 'radar' ops@example.com",
        _status,
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")

    stories = command(
        commands,
        "stories",
        "recent stories and how they were merged",
        "Recent stories with their items and outlets; `stories show ID` explains each merge.",
        "radar stories --limit 5",
        _stories,
    )
    stories.add_argument("--limit", type=int, default=20, help="stories to list (default 20)")
    show = command(
        actions(stories),
        "show",
        "one story, explaining each merge",
        "One story's items, and for each the evidence that joined it to the story.",
        "radar stories show 12",
        _story_show,
    )
    show.add_argument("story_id", type=int)

    cli_operate.register(commands)
    cli_review.register(commands)

    return parser


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
    except UsageError as exc:
        print(f"radar: {for_terminal(logs.redact(str(exc)))}", file=sys.stderr)
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


def entry() -> NoReturn:
    """The `radar` command: `main`, then out without the interpreter's teardown, which would
    free every object of the compiled rules one at a time (a tenth of a second, a fifth of a
    quiet `run --once`). Everything a command opened is closed by then; output and logs are
    flushed here."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with it closed (`radar ... >&-`)
                stream.flush()
        except (BrokenPipeError, ValueError):  # closed early, as `radar status | head` does
            code = code or EXIT_PIPE
    os._exit(code)
