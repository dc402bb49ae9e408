"""The feeds file (`rules/feeds.yaml`): which feeds to poll, how often, how old an item may be."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from bot.durations import DURATION_PATTERN, parse_duration
from bot.errors import ConfigError, Problem
from bot.models import FeedSpec
from bot.urls import WEB_SCHEMES, hide_credentials, resolve_local, url_problem
from bot.yamlfile import load_yaml, validation_problems

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)(:(?://)?)", re.I)
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


def normalise_feed_url(url: str) -> str:
    """A feed's URL as Radar keeps it: trimmed, with a lower-case scheme."""
    url = url.strip()
    if (m := _SCHEME.match(url)) and (m.group(2) == "://" or m.group(1).lower() in WEB_SCHEMES):
        return m.group(1).lower() + url[m.end(1) :]
    return url


def feed_url_problem(url: str) -> str | None:
    """Why a feeds-file `url` cannot be polled, or None. A URL (`scheme://…`, or `http:`
    without its slashes) must be a valid http(s) URL; anything else is a local file path."""
    if (m := _SCHEME.match(url)) and (m.group(2) == "://" or m.group(1).lower() in WEB_SCHEMES):
        return url_problem(url)
    if any(unicodedata.category(ch) == "Cc" for ch in url):
        return "it contains control characters"
    return None


@dataclass(frozen=True, slots=True)
class LoadedFeeds:
    """The feeds to poll and the problems found, none of which stops Radar: errors for the
    feeds left out (an impossible URL), which make `radar rules check` fail while `radar run`
    polls the others, and warnings (a local feed file that does not exist)."""

    feeds: list[FeedSpec]
    problems: list[Problem]


def load_feeds(path: Path) -> LoadedFeeds:
    """Read and validate the feeds file; raise ConfigError naming file and line for a problem
    with the file as a whole (bad YAML, unknown keys, a duplicate feed, too short an interval).
    """
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([Problem(path, 1, "expected a mapping with a 'feeds' list")])
    try:
        parsed = FeedsFile.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, known=_KNOWN_KEYS)) from exc
    problems: list[Problem] = []  # each stops Radar
    kept: list[Problem] = []  # feeds left out, and warnings
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for index, feed in enumerate(parsed.feeds):
        loc = ("feeds", index, "url")
        url = normalise_feed_url(feed.url)
        shown = hide_credentials(url)
        if url in seen:
            problems.append(
                doc.problem(loc, f"feed {shown!r} is listed twice (first at item {seen[url] + 1})")
            )
            continue
        seen[url] = index
        if (problem := feed_url_problem(url)) is not None:
            kept.append(
                doc.problem(loc, f"invalid feed URL {shown!r}: {problem}; radar run skips it")
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
        spec = FeedSpec(
            url=url,
            name=feed.name,
            interval=interval,
            max_age=feed.max_age or parsed.defaults.max_age,
            tags=tuple(feed.tags),
            baseline=parsed.defaults.baseline if feed.baseline is None else feed.baseline,
        )
        if spec.is_local and not resolve_local(spec.url, path).exists():
            kept.append(doc.problem(loc, f"local feed file {url!r} does not exist", "warning"))
        specs.append(spec)
    if problems:
        raise ConfigError([*problems, *kept])
    return LoadedFeeds(specs, kept)


def _yaml_scalar(value: Any) -> str:
    """One value as YAML on one line (quoted when it must be)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 20)
    return text.removesuffix("\n...\n").rstrip("\n")


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) any value under `node` is written on."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    return max((_last_line(child) for child in children), default=node.start_mark.line)


def add_feeds_text(text: str, path: Path, entries: list[dict[str, Any]]) -> str:
    """The feeds file's text with `entries` appended to its `feeds` list, written in the style
    of the entries already there; every other line, comments included, is kept as it was."""
    newline = "\r\n" if "\r\n" in text else "\n"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path, None, f"invalid YAML: {exc}")]) from exc
    feeds_node: yaml.Node | None = None
    key_line = 0
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "feeds":
                feeds_node, key_line = value, key.start_mark.line
    elif root is not None:
        raise ConfigError([Problem(path, 1, "expected a mapping with a 'feeds' list")])
    lines = text.splitlines(keepends=True)
    dash, indent = "  - ", "    "
    if feeds_node is None:
        at = len(lines)
        header = [f"feeds:{newline}"]
    elif isinstance(feeds_node, yaml.SequenceNode) and not feeds_node.flow_style:
        header = []
        at = _last_line(feeds_node) + 1 if feeds_node.value else key_line + 1
        if feeds_node.value:
            first = feeds_node.value[0].start_mark
            prefix = lines[first.line][: first.column]
            if prefix.strip() == "-":
                dash, indent = prefix, " " * first.column
    elif isinstance(feeds_node, yaml.ScalarNode) and feeds_node.tag.endswith(":null"):
        header, at = [], key_line + 1
    else:
        raise ConfigError(
            [
                Problem(
                    path,
                    key_line + 1,
                    "'feeds' is not written as a block list (one '- url: …' a line); "
                    "rewrite it so to import into it",
                )
            ]
        )
    added: list[str] = []
    for entry in entries:
        for n, (key, value) in enumerate(entry.items()):
            added.append(f"{dash if n == 0 else indent}{key}: {_yaml_scalar(value)}{newline}")
    if at > 0 and at <= len(lines) and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += newline
    return "".join([*lines[:at], *header, *added, *lines[at:]])
