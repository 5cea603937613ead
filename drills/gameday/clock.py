"""The game day's view of the clock: wall time and a wait that a stop request ends early.

A game day waits — cool-downs of minutes between drills, polling for an earlier drill's alert to
clear — and responders' marks are stamped with wall time. Every wait goes through this seam, so a
unit test passes a fake that only advances a number, and SIGTERM (a `threading.Event`) ends any
wait at once. It needs only two of the harness clock's methods (drills.clock), so its protocol is
that narrower part; the real clock is the harness's one.
"""

from __future__ import annotations

import threading
from typing import Protocol

from drills.clock import SystemClock

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Wall time and interruptible waiting; tests pass a fake that only advances a number."""

    def now(self) -> float: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds`; True when `stop` was set (the wait ended early)."""
        ...
