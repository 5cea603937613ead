"""Responders' marks: the humans' own "detected / mitigated / resolved" times during a drill.

Why a module of its own: what a game day rehearses is the people as much as the platform, so the
scorecard sets the responders' times next to Prometheus' TTD and TTR. In the terminal responders
type `d`, `m` or `r` (and optionally their name) and Enter while a drill runs; each line is stamped
by the game day's clock when it is read, and lines typed between drills belong to no drill.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drills.gameday.clock import Clock

MARKS = {"d": "detected", "m": "mitigated", "r": "resolved"}


@dataclass(frozen=True)
class Mark:
    """A responder's own mark ("detected", "mitigated", "resolved") at a wall-clock time."""

    name: str
    at: float
    by: str = ""


def parse_mark(line: str) -> tuple[str, str] | None:
    """`d`, `detected`, `m alice`, `resolved bob` → (mark, who); anything else → None."""
    words = line.strip().split(maxsplit=1)
    if not words:
        return None
    key = words[0].lower()
    name = MARKS.get(key) or (key if key in MARKS.values() else None)
    if name is None:
        return None
    return name, words[1].strip() if len(words) > 1 else ""


class MarkSource(Protocol):
    def begin(self, drill: str) -> None: ...

    def end(self) -> list[Mark]: ...


class NoMarks:
    """Non-interactive game days: nobody marks anything."""

    def begin(self, drill: str) -> None:
        return None

    def end(self) -> list[Mark]:
        return []


class LineMarks:
    """Responders type `d`, `m` or `r` (optionally followed by their name) and Enter while a drill
    runs; each line is stamped by the clock when it is read. `read_line` is `sys.stdin.readline`
    in the terminal (returns "" at end of input) and a scripted source in tests."""

    def __init__(self, read_line: Callable[[], str], clock: Clock) -> None:
        self._lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self._clock = clock
        self._read_line = read_line
        self._active = False
        self._thread = threading.Thread(target=self._pump, name="gameday-marks", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while line := self._read_line():
            self._lines.put((self._clock.now(), line))

    def _drain(self) -> list[tuple[float, str]]:
        items = []
        while True:
            try:
                items.append(self._lines.get_nowait())
            except queue.Empty:
                return items

    def begin(self, drill: str) -> None:
        self._drain()  # lines typed between drills belong to no drill
        self._active = True

    def end(self) -> list[Mark]:
        self._active = False
        marks = []
        for at, line in self._drain():
            parsed = parse_mark(line)
            if parsed is not None:
                marks.append(Mark(parsed[0], at, parsed[1]))
        return marks
