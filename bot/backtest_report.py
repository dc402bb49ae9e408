"""A backtest as text (a terminal), Markdown (a pull-request comment or job summary) or JSON.

The Markdown stays short on a big change: one table of counts, then for each changed rule
its first stories each way and how many more, and only the first rules that changed.
"""

from __future__ import annotations

import re
import time
from typing import Any

from bot.backtest import Backtest, RuleChange, StoryAlert
from bot.format import plural
from bot.rules.version import short

MAX_WORDS = 8  # matched words shown per story
MAX_RULE_SECTIONS = 10  # changed rules detailed in Markdown; the table counts them all
MARKDOWN_TITLE = 160  # characters of a headline in Markdown
MARKDOWN_WHY = 200  # characters of why a rule is silent now
MARKER = "<!-- radar-backtest -->"  # finds the pull request's sticky comment
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _span(report: Backtest) -> str:
    if report.span is None:
        return "no items"
    low, high = report.span
    return f"first seen {_day(low)} – {_day(high)}"


def _signed(count: int, sign: str) -> str:
    return f"{sign}{count}" if count else "0"


def summary_line(report: Backtest) -> str:
    changed = [r for r in report.rules if r.changed]
    if not changed:
        return "no rule alerts differently"
    now = sum(len(r.now) for r in changed)
    gone = sum(len(r.no_longer) for r in changed)
    stories = "1 story" if now == 1 else f"{now} stories"
    verb = "alerts" if len(changed) == 1 else "alert"
    return (
        f"{plural(len(changed), 'rule')} {verb} differently: {stories} would now alert, "
        f"{gone} would no longer alert"
    )


# -- text --------------------------------------------------------------------------------


def text(report: Backtest, limit: int) -> str:
    lines = [
        f"replayed {plural(report.items, 'item')} ({_span(report)}"
        + (f", since {report.since}" if report.since else "")
        + ")",
        f"  base: {report.base.label}, rules {short(report.base.version)}",
        f"  head: {report.head.label}, rules {short(report.head.version)}",
    ]
    if report.vocabulary:
        lines.append(f"  vocabulary changed: {', '.join(report.vocabulary)}")
    for rule in report.rules:
        head = f"{rule.rule_id} ({rule.status}): {rule.before} → {rule.after} stories"
        if not rule.changed:
            lines.append(f"{head}, no change")
            continue
        lines.append(
            f"{head}; +{len(rule.now)} would now alert, -{len(rule.no_longer)} would no longer alert"
        )
        for sign, stories in (("+", rule.now), ("-", rule.no_longer)):
            for story in stories[:limit]:
                lines.append(f"    {sign} {_day(story.published)} · {story.outlet} · {story.title}")
                detail = _words(story)
                if story.why_not:
                    detail += f"; now: {story.why_not}"
                if story.judged:
                    detail += f"; users: {story.judged}"
                lines.append(f"        {detail}")
            if len(stories) > limit:
                lines.append(f"    {sign} … and {len(stories) - limit} more")
    lines.append(summary_line(report))
    return "\n".join(lines)


def _words(story: StoryAlert) -> str:
    shown = ", ".join(f'"{w}"' for w in story.words[:MAX_WORDS])
    return f"words: {shown}" if shown else "words: -"


# -- Markdown ----------------------------------------------------------------------------


def md_escape(value: str) -> str:
    """Text safe inside Markdown (and a table cell): special characters escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def _md_code(value: str) -> str:
    return "`" + " ".join(value.split()).replace("`", "ˋ") + "`"


def _md_story(story: StoryAlert) -> str:
    title = (
        story.title
        if len(story.title) <= MARKDOWN_TITLE
        else story.title[: MARKDOWN_TITLE - 1] + "…"
    )
    headline = md_escape(title)
    if story.link and story.link.startswith(("http://", "https://")):
        safe = story.link.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        headline = f"[{headline}]({safe})"
    parts = [f"{_day(story.published)} · {md_escape(story.outlet or '?')} · {headline}"]
    if story.words:
        parts.append(" ".join(_md_code(w) for w in story.words[:MAX_WORDS]))
    line = "- " + " — ".join(parts)
    if story.why_not:
        why = story.why_not
        why = why if len(why) <= MARKDOWN_WHY else why[: MARKDOWN_WHY - 1] + "…"
        line += f"<br>now: {_md_code(why)}"
    if story.judged:
        line += f"<br>**users:** {md_escape(story.judged)}"
    return line


def _md_section(rule: RuleChange, limit: int) -> list[str]:
    lines = [f"#### {_md_code(rule.rule_id)} {md_escape(rule.title)} ({rule.status})"]
    for heading, stories in (
        ("Would now alert", rule.now),
        ("Would no longer alert", rule.no_longer),
    ):
        if not stories:
            continue
        lines.append(f"**{heading} ({len(stories)})**")
        lines.append("")
        lines.extend(_md_story(s) for s in stories[:limit])
        if len(stories) > limit:
            lines.append(f"- … and {len(stories) - limit} more")
        lines.append("")
    return lines


def markdown(
    report: Backtest, limit: int, *, heading: str = f"{MARKER}\n### Radar backtest"
) -> str:
    since = f", since {md_escape(report.since)}" if report.since else ""
    lines = [
        heading,
        "",
        f"Replayed **{plural(report.items, 'archived item')}** ({_span(report)}{since}) through "
        f"the rules at {md_escape(report.base.label)} ({_md_code(short(report.base.version))}) "
        f"and through this change ({_md_code(short(report.head.version))}): "
        f"**{summary_line(report)}**.",
        "",
    ]
    if report.vocabulary:
        lines += [f"Vocabulary changed: {', '.join(_md_code(v) for v in report.vocabulary)}.", ""]
    changed = [r for r in report.rules if r.changed]
    listed = [r for r in report.rules if r.changed or r.status != "unchanged"]
    if listed:
        lines += [
            "| rule | | stories before | after | would now alert | would no longer alert |",
            "|---|---|--:|--:|--:|--:|",
        ]
        lines += [
            f"| {_md_code(r.rule_id)} | {r.status} | {r.before} | {r.after} | "
            f"{_signed(len(r.now), '+')} | {_signed(len(r.no_longer), '−')} |"
            for r in listed
        ]
        lines.append("")
    quiet = len(report.rules) - len(listed)
    if quiet:
        lines += [f"{plural(quiet, 'other rule')}: unchanged, alerting as before.", ""]
    for rule in changed[:MAX_RULE_SECTIONS]:
        lines += _md_section(rule, limit)
    if len(changed) > MAX_RULE_SECTIONS:
        lines += [
            f"… and {len(changed) - MAX_RULE_SECTIONS} more changed rules (counts above).",
            "",
        ]
    lines.append(
        "<sub>`radar backtest --base REF --format markdown` gives this report locally; "
        "see CONTRIBUTING.md.</sub>"
    )
    return "\n".join(lines).rstrip() + "\n"


# -- JSON --------------------------------------------------------------------------------


def _story_json(story: StoryAlert) -> dict[str, Any]:
    return {
        "title": story.title,
        "outlet": story.outlet,
        "published": story.published,
        "link": story.link,
        "feed_url": story.key[0],
        "guid": story.key[1],
        "words": list(story.words),
        "why_not": story.why_not,
        "judged": story.judged,
    }


def as_json(report: Backtest) -> dict[str, Any]:
    return {
        "items": report.items,
        "first_seen": list(report.span) if report.span else None,
        "since": report.since,
        "base": {"label": report.base.label, "version": report.base.version},
        "head": {"label": report.head.label, "version": report.head.version},
        "vocabulary_changed": report.vocabulary,
        "rules": [
            {
                "id": r.rule_id,
                "title": r.title,
                "status": r.status,
                "before": r.before,
                "after": r.after,
                "now": [_story_json(s) for s in r.now],
                "no_longer": [_story_json(s) for s in r.no_longer],
            }
            for r in report.rules
        ],
    }
