"""One poll of one feed, end to end: fetch → parse → match → merge → alerts in the outbox.

This is the thin shell around the pure decisions (`bot.decide`, `bot.rules`, `bot.merge`,
`bot.deliver.route`): it does the network and database work they ask for. Alerts are written
to the outbox in the same transaction as the items they are about, before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot import decide, merge
from bot.config import Settings
from bot.decide import ItemDecision, Verdict
from bot.deliver.route import destinations
from bot.feeds import resolve_local
from bot.fetch import Fetcher, FetchResult, read_local
from bot.models import FeedSpec, FeedState, ItemMatches
from bot.parse import FeedParseError, ParsedFeed, parse_feed
from bot.rules import Rule, RuleSet
from bot.storage import Store, Transaction
from bot.types import AlertKind

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PollReport:
    """What one poll did, for logs, `radar run --once` and tests."""

    url: str
    status: str = "ok"
    error: str | None = None
    items: int = 0
    new: int = 0
    recorded: int = 0
    alerts: list[int] = field(default_factory=list)
    followups: list[int] = field(default_factory=list)
    state: FeedState | None = None
    wire_bytes: int = 0
    seconds: float = 0.0


def matches_json(matches: ItemMatches) -> dict[str, list[dict[str, str]]]:
    return {
        m.rule_id: [
            {"term": h.term, "field": h.field, "text": h.text, "kind": h.kind} for h in m.hits
        ]
        for m in matches.rules
    }


class Pipeline:
    def __init__(
        self,
        store: Store,
        ruleset: RuleSet,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.ruleset = ruleset
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._kinds = {a.id: a.kind for a in ruleset.actors.values()}
        self._with_content = any("content" in r.fields for r in ruleset.rules)

    async def poll(
        self, spec: FeedSpec, fetcher: Fetcher, state: FeedState | None = None
    ) -> PollReport:
        """Fetch one feed and ingest what it holds."""
        if state is None:
            state = await asyncio.to_thread(self.store.feeds.state, spec.url)
        state = state or FeedState(url=spec.url)
        if spec.is_local:
            path = resolve_local(spec.url, self.settings.feeds_file)
            result = await asyncio.to_thread(read_local, spec.url, path, fetcher.limits.max_bytes)
        else:
            source = state.moved_to or spec.url
            result = await fetcher.fetch(source, etag=state.etag, last_modified=state.last_modified)
        return await asyncio.to_thread(self.ingest, spec, state, result)

    def ingest(self, spec: FeedSpec, state: FeedState, result: FetchResult) -> PollReport:
        """Everything after the fetch: parse (off the event loop), store, match, merge."""
        now = self.clock()
        plan = decide.after_fetch(spec, state, result, now, self.rng)
        report = PollReport(spec.url, wire_bytes=result.wire_bytes, seconds=result.elapsed)
        if not plan.parse:
            report.status = plan.note or ("error" if plan.state.last_error else "ok")
            report.error = plan.state.last_error
            self.store.feeds.save(plan.state)
            report.state = plan.state
            return report
        try:
            parsed = parse_feed(
                result.body or b"",
                feed_url=spec.url,
                base_url=result.final_url if result.final_url and not spec.is_local else None,
                content_type=result.headers.get("content-type"),
                feed_name=spec.name,
                with_content=self._with_content,
            )
        except Exception as exc:  # whatever a hostile document does, the other feeds go on
            if isinstance(exc, FeedParseError):
                reason = str(exc)
            else:
                log.exception("parsing %s failed", spec.url)
                reason = f"cannot parse the feed: {exc!r}"
            failed = decide.failed_parse(spec, plan, reason, now, self.rng)
            self.store.feeds.save(failed)
            report.status, report.error, report.state = "error", reason, failed
            return report
        final = replace(
            plan.state,
            baselined=True,
            body_hash=plan.body_hash,
            title=parsed.title or state.title,
            last_error=parsed.warning,
        )
        with self.store.ingest() as tx:
            self._store_items(tx, spec, state, parsed, now, report)
            tx.feeds.save(final)
        report.state = final
        return report

    def _store_items(
        self,
        tx: Transaction,
        spec: FeedSpec,
        state: FeedState,
        parsed: ParsedFeed,
        now: float,
        report: PollReport,
    ) -> None:
        items = parsed.items
        known_guids, known_links = tx.items.known(
            spec.url, [i.guid for i in items], [i.canonical_link for i in items if i.canonical_link]
        )
        decisions = decide.classify_items(
            items,
            known_guids=known_guids,
            known_links=known_links,
            baseline=spec.baseline and not state.baselined,
            max_age=spec.max_age,
            now=now,
        )
        report.items = len(items)
        subscribers: Mapping[str, Sequence[int]] | None = None
        for decision in decisions:
            if decision.verdict is Verdict.SEEN:
                continue
            matches = self.ruleset.match(decision.item) if decision.verdict is Verdict.NEW else None
            features = (
                merge.features(
                    decision.item,
                    matches.actors,
                    matches.rule_ids,
                    self.ruleset.lexicon,
                    title_actors=matches.title_actors,
                )
                if matches and matches.rules
                else None
            )
            item_id = tx.items.add(
                decision.item,
                effective=decision.effective,
                first_seen=now,
                verdict=decision.verdict,
                features=features.to_json() if features else None,
            )
            if decision.verdict is Verdict.RECORD:
                report.recorded += 1
                continue
            report.new += 1
            if matches and matches.rules and features is not None:
                if subscribers is None:
                    subscribers = tx.subscriptions.by_topic()
                self._alert(tx, item_id, decision, matches, features, subscribers, now, report)

    def find_story(
        self, tx: Transaction, item_id: int, features: merge.Features, effective: float
    ) -> tuple[merge.MergeDecision, list[str]]:
        """The story an item joins (looked up through the key index, within the window) and
        the keys to file it under."""
        window = self.settings.story_window
        keys = merge.index_keys(features)
        found = tx.stories.candidates(keys, effective - window, effective + window)
        story_ids = [story_id for story_id, _ in found]
        stored = tx.stories.first_items(story_ids)
        records = tx.stories.many(story_ids)
        candidates = [
            merge.Candidate(
                story_id,
                tuple(
                    merge.Member(m.id, merge.Features.from_json(m.features), m.effective)
                    for m in members
                    if m.features and m.id != item_id
                ),
                frozenset(records[story_id].rules) if story_id in records else frozenset(),
            )
            for story_id, members in stored.items()
        ]
        decision = merge.decide_story(
            features, candidates, self._kinds, when=effective, lexicon=self.ruleset.lexicon
        )
        return decision, keys

    def _alert(
        self,
        tx: Transaction,
        item_id: int,
        decision: ItemDecision,
        matches: ItemMatches,
        features: merge.Features,
        subscribers: Mapping[str, Sequence[int]],
        now: float,
        report: PollReport,
    ) -> None:
        effective = decision.effective
        verdict, keys = self.find_story(tx, item_id, features, effective)
        rule_ids = list(matches.rule_ids)
        payload = matches_json(matches)
        if verdict.story_id is None:
            story_id = tx.stories.create(item_id, decision.item.title, effective, rule_ids, now)
            tx.items.set_story(item_id, story_id, verdict.to_json())
            tx.stories.add_keys(story_id, keys, effective)
            targets = destinations(self._rules(rule_ids), self.settings, subscribers)
            alert_id = tx.alerts.create(
                story_id=story_id,
                item_id=item_id,
                kind=AlertKind.ALERT,
                rules=rule_ids,
                matches=payload,
                destinations=[(d, None) for d in targets],
                now=now,
            )
            report.alerts.append(alert_id)
            return
        story = tx.stories.get(verdict.story_id)
        assert story is not None
        new_rules = [r for r in rule_ids if r not in story.rules]
        roots = tx.alerts.story_roots(story.id)
        tx.stories.grow(story, effective, rule_ids)
        tx.items.set_story(item_id, story.id, verdict.to_json())
        tx.stories.add_keys(story.id, keys, effective)
        if new_rules:
            fresh = [
                d
                for d in destinations(self._rules(new_rules), self.settings, subscribers)
                if d not in roots
            ]
            if fresh:
                report.alerts.append(
                    tx.alerts.create(
                        story_id=story.id,
                        item_id=item_id,
                        kind=AlertKind.ALERT,
                        rules=new_rules,
                        matches=payload,
                        destinations=[(d, None) for d in fresh],
                        now=now,
                    )
                )
        if roots:
            report.followups.append(
                tx.alerts.create(
                    story_id=story.id,
                    item_id=item_id,
                    kind=AlertKind.FOLLOWUP,
                    rules=rule_ids,
                    matches=payload,
                    destinations=sorted(roots.items()),
                    now=now,
                )
            )

    def _rules(self, rule_ids: Sequence[str]) -> list[Rule]:
        return [r for r in (self.ruleset.by_id(i) for i in rule_ids) if r is not None]
