"""Logging set-up, and the guarantee that no secret reaches a log.

httpx and python-telegram-bot log request URLs, and Telegram's URLs contain the bot token;
a proxy or an error page may echo a URL percent-encoded; feed URLs may carry a password.
Redaction happens when a log record is created (a record factory), so it holds for every
logger, handler and level, including handlers that tests or other libraries add.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.untrusted import for_terminal
from bot.urls import hide_credentials

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6
_secrets: tuple[str, ...] = ()
_pattern: re.Pattern[str] | None = None
_base_factory = logging.getLogRecordFactory()


def _hex(byte: int) -> str:
    """A byte's two hex digits as a pattern of either case."""
    return "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}")


def _char_pattern(char: str) -> str:
    """A character as written, or percent-encoded once or twice (`:` `%3A` `%3a` `%253A`)."""
    encoded = "".join(f"%(?:25)?{_hex(b)}" for b in char.encode("utf-8"))
    return f"(?:{re.escape(char)}|{encoded})"


def _secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(secrets), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join("".join(_char_pattern(c) for c in s) for s in ordered))


def redact(text: str) -> str:
    """`text` without the protected secrets (raw or percent-encoded) and URL credentials."""
    if _pattern is not None:
        text = _pattern.sub(REDACTED, text)
    return hide_credentials(text)


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
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
    """Redact these strings (and every URL's credentials) from every log record from now on."""
    global _secrets, _pattern
    found = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    _secrets = tuple(found | set(_secrets))
    _pattern = _secret_pattern(_secrets)
    logging.setLogRecordFactory(_factory)


def timestamp(record: logging.LogRecord) -> str:
    """When a record was made, in ISO 8601 with the local time zone's offset."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`2025-01-31T14:05:09.123+01:00 WARNING bot.service: message`, with control, bidi and
    invisible characters shown as escapes: a message may quote what a feed or a chat sent."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the exception if any, and the
    record's `extra` fields (a feed's name and URL, for instance), all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(clean, ensure_ascii=False)


def setup(verbosity: int = 0, *, quiet: bool = False, fmt: str = "text") -> None:
    """Logs on standard error, redacted: readable lines, or JSON lines with `fmt="json"`."""
    logging.setLogRecordFactory(_factory)
    level = logging.WARNING if quiet else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines from the HTTP clients are noise below DEBUG.
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
