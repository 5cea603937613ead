"""When a fault took effect, seen from outside: the first refused connection to the component.

Why: DESIGN.md §4 defines `t_inject` as the first moment the platform could observe the fault,
not when the harness's action returned. Stopping a broker gracefully or halting PostgreSQL and
wiping its data directory takes seconds; the listener closes near the start of it. Timing from
the action's end made pvc-wipe-restore's TTD ~2 s short (PostgresDown was pending 0.09 s after the
recorded injection). A thread that connects to the component's port every `interval_s` from just
before the action records the first refusal — the same instant a client would have seen.

The watch is void (None) when the port did not accept its first connection: a port-forward that
is not there, a component already down — then the caller keeps its own time and says so.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

INTERVAL_S = 0.05  # 20 connects a second: precise to 1/20 of the 1 s we promise, little log noise
CONNECT_TIMEOUT_S = 0.25
# The watch gives up after this long (a fault whose port never refuses: a wedged stop).
MAX_WATCH_S = 120.0


class RefusalWatch:
    """Connect to (host, port) repeatedly until one attempt is refused or reset.

    `first_refused_at` is the wall-clock time (time.time) of the first failed attempt's return,
    after at least one attempt succeeded; `precision_s` bounds how late it can be: one interval
    plus one loopback connect.
    """

    def __init__(
        self,
        host: str,
        port: int,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.port, self.interval_s, self.clock = host, port, interval_s, clock
        self.first_refused_at: float | None = None
        self.accepted_first = False
        self.attempts = 0
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="refusal-watch", daemon=True)

    @property
    def precision_s(self) -> float:
        return self.interval_s + CONNECT_TIMEOUT_S

    def __enter__(self) -> RefusalWatch:
        self._thread.start()
        self._started.wait(CONNECT_TIMEOUT_S * 2)  # the first attempt precedes the action
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wait(0.0)

    def wait(self, timeout_s: float) -> float | None:
        """Give the watch up to `timeout_s` more to see the refusal, then stop it."""
        if self.accepted_first:
            self._thread.join(timeout_s)
        self._stop.set()
        self._thread.join(CONNECT_TIMEOUT_S * 2)
        return self.first_refused_at

    def describe(self) -> str:
        return (
            f"os: first refused connection to {self.host}:{self.port} "
            f"(probed every {self.interval_s * 1000:.0f} ms)"
        )

    def _attempt(self) -> bool:
        """True when the port accepted a connection."""
        self.attempts += 1
        try:
            with socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S):
                return True
        except OSError:  # refused, reset, timed out: a client could not connect
            return False

    def _watch(self) -> None:
        try:
            self.accepted_first = self._attempt()
        finally:
            self._started.set()
        if not self.accepted_first:
            return
        deadline = time.monotonic() + MAX_WATCH_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            if not self._attempt():
                self.first_refused_at = self.clock()
                return
            self._stop.wait(self.interval_s)
