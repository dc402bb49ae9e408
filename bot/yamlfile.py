"""YAML loading that remembers the line of every value, so errors can name it.

Rule, actor, concept and feed files come by pull request, so loading them is bounded: a file
over `MAX_FILE_BYTES` is refused, and so is a document whose aliases would expand it beyond
`MAX_VALUES` values or `MAX_DEPTH` levels (an alias bomb, a recursive alias), before it is
built.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from bot.errors import ConfigError, Problem

Location = tuple[str | int, ...]
MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 250_000  # keys, values and collections, with every alias expanded
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed YAML file with the line of each value, keyed by its path of keys and indexes."""

    path: Path
    data: Any
    lines: dict[Location, int]

    def line(self, loc: Location) -> int | None:
        """The line of `loc`, or of its nearest parent that has one."""
        for end in range(len(loc), -1, -1):
            if (found := self.lines.get(loc[:end])) is not None:
                return found
        return None

    def problem(self, loc: Location, message: str, severity: str = "error") -> Problem:
        return Problem(self.path, self.line(loc), message, severity)


# libyaml's parser when PyYAML has it (several times faster), else PyYAML's own.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe loader without YAML 1.1's yes/no/on/off booleans (`no` stays the string "no")."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _walk(
    node: yaml.Node, loc: Location, lines: dict[Location, int], problems: list[Problem], path: Path
) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(path, key_node.start_mark.line + 1, f"key {key!r} appears twice")
                )
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines, problems, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*loc, index), lines, problems, path)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, path: Path) -> None:
    """Refuse a document whose aliases expand beyond the limits, counting each shared node
    once (so the check is linear in the file, whatever the expansion)."""
    measured: dict[int, tuple[int, int]] = {}  # node id -> (values, depth) when expanded
    open_nodes: set[int] = set()

    def refuse(node: yaml.Node, message: str) -> ConfigError:
        return ConfigError([Problem(path, node.start_mark.line + 1, message)])

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if (known := measured.get(key)) is not None:
            return known
        if key in open_nodes:
            raise refuse(node, "an alias refers to a collection that contains it")
        open_nodes.add(key)
        values, depth = 1, 0
        for child in _children(node):
            child_values, child_depth = measure(child)
            values, depth = values + child_values, max(depth, child_depth)
            if values > MAX_VALUES:
                raise refuse(
                    node,
                    f"aliases expand the document beyond {MAX_VALUES:,} values (an alias bomb?)",
                )
        if depth + 1 > MAX_DEPTH:
            raise refuse(node, f"values nested more than {MAX_DEPTH} levels deep")
        open_nodes.discard(key)
        measured[key] = (values, depth + 1)
        return measured[key]

    measure(root)


def _read(path: Path) -> str:
    """The file's text, refused beyond `MAX_FILE_BYTES`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError([Problem(path, None, _too_large())])
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(path, None, f"cannot read file: {exc}")]) from exc


def _too_large() -> str:
    return f"file is larger than the {MAX_FILE_BYTES / 1024 / 1024:g} MB limit"


def load_yaml(path: Path, text: str | None = None) -> YamlDoc:
    """Parse one YAML document; raise ConfigError naming the file and line on failure."""
    if text is not None and len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise ConfigError([Problem(path, None, _too_large())])
    source = _read(path) if text is None else text
    loader = _Loader(source)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([Problem(path, line, f"invalid YAML: {reason}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path, None, f"invalid YAML: {exc}")]) from exc
    except RecursionError as exc:
        raise ConfigError([Problem(path, None, "invalid YAML: nested too deeply")]) from exc
    finally:
        loader.dispose()
    lines: dict[Location, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), lines, problems, path)
    if problems:
        raise ConfigError(problems)
    return YamlDoc(path=path, data=data, lines=lines)


def _describe(error: dict[str, Any], loc: Location, known: frozenset[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = ".".join(map(str, loc[:-1]))
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}" + (f" in {parent}" if parent else "") + hint
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    where = ".".join(str(p) for p in loc) or "document"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{where}: {message}"


def validation_problems(
    doc: YamlDoc,
    error: pydantic.ValidationError,
    *,
    hidden: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Turn a pydantic ValidationError into problems with lines.

    `hidden` names union tags that pydantic puts into locations and the file does not have;
    `known` are the keys a typo is compared with.
    """
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p in hidden))
        problems.append(doc.problem(loc, _describe(dict(item), loc, known)))
    return problems
