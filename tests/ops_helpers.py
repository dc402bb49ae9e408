"""Helpers for the operator-facing tests: the CLI in-process, `radar run` with its HTTP
endpoint as a real process, and plain HTTP GETs over a real socket."""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from helpers import ROOT

from bot import cli

SERVING = re.compile(r"status page at (http://[\d.]+:\d+)")


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(args: list[str], env: Mapping[str, str], monkeypatch, capsys) -> Result:
    """`radar ARGS` in this process, with only these Radar variables set."""
    for name in list(os.environ):
        if name.startswith(("RADAR_", "SLACK_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    capsys.readouterr()
    try:
        code = cli.main(args)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll a condition until it holds (returning its value) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def get(base: str, path: str, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    """GET over a real socket: status, headers (lower-case names), body."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def status_of(base: str, path: str) -> int | None:
    try:
        return get(base, path)[0]
    except OSError:
        return None


class RadarProcess:
    """`radar run` as a real process with its HTTP endpoint on a free port."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *args: str) -> None:
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
        }
        clean.update(env)
        clean.setdefault("RADAR_HTTP_PORT", "0")
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args],
            env=clean,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("ab"),
        )
        self.base = ""

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_serving(self, timeout: float = 30) -> str:
        def serving() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"radar run exited early:\n{self.log()}")
            found = SERVING.search(self.log())
            return found.group(1) if found else None

        self.base = str(wait_for(serving, timeout, "the HTTP endpoint"))
        return self.base

    def wait_status(self, path: str, expected: int, timeout: float = 60) -> None:
        wait_for(
            lambda: status_of(self.base, path) == expected,
            timeout,
            f"{path} to answer {expected}\n{self.log()}",
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@contextmanager
def radar_running(env: Mapping[str, str], log_path: Path, *args: str) -> Iterator[RadarProcess]:
    radar = RadarProcess(env, log_path, *args)
    try:
        radar.wait_serving()
        yield radar
    finally:
        radar.stop()


class TcpProxy:
    """A TCP relay on 127.0.0.1 to another port that can be cut (every connection closed,
    nothing listening) and restored on the same port: a database that goes away."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening and close every relayed connection."""
        if self._listener is not None:
            with suppress(OSError):  # shutting down wakes the accepting thread
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.start()
