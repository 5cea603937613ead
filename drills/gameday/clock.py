"""The game day's clock: wall time and a wait that a stop request ends early.

Why a module of its own: a game day waits — cool-downs of minutes between drills, polling for an
earlier drill's alert to clear — and responders' marks are stamped with wall time. Every wait goes
through this seam, so a unit test passes a fake that only advances a number and never really waits,
and SIGTERM (a `threading.Event`) ends any wait at once.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time and interruptible waiting; tests pass a fake that only advances a number."""

    def now(self) -> float: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds`; True when `stop` was set (the wait ended early)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))
