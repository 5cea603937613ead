"""The bounded buffer of events that the broker has not confirmed yet.

An event enters when it is generated and leaves only when the broker confirms it. In between it
is either *waiting* (to be published, or re-published after a nack, timeout or lost connection)
or *in flight* (published, confirm outstanding). Waiting events are handed out lowest sequence
number first, so a retried event goes out before newer ones. The buffer never drops anything:
when it is full, `add` refuses and the caller pauses generation.

Every state change of an event goes through here, so the buffer also records its publish outcomes
in the run's `PublishHistory` (confirmed; unconfirmed at a connection loss or timeout; refused):
the history cannot drift from what the buffer did.

Pure logic, no I/O, so it is unit-tested without a broker.
"""

from __future__ import annotations

import heapq

from auditflow.events import AuditEvent
from auditflow.generator.outcomes import PublishHistory


class PendingBuffer:
    """Events not yet confirmed, keyed by sequence number; capacity is a hard bound."""

    def __init__(self, capacity: int, history: PublishHistory | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.history = history or PublishHistory()
        self._events: dict[int, AuditEvent] = {}
        self._waiting: list[int] = []  # heap of seqs ready to (re)publish
        self._in_flight: set[int] = set()

    def __len__(self) -> int:
        return len(self._events)

    @property
    def free(self) -> int:
        return self.capacity - len(self._events)

    @property
    def full(self) -> bool:
        return len(self._events) >= self.capacity

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def add(self, event: AuditEvent) -> bool:
        """Hold `event` until confirmed; False (and nothing stored) when the buffer is full."""
        if self.full:
            return False
        if event.seq in self._events:
            raise ValueError(f"seq {event.seq} is already buffered")
        self._events[event.seq] = event
        heapq.heappush(self._waiting, event.seq)
        return True

    def take(self, limit: int) -> list[AuditEvent]:
        """Up to `limit` waiting events, lowest seq first, now marked in flight."""
        taken: list[AuditEvent] = []
        while self._waiting and len(taken) < limit:
            seq = heapq.heappop(self._waiting)
            self._in_flight.add(seq)
            taken.append(self._events[seq])
        return taken

    def confirm(self, seq: int) -> bool:
        """The broker confirmed `seq`: forget it. False if it was not in flight (late/duplicate)."""
        if seq not in self._in_flight:
            return False
        self._in_flight.discard(seq)
        del self._events[seq]
        self.history.ok(seq)
        return True

    def retry(self, seq: int, refused: bool = False) -> bool:
        """Publishing `seq` failed: make it wait again (it keeps its place by seq).

        `refused`: the broker said no (nack, unroutable return); otherwise the outcome of the
        attempt is unknown (confirm timed out, or lost with the connection) — it may be queued.
        """
        if seq not in self._in_flight:
            return False
        self._in_flight.discard(seq)
        heapq.heappush(self._waiting, seq)
        if refused:
            self.history.refused(seq)
        else:
            self.history.unknown(seq)
        return True

    def retry_all_in_flight(self) -> int:
        """The connection is gone: every outstanding confirm is lost (outcome unknown), so all
        wait again."""
        count = 0
        for seq in list(self._in_flight):
            count += self.retry(seq)
        return count

    def unconfirmed_between(self, first: int, last: int) -> dict[int, bool]:
        """Each buffered (so unconfirmed) seq in `[first, last]` → whether it is in flight."""
        in_flight = self._in_flight
        return {seq: seq in in_flight for seq in self._events if first <= seq <= last}
