"""Slack delivery through slack-sdk: Block Kit messages, thread replies for follow-ups,
about one message per second per channel, Retry-After obeyed (up to a cap), a token Slack
refuses puts Slack on hold, a message Slack refuses is recorded as failed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import DEFAULT_MAX_RETRY_AFTER
from bot.deliver.outcome import Failed, Held, Retry, SendResult, Sent
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.route import target_of
from bot.digest import Digest, slack_digest
from bot.format import AlertView, slack_message
from bot.logs import redact

log = logging.getLogger(__name__)

CHANNEL_SPACING = 1.1
# The token cannot send anywhere: Slack is put on hold, its rows kept for a working token.
TOKEN = {
    "invalid_auth": "SLACK_BOT_TOKEN is not valid",
    "not_authed": "no SLACK_BOT_TOKEN was sent",
    "account_inactive": "the bot's account or token was deactivated",
    "token_revoked": "SLACK_BOT_TOKEN was revoked",
    "token_expired": "SLACK_BOT_TOKEN has expired",
}
# This message cannot go to this channel: the row fails (`radar deliveries retry` resends).
PERMANENT = {
    "channel_not_found": "the channel does not exist (or the bot cannot see it)",
    "not_in_channel": "the bot is not a member of the channel: invite it",
    "is_archived": "the channel is archived",
    "missing_scope": "the token lacks the chat:write scope",
    "restricted_action": "the workspace does not allow the bot to post there",
    "msg_too_long": "the message is too long",
    "invalid_blocks": "Slack rejected the message blocks",
}
TRANSIENT = ("internal_error", "fatal_error", "service_unavailable", "request_timeout")
NOT_JSON = "Received a response in a non-JSON format"  # slack-sdk's error for such a body


def _limits(destination: str) -> list[tuple[str, float]]:
    """The channel's own limit: about one message a second."""
    return [(f"slack:{target_of(destination)}", CHANNEL_SPACING)]


def _ref(channel_id: str, ts: str) -> str:
    return f"{channel_id}/{ts}"


class SlackSender:
    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        limiter: RateLimiter | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self.client = WebClient(token=token, base_url=base_url, timeout=20)
        self.client.retry_handlers = []  # retries are the outbox's job
        self.limiter = limiter or RateLimiter()
        self.max_retry_after = max_retry_after

    async def check(self) -> Held | None:
        """auth.test, once: a token Slack refuses is a hold; trouble reaching Slack is not."""
        try:
            response = await asyncio.to_thread(self.client.auth_test)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error in TOKEN:
                return Held(f"Slack {error}: {TOKEN[error]}")
            log.warning("Slack auth.test failed: %s", redact(error))
            return None
        except Exception as exc:
            log.warning("cannot reach Slack to check the token: %s", redact(f"{exc!r}"))
            return None
        log.info("Slack token ok: bot %s of team %s", response.get("user"), response.get("team"))
        return None

    async def wait_turn(self, destination: str) -> None:
        await self.limiter.wait(_limits(destination))

    def spacing(self, destination: str) -> float:
        return CHANNEL_SPACING

    def share(self, instances: int) -> None:
        return None  # Slack's limit is per channel, and one instance writes to a channel at a time

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        return await self._post(destination, *slack_message(view), parent_ref)

    async def send_digest(self, destination: str, digest: Digest) -> SendResult:
        return await self._post(destination, *slack_digest(digest), None)

    async def _post(
        self, destination: str, text: str, blocks: list[dict[str, Any]], parent_ref: str | None
    ) -> SendResult:
        channel = target_of(destination)
        thread_ts = None
        if parent_ref:
            channel_id, _, thread_ts = parent_ref.partition("/")
            channel = channel_id or channel
        try:
            response = await asyncio.to_thread(
                self.client.chat_postMessage,
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                # Names in the text are never turned into mentions: headlines are feed text.
                link_names=False,
                parse="none",
            )
        except SlackApiError as exc:
            return self._failure(destination, exc)
        except Exception as exc:  # network trouble: urllib errors, timeouts, resets
            return Retry(redact(f"cannot reach Slack: {type(exc).__name__}: {exc}"))
        finally:  # the channel's spacing counts from the answer too
            self.limiter.finished(_limits(destination))
        return Sent(_ref(str(response.get("channel") or channel), str(response["ts"])))

    def _failure(self, destination: str, exc: SlackApiError) -> SendResult:
        response = exc.response
        error = str(response.get("error") or "unknown_error")
        if response.status_code == 429 or error == "ratelimited":
            header = (
                response.headers.get("Retry-After") or response.headers.get("retry-after") or "1"
            )
            seconds = float(header) if str(header).replace(".", "", 1).isdigit() else 1.0
            self.limiter.pause(
                f"slack:{target_of(destination)}", min(seconds, self.max_retry_after)
            )
            return Retry(f"Slack rate limit: retry after {seconds:g}s", after=seconds)
        if error in TOKEN:
            return Held(f"Slack {error}: {TOKEN[error]}")
        if error in PERMANENT:
            return Failed(f"Slack {error}: {PERMANENT[error]} ({target_of(destination)})")
        if response.status_code >= 500 or error in TRANSIENT:
            return Retry(f"Slack {error} (HTTP {response.status_code})")
        if error.startswith(NOT_JSON):
            return Retry(redact(f"Slack's answer was not JSON (HTTP {response.status_code})"))
        return Failed(redact(f"Slack {error} (HTTP {response.status_code})"))
