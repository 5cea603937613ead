"""How many events are owed right now, for a target rate, generated in short ticks.

Sleeping once per event cannot reach thousands per second (timer resolution, loop overhead), so
the generator wakes every ~20 ms and generates what the elapsed time earned. Credit is capped so
a stall (full buffer, busy loop) does not turn into a burst afterwards: a paused generator simply
did not generate those events. Pure logic; time is passed in.
"""

from __future__ import annotations

MAX_CATCH_UP_S = 0.5


class Pacer:
    """Converts elapsed time times rate into a whole number of events owed."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._last = now
        self._credit = 0.0

    def set_rate(self, rate: float, now: float) -> None:
        """Change the target; owed credit at the old rate is forgotten."""
        self.rate = rate
        self._last = now
        self._credit = 0.0

    def owed(self, now: float) -> int:
        """Events owed at `now` (call `spend` with how many were actually generated)."""
        elapsed = max(0.0, now - self._last)
        self._last = now
        cap = max(1.0, self.rate * MAX_CATCH_UP_S)
        self._credit = min(self._credit + elapsed * self.rate, cap)
        return int(self._credit)

    def spend(self, count: int) -> None:
        self._credit = max(0.0, self._credit - count)
