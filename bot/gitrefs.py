"""The rules folder as it was at a git ref, for backtests against a base.

The base defaults to the merge base of HEAD with `main` (or `origin/main`, as CI checks it
out); the folder is extracted with `git archive` into a temporary directory, so the working
tree is never touched.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import RefError
from bot.rules.version import GIT_TIMEOUT, git

DEFAULT_BRANCHES = ("main", "origin/main")


@dataclass(frozen=True, slots=True)
class BaseRules:
    folder: Path  # the rules folder as it was at `commit`, extracted
    commit: str
    label: str  # how the ref was given: `main`, `origin/main`, `merge base with main`


def _toplevel(folder: Path) -> tuple[Path, str]:
    top = git(folder, "rev-parse", "--show-toplevel")
    prefix = git(folder, "rev-parse", "--show-prefix")
    if top is None or prefix is None:
        raise RefError(
            f"{folder} is not in a git repository: a backtest compares the rules with those at "
            "a git ref (--base)"
        )
    return Path(top.strip()), prefix.strip().rstrip("/")


def resolve(folder: Path, ref: str | None) -> tuple[str, str]:
    """(commit, label) of `ref`, or of the merge base of HEAD with main when `ref` is None."""
    _toplevel(folder)
    if ref is None:
        for branch in DEFAULT_BRANCHES:
            base = git(folder, "merge-base", "HEAD", branch)
            if base is not None:
                return base.strip(), f"merge base with {branch}"
        raise RefError(
            "no branch main (or origin/main) to find the merge base with: give --base REF "
            "(a branch, tag or commit)"
        )
    if ref.startswith("-"):
        raise RefError(f"--base {ref}: not a git ref")
    commit = git(
        folder, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    if commit is None:
        raise RefError(
            f"--base {ref}: no such commit, branch or tag in this repository (in CI, fetch the "
            "base branch first, for example with fetch-depth: 0)"
        )
    return commit.strip(), ref


def extract(folder: Path, ref: str | None, into: Path) -> BaseRules:
    """The rules folder `folder` as it was at `ref`, extracted under `into`."""
    top, prefix = _toplevel(folder)
    commit, label = resolve(folder, ref)
    path = prefix or "."
    try:
        done = subprocess.run(
            ["git", "-C", str(top), "archive", "--format=tar", commit, "--", path],
            capture_output=True,
            timeout=GIT_TIMEOUT * 6,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RefError(f"git archive {commit[:12]} failed: {exc}") from exc
    if done.returncode != 0:
        raise RefError(f"{label} ({commit[:12]}) has no folder {path}/ to compare the rules with")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
    extracted = into / prefix if prefix else into
    if not extracted.is_dir():
        raise RefError(f"{label} ({commit[:12]}) has no folder {path}/ to compare the rules with")
    return BaseRules(extracted, commit, label)
