"""Users' verdicts on alerts, and what rule authors do with them.

Telegram alerts carry two small buttons ("Relevant", "Not relevant"); a press is accepted only
from the chat the alert went to, on the message that carried it (a forged callback naming an
alert another chat received is refused). In Slack, reactions on the bot's recent alerts count
the same (by default `:-1:` or `:x:` for not relevant, `:+1:` or `:white_check_mark:` for
relevant), read with `reactions.get` on each alert's own message, so no public endpoint is
needed. Verdicts are stored with the alert, its rules and their version; `radar feedback` lists
them per rule and `radar feedback export --rule ID` writes the disputed headlines as candidate
`no_match` examples (`bot.verdicts`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import DAY, Settings
from bot.deliver.route import target_of
from bot.format import AlertView
from bot.logs import redact
from bot.storage import Store
from bot.types import Judgement

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "verdict:"
BUTTONS = ((Judgement.RELEVANT, "👍 Relevant"), (Judgement.NOT_RELEVANT, "👎 Not relevant"))
CODES = {Judgement.RELEVANT: "y", Judgement.NOT_RELEVANT: "n"}
SLACK_WINDOW = 7 * DAY  # Slack alerts whose reactions are read
SLACK_MAX_ALERTS = 200  # read per round, newest first (reactions.get allows about 50 a minute)
SLACK_INTERVAL = 300.0  # seconds between two rounds in `radar run`
SLACK_TIMEOUT = 20
_CALLBACK = re.compile(rf"^{CALLBACK_PREFIX}(\d+):([yn])$")
_SKIN_TONE = re.compile(r"::skin-tone-\d$")


# -- Telegram ----------------------------------------------------------------------------


def telegram_markup(view: AlertView) -> InlineKeyboardMarkup | None:
    """The verdict buttons under an alert (none under a follow-up)."""
    if view.is_followup:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    text, callback_data=f"{CALLBACK_PREFIX}{view.alert_id}:{CODES[v]}"
                )
                for v, text in BUTTONS
            ]
        ]
    )


def is_verdict(data: str | None) -> bool:
    return bool(data) and str(data).startswith(CALLBACK_PREFIX)


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    notice: str


def judge_telegram(
    store: Store, data: str, chat_id: int, message_id: int, user_id: int, now: float
) -> Outcome:
    """A press on a verdict button: accepted only when that alert was delivered to this chat
    as this very message."""
    found = _CALLBACK.match(data)
    if found is None:
        return Outcome(False, "Unknown button")
    alert_id = int(found.group(1))
    verdict = Judgement.RELEVANT if found.group(2) == "y" else Judgement.NOT_RELEVANT
    destination = f"telegram:{chat_id}"
    delivery = store.outbox.sent_to(alert_id, destination)
    if delivery is None or delivery.ref != str(message_id):
        log.warning(
            "refused a verdict on alert %d from chat %d (message %d): the alert was not "
            "delivered there",
            alert_id,
            chat_id,
            message_id,
        )
        return Outcome(False, "This alert was not sent to this chat")
    store.verdicts.record(alert_id, destination, f"telegram:{user_id}", verdict, now)
    log.info("chat %d: user %d judged alert %d %s", chat_id, user_id, alert_id, verdict)
    label = "relevant" if verdict is Judgement.RELEVANT else "not relevant"
    return Outcome(True, f"Thanks: marked {label}")


async def on_telegram_callback(store: Store, query: CallbackQuery, now: float) -> None:
    """Record (or refuse) a verdict button press and answer it."""
    message = query.message
    if message is None or not query.data:
        await query.answer()
        return
    outcome = await asyncio.to_thread(
        judge_telegram,
        store,
        query.data,
        message.chat.id,
        message.message_id,
        query.from_user.id,
        now,
    )
    await query.answer(outcome.notice, show_alert=not outcome.accepted)


# -- Slack -------------------------------------------------------------------------------


def _reaction(name: str) -> str:
    return _SKIN_TONE.sub("", name)


def verdicts_of(reactions: Sequence[dict[str, object]], settings: Settings) -> dict[str, Judgement]:
    """Each user's verdict from a message's reactions (not relevant wins over relevant)."""
    found: dict[str, Judgement] = {}
    for reaction in reactions:
        name = _reaction(str(reaction.get("name", "")))
        if name in settings.slack_not_relevant:
            verdict = Judgement.NOT_RELEVANT
        elif name in settings.slack_relevant:
            verdict = Judgement.RELEVANT
        else:
            continue
        users = reaction.get("users")
        for user in users if isinstance(users, list) else []:
            if found.get(str(user)) is not Judgement.NOT_RELEVANT:
                found[str(user)] = verdict
    return found


class SlackVerdicts:
    """Reads the reactions on the bot's recent Slack alerts."""

    def __init__(self, settings: Settings, store: Store) -> None:
        assert settings.slack_token is not None
        from slack_sdk import WebClient  # only a Slack-configured Radar pays its import

        base = (
            settings.slack_api_url
            if settings.slack_api_url.endswith("/")
            else settings.slack_api_url + "/"
        )
        self.client = WebClient(token=settings.slack_token, base_url=base, timeout=SLACK_TIMEOUT)
        self.client.retry_handlers = []
        self.settings = settings
        self.store = store

    def collect(self, now: float) -> int:
        """One round: every recent alert's reactions read and stored; how many verdicts."""
        from slack_sdk.errors import SlackApiError

        counted = 0
        for delivery in self.store.outbox.recent_alerts(
            "slack", now - SLACK_WINDOW, SLACK_MAX_ALERTS
        ):
            if not delivery.ref or "/" not in delivery.ref:
                continue
            channel, _, ts = delivery.ref.partition("/")
            try:
                response = self.client.reactions_get(channel=channel, timestamp=ts, full=True)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or exc.response.status_code)
                if error in ("ratelimited", "429"):
                    log.info("Slack reactions: rate limited; the next round goes on")
                    return counted
                log.warning(
                    "Slack reactions on alert %d in %s: %s",
                    delivery.alert_id,
                    target_of(delivery.destination),
                    redact(error),
                )
                continue
            except Exception as exc:  # network trouble: try again next round
                log.warning(
                    "cannot reach Slack for reactions: %s", redact(f"{type(exc).__name__}: {exc}")
                )
                return counted
            message = response.get("message") or {}
            if str(response.get("channel") or channel) != channel:
                continue  # only the channel the alert went to counts
            voters = verdicts_of(message.get("reactions") or [], self.settings)
            for user, verdict in voters.items():
                self.store.verdicts.record(
                    delivery.alert_id, delivery.destination, f"slack:{user}", verdict, now
                )
            self.store.verdicts.withdraw(
                delivery.alert_id, delivery.destination, [f"slack:{u}" for u in voters], "slack:"
            )
            counted += len(voters)
        return counted

    async def run(self, stop: asyncio.Event, interval: float = SLACK_INTERVAL) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.collect, time.time())
            except Exception:
                log.exception("reading Slack reactions failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue
