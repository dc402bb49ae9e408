"""The feeds file (`rules/feeds.yaml`): which feeds to poll, how often, how old an item may be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from bot.errors import ConfigError, Problem
from bot.models import FeedSpec
from bot.yamlfile import load_yaml, validation_problems

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^\d+(\.\d+)?[smhdw]?$"


def parse_duration(value: Any) -> float:
    """`30s`, `5m`, `2h`, `3d`, `1w` or a number of seconds, as seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m, 2h or 3d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"expected a duration such as 30s, 5m, 2h or 3d, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "number"], "pattern": DURATION_PATTERN}),
]


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Duration = 600.0
    max_age: Duration = 3 * 86400.0
    baseline: bool = True


class _Feed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1)
    name: str | None = None
    interval: Duration | None = None
    max_age: Duration | None = None
    tags: list[str] = []
    baseline: bool | None = None


class FeedsFile(BaseModel):
    """Schema of the feeds file."""

    model_config = ConfigDict(extra="forbid")
    defaults: _Defaults = _Defaults()
    feeds: list[_Feed] = Field(min_length=1)


_KNOWN_KEYS = frozenset(FeedsFile.model_fields) | frozenset(_Feed.model_fields)
MIN_INTERVAL = 30.0


def resolve_local(url: str, feeds_file: Path) -> Path:
    """A local feed path: as given if it exists from the working directory, else beside the file."""
    path = Path(url).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return feeds_file.parent / path


@dataclass(frozen=True, slots=True)
class LoadedFeeds:
    feeds: list[FeedSpec]
    warnings: list[Problem]


def load_feeds(path: Path) -> LoadedFeeds:
    """Read and validate the feeds file; raise ConfigError naming file and line.

    Warnings (a local feed file that does not exist) do not stop Radar.
    """
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([Problem(path, 1, "expected a mapping with a 'feeds' list")])
    try:
        parsed = FeedsFile.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, known=_KNOWN_KEYS)) from exc
    problems: list[Problem] = []
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for index, feed in enumerate(parsed.feeds):
        loc = ("feeds", index, "url")
        url = feed.url.strip()
        if url in seen:
            problems.append(
                doc.problem(loc, f"feed {url!r} is listed twice (first at item {seen[url] + 1})")
            )
            continue
        seen[url] = index
        if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.I) and not url.lower().startswith(
            ("http://", "https://")
        ):
            problems.append(
                doc.problem(loc, f"unsupported URL scheme in {url!r}: use http(s) or a file path")
            )
            continue
        interval = feed.interval or parsed.defaults.interval
        if interval < MIN_INTERVAL:
            problems.append(
                doc.problem(
                    ("feeds", index, "interval"),
                    f"interval {interval:g}s is below the minimum of {MIN_INTERVAL:g}s",
                )
            )
            continue
        specs.append(
            FeedSpec(
                url=url,
                name=feed.name,
                interval=interval,
                max_age=feed.max_age or parsed.defaults.max_age,
                tags=tuple(feed.tags),
                baseline=parsed.defaults.baseline if feed.baseline is None else feed.baseline,
            )
        )
    if problems:
        raise ConfigError(problems)
    warnings = [
        doc.problem(
            ("feeds", index, "url"), f"local feed file {spec.url!r} does not exist", "warning"
        )
        for index, spec in enumerate(specs)
        if spec.is_local and not resolve_local(spec.url, path).exists()
    ]
    return LoadedFeeds(specs, warnings)
