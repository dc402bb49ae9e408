"""What rule authors do with users' verdicts: `radar feedback` lists them per rule, `radar
feedback export --rule ID` writes the disputed headlines as candidate `no_match` examples in
the rule file's format, and backtests and archive exports mark the items users judged.
(Collecting them from Telegram and Slack is `bot.feedback`'s.)"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.rules.version import short
from bot.storage import Store, VerdictRecord
from bot.types import Judgement


@dataclass(slots=True)
class Judged:
    """The verdicts on one alert."""

    alert_id: int
    title: str
    link: str | None
    rules: tuple[str, ...]
    rules_version: str | None
    feed_url: str
    guid: str
    counts: Counter[Judgement]

    @property
    def disputed(self) -> bool:
        return self.counts[Judgement.NOT_RELEVANT] > self.counts[Judgement.RELEVANT]

    def describe(self) -> str:
        relevant, not_relevant = (
            self.counts[Judgement.RELEVANT],
            self.counts[Judgement.NOT_RELEVANT],
        )
        return f"{not_relevant} not relevant, {relevant} relevant"


def by_alert(records: Sequence[VerdictRecord]) -> list[Judged]:
    judged: dict[int, Judged] = {}
    for r in records:
        entry = judged.setdefault(
            r.alert_id,
            Judged(
                r.alert_id, r.title, r.link, r.rules, r.rules_version, r.feed_url, r.guid, Counter()
            ),
        )
        entry.counts[r.verdict] += 1
    return list(judged.values())


def judged_items(store: Store) -> dict[tuple[str, str], str]:
    """(feed URL, GUID) of each judged item → its verdicts, for the backtest report."""
    return {(j.feed_url, j.guid): j.describe() for j in by_alert(store.verdicts.all())}


def listing(records: Sequence[VerdictRecord], rule_id: str | None = None) -> list[str]:
    """`radar feedback`: per rule, the counts, then the alerts judged, disputed first."""
    judged = by_alert(records)
    rules = sorted({r for j in judged for r in j.rules if rule_id in (None, r)})
    if not rules:
        return ["no verdicts yet" + (f" on {rule_id}" if rule_id else "")]
    lines: list[str] = []
    for rule in rules:
        mine = [j for j in judged if rule in j.rules]
        totals: Counter[Judgement] = Counter()
        for j in mine:
            totals.update(j.counts)
        disputed = sum(1 for j in mine if j.disputed)
        lines.append(
            f"{rule}: {len(mine)} alerts judged: {totals[Judgement.RELEVANT]} relevant, "
            f"{totals[Judgement.NOT_RELEVANT]} not relevant; {disputed} disputed"
        )
        for j in sorted(mine, key=lambda j: (not j.disputed, -j.alert_id)):
            mark = "✗" if j.disputed else "✓"
            lines.append(
                f"  {mark} alert {j.alert_id}: {j.title} ({j.describe()}; rules {short(j.rules_version)})"
            )
    return lines


def export_examples(records: Sequence[VerdictRecord], rule_id: str, now: float) -> tuple[str, int]:
    """The headlines users judged not relevant on alerts of `rule_id`, as candidate
    `no_match` examples in the rule file's format; and how many."""
    disputed = [j for j in by_alert(records) if rule_id in j.rules and j.disputed]
    titles = list(dict.fromkeys(j.title for j in disputed if j.title.strip()))
    header = [
        f"# Candidate no_match examples for rule {rule_id}, from users' verdicts",
        f"# ({len(disputed)} alerts judged not relevant, as of {time.strftime('%Y-%m-%d', time.gmtime(now))}).",
        f"# Review each, then move those that should never alert into rules/{rule_id}.yaml,",
        "# under examples: no_match:, and make `radar rules test` pass.",
    ]
    for j in disputed:
        header.append(f"#   alert {j.alert_id}: {j.describe()}; rules {short(j.rules_version)}")
    import yaml  # only this export writes YAML; `radar run` never does

    body = yaml.safe_dump(
        {"examples": {"no_match": titles}}, allow_unicode=True, sort_keys=False, width=100
    )
    return "\n".join(header) + "\n" + body, len(titles)
