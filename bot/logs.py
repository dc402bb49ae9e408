"""Logging set-up, and the guarantee that no secret (bot token) ever reaches a log.

httpx and python-telegram-bot log request URLs, and Telegram's URLs contain the bot token.
Redaction happens when a log record is created (a record factory), so it holds for every
logger, handler and level, including handlers that tests or other libraries add.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_secrets: tuple[str, ...] = ()
_base_factory = logging.getLogRecordFactory()


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the raw message, redacted
        message = f"{record.msg} {record.args}"
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(text)
        if record.exc_text != text:
            record.exc_info = None
    return record


def protect(secrets: Iterable[str | None]) -> None:
    """Redact these strings from every log record from now on."""
    global _secrets
    found = {s for s in secrets if s and len(s) >= 6}
    _secrets = tuple(sorted(found | set(_secrets), key=len, reverse=True))
    logging.setLogRecordFactory(_factory)


def setup(verbosity: int = 0, *, quiet: bool = False) -> None:
    """Human-readable logs on standard error."""
    level = logging.WARNING if quiet else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines from the HTTP clients are noise below DEBUG.
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
