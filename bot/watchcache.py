"""A cache of the validated watchlist, so that a `radar run --once` whose files have not
changed skips reading the YAML, validating it and compiling thousands of phrases (that work
costs more than a quiet cycle's polls).

An entry is used only when everything it was built from is the same: every rules and feeds
file, by name and bytes, and where Radar runs from (the key, `bot.watchlist.cache_key`), and
the code that built it, every Python module that was loaded, by path, size and modification
time (the stamps). A process whose code changed on disk after it started writes nothing (it
may be running the old code). Anything else (no entry, an unreadable, corrupt or stale one)
reads as a miss, and the caller loads from the files, which is always right. A load that
fails is never written, so a broken rule file is reported on every run.

Entries are pickles, and reading a pickle runs what it says: the folder must be this user's
and writable by no one else (`0700` when Radar makes it), and so must each entry, or the cache
is not used at all. Entries are written whole or not at all.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from bot import STARTED_NS

log = logging.getLogger(__name__)

FORMAT = 2  # bump when what an entry holds changes shape
Stamp = tuple[str, int, int]  # path, size, modification time in nanoseconds


def entry_path(folder: Path, *sources: Path) -> Path:
    """The one entry of these sources (the rules folder and feeds file): a later build
    replaces it."""
    names = "\0".join(str(p.resolve()) for p in sources)
    return folder / f"watchlist-{hashlib.sha256(names.encode()).hexdigest()[:16]}.pickle"


def code_stamps(modules: Mapping[str, object] | None = None) -> tuple[Stamp, ...] | None:
    """Path, size and modification time of every loaded module's file; None when one cannot
    be stamped (code in a zip file, say), as a change to it could not be seen."""
    modules = sys.modules if modules is None else modules
    files = {getattr(m, "__file__", None) for m in list(modules.values())}
    stamps = []
    for name in sorted(f for f in files if isinstance(f, str)):
        found = _stamp(name)
        if found is None:
            return None
        stamps.append(found)
    return tuple(stamps)


def _stamp(path: str) -> Stamp | None:
    try:
        found = Path(path).stat()
    except OSError:
        return None
    return (path, found.st_size, found.st_mtime_ns)


def _current(stamps: Sequence[Stamp]) -> bool:
    return all(_stamp(path) == (path, size, mtime) for path, size, mtime in stamps)


def read(path: Path, key: str) -> Any | None:
    """The entry's payload when it was built from `key` by the code now on disk, else None."""
    if not _private_folder(path.parent):
        return None
    try:
        with _open_private(path) as file:
            unpickler = pickle.Unpickler(file)  # one memo, as the one pickler wrote it
            header = unpickler.load()
            if not (
                isinstance(header, tuple)
                and len(header) == 4
                and header[:3] == (FORMAT, sys.version, key)
                and _current(header[3])
            ):
                return None
            with _no_collection():
                return unpickler.load()
    except (FileNotFoundError, PermissionError):  # none, or not private (said once)
        return None
    except Exception as exc:  # any damage to a cache file is a miss, never a failure
        log.warning("rules cache entry %s unreadable, loading the files: %r", path, exc)
        return None


def write(path: Path, key: str, payload: object, stamps: Sequence[Stamp] | None = None) -> None:
    """Store `payload` as built from `key` by the loaded code (or the code `stamps` name); a
    folder that cannot be written, or is not private, is left alone."""
    found = code_stamps() if stamps is None else tuple(stamps)
    if found is None:  # code that cannot be stamped: a change to it would go unseen
        return
    if any(mtime > STARTED_NS for _, _, mtime in found):
        log.info("Radar's code changed since this process started: the rules cache is not written")
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private_folder(path.parent):
            return
        fd, temporary = tempfile.mkstemp(prefix=".watchlist-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                pickler = pickle.Pickler(file, protocol=pickle.HIGHEST_PROTOCOL)
                pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}
                pickler.dump((FORMAT, sys.version, key, found))
                pickler.dump(payload)
            Path(temporary).replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise
    except Exception as exc:  # a cache that cannot be written costs time, never a run
        log.warning("could not write the rules cache %s: %s", path, exc)


def _private(found: os.stat_result) -> bool:
    return found.st_uid == os.geteuid() and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder(folder: Path) -> bool:
    try:
        found = folder.stat()
    except OSError:
        return False
    if not _private(found):
        _refuse(folder)
        return False
    return True


@cache
def _refuse(folder: Path) -> None:
    """Say once per folder why its cache is not used."""
    log.warning(
        "rules cache %s not used: it must belong to this user and be writable by no one else",
        folder,
    )


@contextlib.contextmanager
def _open_private(path: Path) -> Iterator[IO[bytes]]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as file:
        if not _private(os.fstat(fd)):
            _refuse(path)
            raise PermissionError(f"{path} is not private to this user")
        yield file


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return frozen_mapping, (dict(proxy),)


def frozen_mapping(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    """A read-only mapping again (what an entry's `MappingProxyType`s are rebuilt with)."""
    return MappingProxyType(items)


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """Without the cycle collector, which would otherwise walk the heap again and again while
    an entry's hundreds of thousands of objects are made (half the time of a read)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
