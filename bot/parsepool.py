"""Parsing over the machine's cores: a process pool that takes feed bodies off the main
process, which meanwhile parses others, matches, merges and stores.

`RADAR_PARSE_WORKERS` sets how many worker processes (default: the cores less one, for the main
process; 0 parses everything in-process). The pool is started only once a process has been
handed enough bytes of bodies to pay for a worker's start-up (`START_BYTES`), so a cycle of
304s or a few small feeds never starts it; after that, a body goes to a worker when one is
free (at most `QUEUED` bodies waiting per worker) and is parsed in-process otherwise, so both
cores stay busy. Workers left with nothing to do for `IDLE` seconds are stopped (and the
count of bytes begins again), so a long-running `radar run` does not keep them between bursts
of polls. Where a body is parsed changes nothing of the result: the same function
parses it, and the merge order is decided after parsing (`Pipeline.commit`).

A pool that fails (a worker killed, a result that cannot come back) is shut down and not used
again: that body, and every later one, is parsed in-process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pickle import PicklingError
from typing import Any

from bot.parse import ParsedFeed, parse_feed

log = logging.getLogger(__name__)

START_BYTES = 2_000_000  # bodies handed to parse before a worker is worth starting
MIN_BYTES = 8_000  # smaller bodies cost less to parse than to send to a worker
QUEUED = 6  # bodies in hand per worker: what a worker parses is not parsed in the main process
# A thread waits on each body in hand; the event loop's default pool has this many threads
# (asyncio's default), and `FREE_THREADS` of them are left for storage and local files.
LOOP_THREADS = min(32, (getattr(os, "process_cpu_count", os.cpu_count)() or 1) + 4)
FREE_THREADS = 2
IDLE = 30.0  # seconds without bodies after which workers stop and the count begins again


def default_workers() -> int:
    """The cores this process may use, less one for the main process."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(cores - 1, 0)


class ParsePool:
    """`parse` has `bot.parse.parse_feed`'s signature and result; it may be called from many
    threads at once."""

    def __init__(
        self,
        workers: int,
        *,
        start_bytes: int = START_BYTES,
        min_bytes: int = MIN_BYTES,
        idle: float = IDLE,
    ) -> None:
        self.workers = workers
        self.start_bytes = start_bytes
        self.min_bytes = min_bytes
        self.idle = idle
        self.seen_bytes = 0
        self.pooled = 0  # bodies a worker parsed
        self.local = 0  # bodies parsed in-process
        self.failed: str | None = None  # why the pool was given up
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._in_hand = 0
        self._last_body = time.monotonic()
        self._timer: threading.Timer | None = None
        self._stopping: list[threading.Thread] = []  # pools shutting down; `close` waits

    @property
    def started(self) -> bool:
        return self._executor is not None

    def parse(
        self,
        body: bytes,
        *,
        feed_url: str,
        base_url: str | None = None,
        content_type: str | None = None,
        feed_name: str | None = None,
        with_content: bool = False,
    ) -> ParsedFeed:
        """Parse in a worker when one is free and the body is worth sending, else here.
        Raises what `parse_feed` raises (FeedParseError for what is not a feed)."""
        options: dict[str, Any] = {
            "feed_url": feed_url,
            "base_url": base_url,
            "content_type": content_type,
            "feed_name": feed_name,
            "with_content": with_content,
        }
        future = self._submit(body, options)
        if future is not None:
            try:
                parsed = future.result()
            except (BrokenProcessPool, PicklingError, OSError) as exc:
                self._give_up(f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self.pooled += 1
                return parsed
            finally:
                with self._lock:
                    self._in_hand -= 1
                self._arm()
        with self._lock:
            self.local += 1
        return parse_feed(body, **options)

    def _submit(self, body: bytes, options: dict[str, Any]) -> Future[ParsedFeed] | None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_body > self.idle:
                self.seen_bytes = 0
            self._last_body = now
            self.seen_bytes += len(body)
            if self.workers <= 0 or self.failed is not None or len(body) < self.min_bytes:
                return None
            if self._in_hand >= min(self.workers * QUEUED, LOOP_THREADS - FREE_THREADS):
                return None
            if self._executor is None:
                if self.seen_bytes < self.start_bytes:
                    return None
                try:
                    self._executor = ProcessPoolExecutor(
                        self.workers, mp_context=multiprocessing.get_context("spawn")
                    )
                except OSError as exc:
                    self.failed = f"cannot start parse workers: {exc}"
                    log.warning("%s; parsing in-process", self.failed)
                    return None
            executor = self._executor
            self._in_hand += 1
        try:
            return executor.submit(parse_feed, body, **options)
        except (BrokenProcessPool, RuntimeError) as exc:
            with self._lock:
                self._in_hand -= 1
            self._give_up(f"{type(exc).__name__}: {exc}")
            return None

    def _arm(self) -> None:
        """(Re)start the countdown after which idle workers stop."""
        timer = threading.Timer(self.idle, self._rest)
        timer.daemon = True
        with self._lock:
            previous, self._timer = self._timer, timer
        if previous is not None:
            previous.cancel()
        timer.start()

    def _rest(self) -> None:
        with self._lock:
            executor = self._executor
            if executor is None:
                return
            busy = self._in_hand > 0 or time.monotonic() - self._last_body < self.idle
            if not busy:
                self._executor = None
                self.seen_bytes = 0
                self._stop(executor)
        if busy:
            self._arm()
            return
        log.debug("parse workers idle for %gs: stopped", self.idle)

    def _give_up(self, reason: str) -> None:
        with self._lock:
            if self.failed is not None:
                return
            self.failed = reason
            executor, self._executor = self._executor, None
            if executor is not None:
                self._stop(executor)
        log.warning("parse workers failed (%s); parsing in-process from now on", reason)

    def _stop(self, executor: ProcessPoolExecutor) -> None:
        """Shut a pool down beside the caller (which holds the lock, so that `close` cannot
        miss it); `close` waits for it, so that no worker outlives the process, which may end
        without the interpreter's joins (`bot.cli.entry`)."""
        self._stopping = [t for t in self._stopping if t.is_alive()]
        stopping = threading.Thread(
            target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True
        )
        try:
            stopping.start()
        except RuntimeError:  # no thread to be had: let it go
            executor.shutdown(wait=False, cancel_futures=True)
            return
        self._stopping.append(stopping)

    def close(self) -> None:
        """Stop the workers (they finish nothing more); parsing goes on in-process."""
        with self._lock:
            executor, self._executor = self._executor, None
            timer, self._timer = self._timer, None
            stopping, self._stopping = self._stopping, []
            self.workers = 0
        if timer is not None:
            timer.cancel()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        for thread in stopping:
            thread.join()
