"""Commands for reviewing rule changes: `radar archive`, `radar backtest`, `radar ci rules` and
`radar feedback`, printing for people (the CLI parses arguments only)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot import backtest_report, gitrefs, verdicts
from bot.archive import (
    ArchivedItem,
    export_archive,
    import_archive,
    read_archive,
    stored_entries,
)
from bot.backtest import Backtest, Side, compare, item_key
from bot.command_io import FAILED, OK, err, out
from bot.config import Settings
from bot.durations import parse_duration
from bot.errors import ArchiveError, ConfigError, RefError, UsageError
from bot.format import plural
from bot.rules.load import load_rules
from bot.rules.version import rules_version
from bot.storage import Store
from bot.types import ItemVerdict

USAGE = 2


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def since_cutoff(since: str | None, now: float) -> float | None:
    """`--since 30d` as the earliest first-seen time, or None for everything."""
    if not since:
        return None
    try:
        return now - parse_duration(since)
    except ValueError as exc:
        raise UsageError(f"--since {since}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Entries:
    """The archive's items in range, and for the message when none is: where they come
    from, how many there are in all and when they were first seen."""

    kept: list[ArchivedItem]
    source: str
    total: int
    span: tuple[float, float] | None


def load_entries(settings: Settings, archive: Path | None, cutoff: float | None) -> Entries:
    """The archive's items first seen since `cutoff`, from a file or the database."""
    if archive is not None:
        every = list(read_archive(archive))
        seen = [e.first_seen for e in every]
        kept = [e for e in every if cutoff is None or e.first_seen >= cutoff]
        return Entries(kept, str(archive), len(every), (min(seen), max(seen)) if seen else None)
    store = Store(settings.db_url)
    try:
        kept = list(stored_entries(store, cutoff))
        source = f"the archive in {store.name}"
        return Entries(kept, source, store.items.count(), store.items.seen_span())
    finally:
        store.close()


def _side(label: str, folder: Path, settings: Settings, version: str) -> Side:
    feeds = folder / settings.feeds_file.name
    ruleset = load_rules(folder, exclude=(settings.feeds_file, feeds)).ruleset
    return Side(label, folder, ruleset, version)


def backtest(
    settings: Settings,
    *,
    base: str | None,
    since: str | None,
    archive: Path | None,
    fmt: str,
    limit: int,
    output: Path | None = None,
) -> int:
    """Replay the archive through the working tree's rules and the base's; print the report."""
    try:
        report = run_backtest(settings, base=base, since=since, archive=archive)
    except (UsageError, ArchiveError) as exc:
        err(f"radar: backtest: {exc}")
        return USAGE
    except ConfigError as exc:
        err(f"radar: backtest: the rules in {settings.rules_dir} do not load:\n{exc}")
        return USAGE
    rendered = render(report, fmt, limit)
    if output is not None:
        output.write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered)
    return OK


def render(report: Backtest | str, fmt: str, limit: int) -> str:
    """A report in a format; a string report says why there was nothing to replay."""
    if isinstance(report, str):
        if fmt == "json":
            return json.dumps({"items": 0, "message": report}, ensure_ascii=False) + "\n"
        if fmt == "markdown":
            return f"{backtest_report.MARKER}\n### Radar backtest\n\n{backtest_report.md_escape(report)}\n"
        return report + "\n"
    if fmt == "markdown":
        return backtest_report.markdown(report, limit)
    if fmt == "json":
        return json.dumps(backtest_report.as_json(report), indent=2, ensure_ascii=False) + "\n"
    return backtest_report.text(report, limit) + "\n"


def run_backtest(
    settings: Settings, *, base: str | None, since: str | None, archive: Path | None
) -> Backtest | str:
    """The backtest, or a sentence saying why there is nothing to replay."""
    cutoff = since_cutoff(since, time.time())
    found = load_entries(settings, archive, cutoff)
    if not found.kept:
        if not found.total:
            return (
                f"{found.source} is empty: nothing to replay (radar run collects items; "
                "radar archive import FILE brings an exported archive)"
            )
        span = found.span
        seen = f", first seen {_day(span[0])} – {_day(span[1])}" if span else ""
        return (
            f"no item of {found.source} was first seen in the last {since} "
            f"({plural(found.total, 'item')} in all{seen}): nothing to replay"
        )
    entries = found.kept
    if not any(e.verdict is ItemVerdict.NEW for e in entries):
        return (
            f"none of the {plural(len(entries), 'item')} of {found.source} in range could alert "
            "(all were recorded without alerting: feeds' backlogs, or too old): nothing to replay"
        )
    head_version = rules_version(settings.rules_dir)
    with tempfile.TemporaryDirectory(prefix="radar-base-") as tmp:
        at = gitrefs.extract(settings.rules_dir, base, Path(tmp))
        try:
            base_side = _side(at.label, at.folder, settings, f"git:{at.commit}")
        except ConfigError as exc:
            raise RefError(
                f"the rules at {at.label} ({at.commit[:12]}) do not load:\n{exc}"
            ) from exc
        head_side = _side(
            f"{settings.rules_dir} in the working tree", settings.rules_dir, settings, head_version
        )
        judged = {item_key(e): e.judged for e in entries if e.judged}
        return compare(entries, base_side, head_side, settings, since=since, judged=judged)


CI_ARCHIVE_VARIABLE = "RADAR_CI_ARCHIVE"  # an archive file for `radar ci rules`
COMMENT_LIMIT = 60_000  # characters: GitHub refuses comments over 65,536


def _captured(command: Callable[[], int]) -> tuple[int, str]:
    """A command's exit code and what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = command()
    return code, buffer.getvalue().strip()


def _md_block(title: str, code: int, output: str) -> list[str]:
    mark = "✅" if code == OK else "❌"
    lines = output.splitlines()
    last = lines[-1] if lines else ""
    block = [f"{mark} **{title}**: {backtest_report.md_escape(last)}"]
    if len(lines) > 1:
        block += [
            "",
            "<details><summary>details</summary>",
            "",
            "```",
            *lines[:-1],
            "```",
            "</details>",
        ]
    return [*block, ""]


def ci_rules(
    settings: Settings,
    *,
    base: str | None,
    archive: Path | None,
    output: Path | None,
    limit: int,
) -> int:
    """What CI runs on a pull request touching the rules: `rules check`, `rules test` and a
    backtest against the base, as one Markdown report (a job summary, a sticky comment).
    Non-zero when the check or the examples fail, or the backtest cannot run."""
    from bot import commands

    checked, check_out = _captured(lambda: commands.rules_check(settings))
    tested, test_out = (FAILED, "not run: the rules do not load")
    if checked == OK:
        tested, test_out = _captured(lambda: commands.rules_test(settings))
    lines = [backtest_report.MARKER, "### Radar: rules check", ""]
    lines += _md_block("radar rules check", checked, check_out)
    lines += _md_block("radar rules test", tested, test_out)
    code = OK if checked == tested == OK else FAILED
    archive = archive or _ci_archive()
    if checked != OK:
        lines.append("Backtest not run: the rules do not load.")
    elif archive is None and not _has_items(settings):
        lines.append(
            "Backtest not run: no archive (give `--archive FILE`, or set "
            f"`{CI_ARCHIVE_VARIABLE}`; the workflow uses the `RADAR_ARCHIVE_URL` secret or a "
            "committed sample)."
        )
    else:
        try:
            report = run_backtest(settings, base=base, since=None, archive=archive)
        except (UsageError, ArchiveError, ConfigError) as exc:
            err(f"radar: ci rules: backtest: {exc}")
            lines.append(f"❌ Backtest could not run: {backtest_report.md_escape(str(exc))}")
            code = USAGE
        else:
            if isinstance(report, str):
                lines.append(f"Backtest: {backtest_report.md_escape(report)}")
            else:
                lines.append(backtest_report.markdown(report, limit, heading="#### Backtest"))
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > COMMENT_LIMIT:
        text = text[:COMMENT_LIMIT] + "\n\n… (cut: run `radar ci rules` locally for all of it)\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    for name, result in (("rules check", checked), ("rules test", tested)):
        if result != OK:
            err(f"radar: ci rules: {name} failed")
    return code


def _ci_archive() -> Path | None:
    value = os.environ.get(CI_ARCHIVE_VARIABLE)
    return Path(value) if value else None


def _has_items(settings: Settings) -> bool:
    store = Store(settings.db_url)
    try:
        return store.items.count() > 0
    finally:
        store.close()


def feedback_list(settings: Settings, rule_id: str | None) -> int:
    store = Store(settings.db_url)
    try:
        records = store.verdicts.all(rule_id)
    finally:
        store.close()
    for line in verdicts.listing(records, rule_id):
        out(line)
    return OK


def feedback_export(settings: Settings, rule_id: str, output: Path | None) -> int:
    store = Store(settings.db_url)
    try:
        records = store.verdicts.all(rule_id)
    finally:
        store.close()
    text, count = verdicts.export_examples(records, rule_id, time.time())
    if output is not None:
        output.write_text(text, encoding="utf-8")
        out(f"wrote {plural(count, 'candidate no_match example')} for {rule_id} to {output}")
    else:
        sys.stdout.write(text)
    return OK


def archive_export(settings: Settings, path: Path, since: str | None) -> int:
    try:
        cutoff = since_cutoff(since, time.time())
    except UsageError as exc:
        err(f"radar: archive export: {exc}")
        return USAGE
    store = Store(settings.db_url)
    try:
        count = export_archive(store, path, cutoff)
    except ArchiveError as exc:
        err(f"radar: archive export: {exc}")
        return FAILED
    finally:
        store.close()
    out(f"exported {plural(count, 'item')} to {path}")
    return OK


def archive_import(settings: Settings, path: Path) -> int:
    store = Store(settings.db_url)
    try:
        imported = import_archive(store, read_archive(path))
    except ArchiveError as exc:
        err(
            f"radar: archive import: {exc} (the lines before it were imported; importing again skips them)"
        )
        return USAGE
    finally:
        store.close()
    out(
        f"imported {plural(imported.added, 'item')} from {path}; "
        f"{imported.skipped} already stored (same GUID or link) skipped"
    )
    return OK
