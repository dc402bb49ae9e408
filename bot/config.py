"""Settings from the environment (see the table in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.durations import parse_duration
from bot.errors import ConfigError
from bot.models import (
    ALLOW_PRIVATE_REDIRECTS_VARIABLE,
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    FetchLimits,
)

DEFAULT_WINDOW = 4 * 86400.0  # how far apart two items of one story may be

DEFAULT_DB = "sqlite:///state/radar.db"
SLACK_API_URL = "https://slack.com/api/"
TELEGRAM_API_URL = "https://api.telegram.org/bot"
FLAG_ON = frozenset({"1", "true", "yes"})
FLAG_OFF = frozenset({"", "0", "false", "no"})
DEFAULT_COMMANDS_TIMEOUT = 10.0  # seconds `radar run --once` spends on Telegram commands
DEFAULT_MAX_CHATS = 50  # chats that may subscribe when TELEGRAM_ALLOWED_CHATS is unset
DEFAULT_ARCHIVE_DAYS = 90.0  # how long polled items are kept for backtests
DEFAULT_RELOAD_INTERVAL = 5.0  # seconds between two looks at the rules files in `radar run`
SLACK_NOT_RELEVANT = frozenset({"-1", "thumbsdown", "x"})  # reactions that judge an alert
SLACK_RELEVANT = frozenset({"+1", "thumbsup", "white_check_mark"})
DAY = 86400.0
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_MAX_RETRY_AFTER = 3600.0  # the most a service's Retry-After is obeyed for
DEFAULT_BURST_LIMIT = 10  # new alerts from one feed's poll to one destination, before a summary
LOG_FORMATS = ("text", "json")

# Every variable Radar reads, with what it means (`radar --help` lists them; the README's
# configuration table and radar.env.example say more).
VARIABLES = {
    "RADAR_DB": "database URL (sqlite:///PATH or postgresql://...)",
    "RADAR_RULES": "folder of rule files",
    "RADAR_FEEDS": "feeds file (default $RADAR_RULES/feeds.yaml)",
    "SLACK_BOT_TOKEN": "enables Slack delivery",
    "SLACK_API_URL": "Slack Web API base",
    "SLACK_DEFAULT_CHANNEL": "channel for rules that name none",
    "TELEGRAM_BOT_TOKEN": "enables Telegram delivery and commands",
    "TELEGRAM_API_URL": "Telegram Bot API base; the token follows it",
    "TELEGRAM_ALLOWED_CHATS": "comma-separated chat ids allowed to subscribe",
    "TELEGRAM_MAX_CHATS": "chats that may subscribe when TELEGRAM_ALLOWED_CHATS is unset",
    "TELEGRAM_COMMANDS_TIMEOUT": "seconds `radar run --once` spends on Telegram commands",
    "RADAR_STORY_WINDOW": "how far apart in time two items of one story may be",
    "RADAR_MAX_BYTES": "largest feed response accepted, in bytes",
    "RADAR_FETCH_TIMEOUT": "total seconds allowed for one fetch",
    "RADAR_ALLOW_PRIVATE_REDIRECTS": "1 lets public feeds redirect to private addresses",
    "RADAR_CONCURRENCY": "requests at once, overall",
    "RADAR_PER_HOST": "requests at once, per host",
    "RADAR_PARSE_WORKERS": "processes parsing feed bodies beside the main one (0: in-process)",
    "RADAR_HTTP_PORT": "serves /healthz, /metrics and a status page (unset: off; 0: any free port)",
    "RADAR_HTTP_HOST": "address the HTTP endpoint listens on",
    "RADAR_LOG_FORMAT": "text, or json for one JSON object per line",
    "RADAR_ARCHIVE_DAYS": "days polled items are kept for backtests",
    "RADAR_RELOAD_INTERVAL": "seconds between looks at the rules files (0: only on SIGHUP)",
    "RADAR_SLACK_NOT_RELEVANT": "Slack reactions that mark an alert not relevant",
    "RADAR_SLACK_RELEVANT": "Slack reactions that mark an alert relevant",
    "RADAR_MAX_RETRY_AFTER": "most seconds a Slack or Telegram Retry-After is obeyed for",
    "RADAR_BURST_LIMIT": "new alerts from one feed in one poll past which one summary is sent",
    "RADAR_CACHE_DIR": "folder of the compiled rules cache (default $XDG_CACHE_HOME/radar; off: none)",
}


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = DEFAULT_DB
    rules_dir: Path = Path("rules")
    feeds_file: Path = Path("rules/feeds.yaml")
    slack_token: str | None = None
    slack_api_url: str = SLACK_API_URL
    slack_default_channel: str | None = None
    telegram_token: str | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_allowed_chats: frozenset[int] | None = None
    telegram_max_chats: int = DEFAULT_MAX_CHATS  # 0: no limit
    telegram_commands_timeout: float = DEFAULT_COMMANDS_TIMEOUT
    story_window: float = DEFAULT_WINDOW
    fetch: FetchLimits = field(default_factory=FetchLimits)
    archive_days: float = DEFAULT_ARCHIVE_DAYS
    reload_interval: float = DEFAULT_RELOAD_INTERVAL  # 0: only on SIGHUP
    slack_not_relevant: frozenset[str] = SLACK_NOT_RELEVANT
    slack_relevant: frozenset[str] = SLACK_RELEVANT
    http_port: int | None = None  # None: no HTTP endpoint; 0: any free port
    http_host: str = DEFAULT_HTTP_HOST
    log_format: str = "text"
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    burst_limit: int = DEFAULT_BURST_LIMIT
    parse_workers: int | None = None  # None: the cores less one (bot.parsepool)
    cache_dir: Path | None = None  # None: no cache of the compiled rules (bot.watchcache)

    @property
    def console(self) -> bool:
        """With neither Slack nor Telegram configured, alerts go to standard output."""
        return not self.slack_token and not self.telegram_token

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.slack_token, self.telegram_token) if s)


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum:g}, got {raw!r}")
    return value


def _whole(env: Mapping[str, str], name: str) -> int | None:
    """A whole number of at least 0, or None when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"{name}: must be at least 0, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in FLAG_OFF:
        return False
    if raw in FLAG_ON:
        return True
    raise ConfigError(f"{name}: expected 1 or 0, got {env.get(name)!r}")


def _chats(raw: str | None) -> frozenset[int] | None:
    if raw is None or not raw.strip():
        return None
    chats: set[int] = set()
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            chats.add(int(part))
        except ValueError as exc:
            raise ConfigError(
                f"TELEGRAM_ALLOWED_CHATS: {part!r} is not a chat id (comma-separated integers)"
            ) from exc
    return frozenset(chats)


def _names(env: Mapping[str, str], name: str, default: frozenset[str]) -> frozenset[str]:
    """Comma-separated Slack reaction names (`-1, x` or `:-1:,:x:`)."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return frozenset(part.strip().strip(":") for part in raw.split(",") if part.strip(" :"))


def _port(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        port = int(raw)
    except ValueError as exc:
        raise ConfigError(f"RADAR_HTTP_PORT: expected a port number, got {raw!r}") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"RADAR_HTTP_PORT: a port is 0 to 65535, got {raw!r}")
    return port


def _log_format(raw: str | None) -> str:
    value = (raw or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"RADAR_LOG_FORMAT: expected text or json, got {raw!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    rules_dir = Path(env.get("RADAR_RULES") or "rules")
    feeds_file = Path(env.get("RADAR_FEEDS") or rules_dir / "feeds.yaml")
    window_raw = env.get("RADAR_STORY_WINDOW")
    try:
        window = parse_duration(window_raw) if window_raw else DEFAULT_WINDOW
    except ValueError as exc:
        raise ConfigError(f"RADAR_STORY_WINDOW: {exc}") from exc
    total_timeout = _number(env, "RADAR_FETCH_TIMEOUT", DEFAULT_TOTAL_TIMEOUT, 1.0)
    fetch = FetchLimits(
        max_bytes=int(_number(env, "RADAR_MAX_BYTES", DEFAULT_MAX_BYTES, 1024)),
        total_timeout=total_timeout,
        read_timeout=min(DEFAULT_READ_TIMEOUT, total_timeout),
        concurrency=int(_number(env, "RADAR_CONCURRENCY", 32, 1)),
        per_host=int(_number(env, "RADAR_PER_HOST", 2, 1)),
        allow_private_redirects=_flag(env, ALLOW_PRIVATE_REDIRECTS_VARIABLE),
    )
    return Settings(
        db_url=env.get("RADAR_DB") or DEFAULT_DB,
        rules_dir=rules_dir,
        feeds_file=feeds_file,
        slack_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_api_url=env.get("SLACK_API_URL") or SLACK_API_URL,
        slack_default_channel=env.get("SLACK_DEFAULT_CHANNEL") or None,
        telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_api_url=env.get("TELEGRAM_API_URL") or TELEGRAM_API_URL,
        telegram_allowed_chats=_chats(env.get("TELEGRAM_ALLOWED_CHATS")),
        telegram_max_chats=int(_number(env, "TELEGRAM_MAX_CHATS", DEFAULT_MAX_CHATS, 0)),
        telegram_commands_timeout=_number(
            env, "TELEGRAM_COMMANDS_TIMEOUT", DEFAULT_COMMANDS_TIMEOUT, 1.0
        ),
        story_window=window,
        fetch=fetch,
        archive_days=_number(env, "RADAR_ARCHIVE_DAYS", DEFAULT_ARCHIVE_DAYS, 1.0),
        reload_interval=_number(env, "RADAR_RELOAD_INTERVAL", DEFAULT_RELOAD_INTERVAL, 0.0),
        slack_not_relevant=_names(env, "RADAR_SLACK_NOT_RELEVANT", SLACK_NOT_RELEVANT),
        slack_relevant=_names(env, "RADAR_SLACK_RELEVANT", SLACK_RELEVANT),
        http_port=_port(env.get("RADAR_HTTP_PORT")),
        http_host=(env.get("RADAR_HTTP_HOST") or "").strip() or DEFAULT_HTTP_HOST,
        log_format=_log_format(env.get("RADAR_LOG_FORMAT")),
        max_retry_after=_number(env, "RADAR_MAX_RETRY_AFTER", DEFAULT_MAX_RETRY_AFTER, 1.0),
        burst_limit=int(_number(env, "RADAR_BURST_LIMIT", DEFAULT_BURST_LIMIT, 1)),
        parse_workers=_whole(env, "RADAR_PARSE_WORKERS"),
        cache_dir=_cache_dir(env),
    )


def _cache_dir(env: Mapping[str, str]) -> Path | None:
    """`RADAR_CACHE_DIR`, `off` for none; by default `radar` in the XDG cache folder (none
    when the environment names no home)."""
    raw = (env.get("RADAR_CACHE_DIR") or "").strip()
    if raw.casefold() == "off":
        return None
    if raw:
        return Path(raw)
    if base := env.get("XDG_CACHE_HOME") or "":
        return Path(base) / "radar"
    home = env.get("HOME") or ""
    return Path(home) / ".cache" / "radar" if home else None
