"""Console delivery: alerts printed to standard output (no accounts needed)."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.deliver.outcome import Held, SendResult, Sent
from bot.format import AlertView, console_json, console_text
from bot.untrusted import for_terminal, json_for_terminal


class ConsoleSender:
    """Prints one readable block per alert, or one JSON object per line with `json=True`.

    Feed text is escaped for the terminal here too (items stored by an older Radar may hold
    escape sequences); JSON keeps its values, with such characters as `\\u` escapes."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.json_lines = json_lines

    async def wait_turn(self, destination: str) -> None:
        return None

    def spacing(self, destination: str) -> float:
        return 0.0

    def share(self, instances: int) -> None:
        return None

    async def check(self) -> Held | None:
        return None

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        if self.json_lines:
            self.stream.write(json_for_terminal(console_json(view)) + "\n")
        else:
            self.stream.write(for_terminal(console_text(view)) + "\n\n")
        self.stream.flush()
        return Sent(ref=str(view.alert_id))
