"""Console delivery: alerts printed to standard output (no accounts needed)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from bot.deliver.outbox import SendResult, Sent
from bot.format import AlertView, console_json, console_text


class ConsoleSender:
    """Prints one readable block per alert, or one JSON object per line with `json=True`."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.json_lines = json_lines

    async def wait_turn(self, destination: str) -> None:
        return None

    def spacing(self, destination: str) -> float:
        return 0.0

    def share(self, instances: int) -> None:
        return None

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        if self.json_lines:
            self.stream.write(json.dumps(console_json(view), ensure_ascii=False) + "\n")
        else:
            self.stream.write(console_text(view) + "\n\n")
        self.stream.flush()
        return Sent(ref=str(view.alert_id))
