"""The security rule: too many failed logins by one actor within a sliding window.

Event time (`occurred_at`) is used rather than arrival time, so replaying a backlog after an
outage does not invent a burst. Only newly stored events are fed in (a redelivered duplicate does
not count twice). After firing, the actor is quiet for one window, so a sustained attack raises
one alert per actor per window rather than one per failure. Pure logic.
"""

from __future__ import annotations

import bisect


class FailedLoginRule:
    """Fires when an actor has `threshold` failed logins within `window_s` seconds."""

    def __init__(self, threshold: int, window_s: float, max_actors: int = 100_000) -> None:
        if threshold < 1 or window_s <= 0:
            raise ValueError("threshold must be >= 1 and window_s > 0")
        self.threshold = threshold
        self.window_s = window_s
        self.max_actors = max_actors
        self._failures: dict[str, list[float]] = {}
        self._fired_at: dict[str, float] = {}

    @staticmethod
    def applies(action: str, outcome: str) -> bool:
        return action == "login" and outcome == "failure"

    def observe(self, actor: str, at: float) -> int:
        """Record a failure at epoch time `at`; return the count in window if it fires, else 0."""
        times = self._failures.get(actor)
        if times is None:
            if len(self._failures) >= self.max_actors:
                self._evict_oldest()
            times = self._failures[actor] = []
        bisect.insort(times, at)
        newest = times[-1]
        cut = bisect.bisect_left(times, newest - self.window_s)
        if cut:
            del times[:cut]
        fired = self._fired_at.get(actor)
        if fired is not None and abs(at - fired) < self.window_s:
            return 0  # quiet after firing (checked first: the count is not needed then)
        # After the cut every time is within `window_s` of the newest, so usually the whole
        # list is one window; only float rounding at the edge needs the full scan.
        one_window = times[-1] - times[0] <= self.window_s
        in_window = len(times) if one_window else self._densest(times)
        if in_window < self.threshold:
            return 0
        self._fired_at[actor] = at
        self._failures.pop(actor, None)
        return in_window

    def _densest(self, times: list[float]) -> int:
        """Most failures inside any `window_s`-long span (times sorted; out-of-order safe)."""
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] > self.window_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _evict_oldest(self) -> None:
        """Bound memory under an actor-name flood: forget the actor with the stalest failure."""
        stalest = min(self._failures, key=lambda actor: self._failures[actor][-1])
        del self._failures[stalest]
        self._fired_at.pop(stalest, None)
        if len(self._fired_at) > self.max_actors:
            self._fired_at.clear()
