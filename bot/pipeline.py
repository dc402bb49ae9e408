"""Polls, end to end: fetch → parse → match → merge → alerts in the outbox.

This is the thin shell around the pure decisions (`bot.decide`, `bot.rules`, `bot.merge`,
`bot.plan`, `bot.deliver.route`): it does the network and database work they ask for, in three
steps. `fetch` is network only. `prepare` parses, finds the new items and matches them, reading
but not writing, so matching never holds the write lock. `commit` stores the items of one or
several polls and merges them into stories in a stable order (published time, then the feed's
place in the feeds file, then the item's place in the feed), so the same input always gives the
same stories, alerts and headlines, whatever order the polls finished in. Alerts are written to
the outbox in the same transaction as the items they are about, before anything is sent; a
feed's state (validators, body hash) is saved with its last item, so a crash before then makes
the next poll read the feed again and lose nothing. What a poll carries from one step to the
next (`Prepared`, `PolledItem`, `PollReport`) is in `bot.polls`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot import decide, merge
from bot.config import Settings
from bot.decide import ItemDecision
from bot.deliver.route import destinations
from bot.errors import FeedParseError
from bot.fetch import Fetcher, read_local
from bot.models import FeedSpec, FeedState, FetchResult, Item, ItemMatches
from bot.parse import ParsedFeed, parse_feed
from bot.plan import plan_alerts
from bot.polls import ActiveRules, PolledItem, PollReport, Prepared, matches_json
from bot.rules import RuleSet
from bot.storage import Store, Transaction
from bot.types import AlertKind
from bot.types import ItemVerdict as Verdict
from bot.urls import resolve_local

__all__ = ["Pipeline", "PollReport", "Prepared"]

log = logging.getLogger(__name__)


COMMIT_CHUNK = 200  # items per write transaction while committing


class Pipeline:
    def __init__(
        self,
        store: Store,
        ruleset: RuleSet,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        rules_version: str = "",
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.active = ActiveRules.of(ruleset, rules_version)
        self.parse: Callable[..., ParsedFeed] = parse_feed  # or a pool's (bot.parsepool)

    @property
    def ruleset(self) -> RuleSet:
        return self.active.ruleset

    def use(self, ruleset: RuleSet, version: str) -> None:
        """Match and merge with these rules from now on (polls under way keep theirs)."""
        self.active = ActiveRules.of(ruleset, version)

    async def fetch(
        self, spec: FeedSpec, fetcher: Fetcher, state: FeedState | None = None
    ) -> tuple[FeedState, FetchResult]:
        """The feed's stored state and what fetching it gave."""
        if state is None:
            state = await asyncio.to_thread(self.store.feeds.state, spec.url)
        state = state or FeedState(url=spec.url)
        if spec.is_local:
            path = resolve_local(spec.url, self.settings.feeds_file)
            result = await asyncio.to_thread(read_local, spec.url, path, fetcher.limits.max_bytes)
        else:
            source = state.moved_to or spec.url
            result = await fetcher.fetch(source, etag=state.etag, last_modified=state.last_modified)
        return state, result

    async def poll(
        self, spec: FeedSpec, fetcher: Fetcher, state: FeedState | None = None
    ) -> PollReport:
        """Fetch one feed and commit what it holds."""
        state, result = await self.fetch(spec, fetcher, state)
        return await asyncio.to_thread(self.ingest, spec, state, result)

    def ingest(self, spec: FeedSpec, state: FeedState, result: FetchResult) -> PollReport:
        """Everything after one fetch: prepare, then commit."""
        return self.commit([self.prepare(spec, state, result)])[0]

    def prepare(
        self,
        spec: FeedSpec,
        state: FeedState,
        result: FetchResult,
        order: int = 0,
        cycle: float | None = None,
    ) -> Prepared:
        """Parse, find the new items and match them: reads, but writes nothing. `cycle` is
        when a cycle of polls began: its undated items count as published then, whichever
        feed answered first, so they are merged in the same order every run."""
        active = self.active
        now = self.clock()
        plan = decide.after_fetch(spec, state, result, now, self.rng)
        report = PollReport(
            spec.url, name=spec.name, wire_bytes=result.wire_bytes, seconds=result.elapsed
        )
        if not plan.parse:
            report.status = plan.note or ("error" if plan.state.last_error else "ok")
            report.error = plan.state.last_error
            report.state = plan.state
            return Prepared(spec, report, plan.state, order=order, now=now, rules=active)
        try:
            parsed = self.parse(
                result.body or b"",
                feed_url=spec.url,
                base_url=result.final_url if result.final_url and not spec.is_local else None,
                content_type=result.headers.get("content-type"),
                feed_name=spec.name,
                with_content=active.with_content,
            )
        except Exception as exc:  # whatever a hostile document does, the other feeds go on
            if isinstance(exc, FeedParseError):
                reason = str(exc)
            else:
                log.exception("parsing %s failed", spec.label)
                reason = f"cannot parse the feed: {exc!r}"
            failed = decide.failed_parse(spec, plan, reason, now, self.rng)
            report.status, report.error, report.state = "error", reason, failed
            return Prepared(spec, report, failed, order=order, now=now, rules=active)
        final = replace(
            plan.state,
            baselined=True,
            body_hash=plan.body_hash,
            title=parsed.title or state.title,
            last_error=parsed.warning,
        )
        report.state = final
        report.items = len(parsed.items)
        candidates = [
            self._polled(decision, position, active)
            for position, decision in enumerate(
                self._classify(spec, state, parsed, now, now if cycle is None else cycle)
            )
            if decision.verdict is not Verdict.SEEN
        ]
        return Prepared(spec, report, final, candidates, order, now, rules=active)

    def prepare_items(
        self, spec: FeedSpec, decisions: Sequence[ItemDecision], now: float, order: int = 0
    ) -> Prepared:
        """Items parsed before (an archive's) as one poll of `spec` that found them, matched
        and ready to commit: how a backtest replays them."""
        active = self.active
        report = PollReport(spec.url, items=len(decisions))
        state = FeedState(url=spec.url, baselined=True, last_poll=now)
        report.state = state
        candidates = [self._polled(d, n, active) for n, d in enumerate(decisions)]
        return Prepared(spec, report, state, candidates, order, now, rules=active)

    def _classify(
        self, spec: FeedSpec, state: FeedState, parsed: ParsedFeed, now: float, cycle: float
    ) -> list[ItemDecision]:
        items = parsed.items
        known_guids, known_links = self.store.items.known(
            spec.url, [i.guid for i in items], [i.canonical_link for i in items if i.canonical_link]
        )
        return decide.classify_items(
            items,
            known_guids=known_guids,
            known_links=known_links,
            baseline=spec.baseline and not state.baselined,
            max_age=spec.max_age,
            now=now,
            first_seen=cycle,
        )

    def _polled(self, decision: ItemDecision, position: int, active: ActiveRules) -> PolledItem:
        if decision.verdict is not Verdict.NEW:
            return PolledItem(decision, position)
        matches = active.ruleset.match(decision.item)
        if not matches.rules:
            return PolledItem(decision, position, matches)
        features = merge.features(
            decision.item,
            matches.actors,
            matches.rule_ids,
            active.ruleset.lexicon,
            title_actors=matches.title_actors,
        )
        return PolledItem(decision, position, matches, features)

    def store_quiet(self, prepared: Prepared) -> Prepared:
        """Store at once, in one statement, what of a poll cannot alert (a first poll's backlog,
        items too old, items no rule matched): it needs no order, and the poll's memory is
        freed. What may alert is left for `commit`, and so is a poll with nothing to store (a
        304, an error): `commit` saves such states together."""
        quiet = [c for c in prepared.items if c.features is None]
        loud = [c for c in prepared.items if c.features is not None]
        if prepared.saved or not quiet:  # nothing, or all loud: `commit` saves its state
            return prepared
        with self.store.transaction() as tx:
            quiet = self._unknown(tx, prepared.spec.url, quiet)
            tx.items.add_many(
                [(c.decision.item, c.decision.effective, c.decision.verdict) for c in quiet],
                first_seen=prepared.now,
            )
            if not loud:
                tx.feeds.save(prepared.state)
        report = prepared.report
        report.recorded += sum(1 for c in quiet if c.decision.verdict is Verdict.RECORD)
        report.new += sum(1 for c in quiet if c.decision.verdict is Verdict.NEW)
        return replace(prepared, items=loud, saved=not loud)

    def commit(self, batch: Sequence[Prepared]) -> list[PollReport]:
        """Store the items of these polls and merge them into stories, in a stable order: the
        time an item counts as published, the feed's place, the item's place in its feed."""
        batch = [self.store_quiet(p) for p in batch]
        queue = sorted(
            (
                (c.decision.effective, p.order, p.spec.url, c.position, n, c)
                for n, p in enumerate(batch)
                for c in p.items
            ),
            key=lambda entry: entry[:5],
        )
        last = {entry[4]: index for index, entry in enumerate(queue)}
        pending = [n for n, p in enumerate(batch) if n not in last and not p.saved]
        if pending:  # polls with nothing to store (304s, errors): their states, in one statement
            with self.store.transaction() as tx:
                tx.feeds.save_many([batch[n].state for n in pending])
        taken: set[str] = set()  # canonical links and global GUIDs stored by this commit
        for start in range(0, len(queue), COMMIT_CHUNK):
            with self.store.ingest() as tx:
                subscribers = tx.subscriptions.by_topic()
                chunk = range(start, min(start + COMMIT_CHUNK, len(queue)))
                fresh = self._fresh(tx, batch, [queue[index] for index in chunk])
                for index in chunk:
                    *_, n, candidate = queue[index]
                    prepared = batch[n]
                    if id(candidate) in fresh and self._first_of_batch(
                        candidate.decision.item, taken
                    ):
                        self._store(tx, prepared, candidate, subscribers)
                    if last[n] == index:
                        tx.feeds.save(prepared.state)
        return [p.report for p in batch]

    @staticmethod
    def _unknown(tx: Transaction, feed_url: str, candidates: list[PolledItem]) -> list[PolledItem]:
        """The candidates the database does not hold yet, read in the write transaction: another
        process may have stored them since the poll was prepared."""
        items = [c.decision.item for c in candidates]
        links = [i.canonical_link for i in items if i.canonical_link]
        guids, known_links = tx.items.known(feed_url, [i.guid for i in items], links)
        return [
            c
            for c in candidates
            if c.decision.item.guid not in guids
            and c.decision.item.canonical_link not in known_links
        ]

    def _fresh(
        self, tx: Transaction, batch: Sequence[Prepared], entries: Sequence[tuple[Any, ...]]
    ) -> set[int]:
        """Of a chunk's candidates, those the database does not hold yet (by id)."""
        by_poll: dict[int, list[PolledItem]] = {}
        for *_, n, candidate in entries:
            by_poll.setdefault(n, []).append(candidate)
        return {
            id(c)
            for n, candidates in by_poll.items()
            for c in self._unknown(tx, batch[n].spec.url, candidates)
        }

    @staticmethod
    def _first_of_batch(item: Item, taken: set[str]) -> bool:
        """Whether no earlier item of this commit had the same canonical link or global GUID
        (a URL or URN, unique across feeds); what the database held was checked when the
        polls were prepared."""
        keys = [k for k in (item.canonical_link, item.guid if ":" in item.guid else None) if k]
        if any(k in taken for k in keys):
            return False
        taken.update(keys)
        return True

    def _store(
        self,
        tx: Transaction,
        prepared: Prepared,
        candidate: PolledItem,
        subscribers: Mapping[str, Sequence[int]],
    ) -> None:
        decision, report = candidate.decision, prepared.report
        item = decision.item
        features = candidate.features
        item_id = tx.items.add(
            item,
            effective=decision.effective,
            first_seen=prepared.now,
            verdict=decision.verdict,
            features=features.to_json() if features else None,
        )
        report.new += 1
        if candidate.matches is not None and features is not None:
            self._alert(
                tx,
                prepared.rules or self.active,
                item_id,
                decision,
                candidate.matches,
                features,
                subscribers,
                prepared.now,
                report,
            )

    def find_story(
        self,
        tx: Transaction,
        item_id: int,
        features: merge.Features,
        effective: float,
        active: ActiveRules | None = None,
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
                    merge.Member(m.id, loaded, m.effective)
                    for m in members
                    if m.id != item_id and (loaded := _stored_features(m.id, m.features))
                ),
                frozenset(records[story_id].rules) if story_id in records else frozenset(),
            )
            for story_id, members in stored.items()
        ]
        active = active or self.active
        try:
            decision = merge.decide_story(
                features, candidates, active.kinds, when=effective, lexicon=active.ruleset.lexicon
            )
        except Exception:  # a bug must not lose the alert: a duplicate is the lesser harm
            log.exception("merging item %d failed; it opens a story of its own", item_id)
            decision = merge.MergeDecision(None)
        return decision, keys

    def _alert(
        self,
        tx: Transaction,
        active: ActiveRules,
        item_id: int,
        decision: ItemDecision,
        matches: ItemMatches,
        features: merge.Features,
        subscribers: Mapping[str, Sequence[int]],
        now: float,
        report: PollReport,
    ) -> None:
        """Apply what merging and `plan_alerts` decided, in the caller's transaction."""
        effective = decision.effective
        verdict, keys = self.find_story(tx, item_id, features, effective, active)
        rule_ids = list(matches.rule_ids)
        story = tx.stories.get(verdict.story_id) if verdict.story_id is not None else None
        roots = tx.alerts.story_roots(story.id) if story is not None else {}
        plan = plan_alerts(
            rule_ids,
            story.id if story is not None else None,
            frozenset(story.rules) if story is not None else frozenset(),
            roots,
            lambda rules: destinations(active.rules(rules), self.settings, subscribers),
        )
        if story is None:
            story_id = tx.stories.create(item_id, decision.item.title, effective, rule_ids, now)
        else:
            story_id = story.id
            tx.stories.grow(story, effective, rule_ids)
        tx.items.set_story(item_id, story_id, verdict.to_json())
        tx.stories.add_keys(story_id, keys, effective)
        payload = matches_json(matches)
        if plan.alert:
            report.alerts.append(
                tx.alerts.create(
                    story_id=story_id,
                    item_id=item_id,
                    kind=AlertKind.ALERT,
                    rules=list(plan.alert_rules),
                    matches=payload,
                    destinations=[(d, None) for d in plan.alert],
                    now=now,
                    rules_version=active.version,
                )
            )
        elif story is None:  # a new story nobody is told of: recorded, logged and counted
            alert_id = tx.alerts.create(
                story_id=story_id,
                item_id=item_id,
                kind=AlertKind.ALERT,
                rules=rule_ids,
                matches=payload,
                destinations=[],
                now=now,
                rules_version=active.version,
            )
            report.alerts.append(alert_id)
            report.unrouted.append(alert_id)
            log.warning(
                "alert %d (%s) has no destination: %s",
                alert_id,
                ", ".join(rule_ids),
                decision.item.title[:120],
            )
        if plan.followup:
            report.followups.append(
                tx.alerts.create(
                    story_id=story_id,
                    item_id=item_id,
                    kind=AlertKind.FOLLOWUP,
                    rules=rule_ids,
                    matches=payload,
                    destinations=list(plan.followup),
                    now=now,
                    rules_version=active.version,
                )
            )


def _stored_features(item_id: int, data: Mapping[str, Any] | None) -> merge.Features | None:
    """A stored item's merge features; None when it has none or they cannot be read (written
    by another version): that item is left out of comparisons, its story still found."""
    if not data:
        return None
    try:
        return merge.Features.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("item %d: stored merge features unreadable (%r); not compared", item_id, exc)
        return None
