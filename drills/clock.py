"""Wall time, monotonic time and waiting, behind one seam.

Why a seam: the runner polls Prometheus once a second, waits for alerts to resolve and gives the
baseline up after 20 s; with the real clock a unit test of a refused preflight waited those 20 s.
Tests pass a clock whose sleep only advances a number, so the lifecycle's timing logic is proven
without waiting for it. Threads that really must run (a fault's hold) are still joined for real.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, unix seconds (what Prometheus and the journal use)."""
        ...

    def monotonic(self) -> float:
        """For deadlines: never jumps when the wall clock is set."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds`; True when `stop` was set (the wait ended early)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()
