"""Which version of the rules is running: what each alert records (the audit trail).

`git:<commit>` when the rules folder is in a git repository and has no uncommitted change
(tracked or not), else `sha256:<hash>` of its YAML files, so two folders with the same
content have the same version wherever they are. The feeds file is not part of it: it says
what is read, not what alerts.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from pathlib import Path

GIT_TIMEOUT = 10.0  # seconds for one git command
HASH_CHARS = 12  # of the sha256 shown and stored
RULE_SUFFIXES = (".yaml", ".yml")


def watched_files(folder: Path) -> list[Path]:
    """The files the rules are made of: every YAML file of the folder, in a stable order."""
    return sorted(
        {p.resolve() for p in folder.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file()}
    )


def content_hash(files: Iterable[Path], root: Path) -> str:
    """`sha256:<hash>` of these files' names (relative to `root` where they are inside it)
    and bytes."""
    digest = hashlib.sha256()
    root = root.resolve()
    for path in files:
        name = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return f"sha256:{digest.hexdigest()[:HASH_CHARS]}"


def git(folder: Path, *args: str) -> str | None:
    """A git command's output in `folder`, or None when git fails or is missing."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(folder: Path) -> str | None:
    """The commit checked out, when `folder` is in a git repository and clean."""
    commit = git(folder, "rev-parse", "--verify", "HEAD")
    if commit is None:
        return None
    changes = git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if changes is None or changes.strip():
        return None
    return commit.strip()


def rules_version(folder: Path) -> str:
    """The version of the rules in `folder` (see the module)."""
    commit = git_commit(folder)
    if commit is not None:
        return f"git:{commit}"
    return content_hash(watched_files(folder), folder)


def short(version: str | None) -> str:
    """A version as shown: `git:1a2b3c4d5e6f`, `sha256:…`, or `unknown` (older alerts)."""
    if not version:
        return "unknown"
    kind, _, value = version.partition(":")
    return f"{kind}:{value[:HASH_CHARS]}"
