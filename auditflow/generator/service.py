"""The generation loop: paces events into the buffer and wakes the publisher.

Generation runs in ~20 ms ticks; each tick generates what the target rate earned plus any
requested burst, limited by free buffer space. A full buffer pauses generation (never drops an
event) and is reported loudly: a counter every paused tick and a warning at most every 5 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from auditflow.generator import SERVICE
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.factory import EventFactory, now_iso
from auditflow.generator.metrics import (
    BUFFER_CAPACITY,
    BUFFER_EVENTS,
    BUFFER_FULL,
    EVENTS_GENERATED,
    TARGET_RATE,
)
from auditflow.generator.outcomes import report
from auditflow.generator.pacing import Pacer
from auditflow.generator.publisher import Publisher

log = logging.getLogger(SERVICE)

TICK_S = 0.02  # per-tick costs (timer, publisher wake-up, socket write, confirms) are ~fixed
MAX_PER_TICK = 2000  # bounds how long one tick holds the loop (a large burst spans ticks)
FULL_WARNING_EVERY_S = 5.0
HEARTBEAT_STALE_S = 2.0


@dataclass
class Stats:
    """The `/admin/stats` payload."""

    run_id: str
    rate: float
    generated: int
    confirmed: int
    buffered: int
    buffer_max: int
    broker_connected: bool
    last_seq: int
    in_flight: int
    burst_pending: int


class Generator:
    """Owns the run's sequence numbers, the pacing and the pending burst."""

    def __init__(
        self, run_id: str, rate: float, buffer: PendingBuffer, publisher: Publisher
    ) -> None:
        self.run_id = run_id
        self.buffer = buffer
        self.publisher = publisher
        self.factory = EventFactory(run_id)
        self.pacer = Pacer(rate, time.monotonic())
        self.last_seq = 0
        self.burst_owed = 0
        self.heartbeat = time.monotonic()
        self._last_full_warning = 0.0
        self._generated = EVENTS_GENERATED.labels(SERVICE)
        self._buffer_gauge = BUFFER_EVENTS.labels(SERVICE)
        self._full = BUFFER_FULL.labels(SERVICE)
        BUFFER_CAPACITY.labels(SERVICE).set(buffer.capacity)
        TARGET_RATE.labels(SERVICE).set(rate)

    @property
    def rate(self) -> float:
        return self.pacer.rate

    def set_rate(self, rate: float) -> None:
        self.pacer.set_rate(rate, time.monotonic())
        TARGET_RATE.labels(SERVICE).set(rate)
        log.info("rate changed", extra={"fields": {"rate": rate}})

    def burst(self, count: int) -> None:
        self.burst_owed += count
        log.info("burst queued", extra={"fields": {"count": count}})

    def stats(self) -> Stats:
        return Stats(
            run_id=self.run_id,
            rate=self.pacer.rate,
            generated=self.last_seq,
            confirmed=self.publisher.confirmed,
            buffered=len(self.buffer),
            buffer_max=self.buffer.capacity,
            broker_connected=self.publisher.connected,
            last_seq=self.last_seq,
            in_flight=self.buffer.in_flight,
            burst_pending=self.burst_owed,
        )

    def outcomes(self, first: int, last: int) -> dict[str, Any]:
        """Per-seq publish outcomes of `[first, last]` (`auditflow.generator.outcomes`)."""
        unconfirmed = self.buffer.unconfirmed_between(first, min(last, self.last_seq))
        return report(self.buffer.history, unconfirmed, self.run_id, self.last_seq, first, last)

    def healthy(self) -> bool:
        return time.monotonic() - self.heartbeat < HEARTBEAT_STALE_S

    def tick(self, now: float) -> int:
        """Generate what is owed at `now` into the buffer; return how many were generated."""
        from_rate = self.pacer.owed(now)
        owed = from_rate + self.burst_owed
        count = min(owed, self.buffer.free, MAX_PER_TICK)
        buffer, factory = self.buffer, self.factory
        stamp = now_iso()  # one timestamp per tick: events of a tick occur together
        for _ in range(count):
            self.last_seq += 1
            buffer.add(factory.make(self.last_seq, stamp))
        from_burst = min(count, self.burst_owed)
        self.burst_owed -= from_burst
        self.pacer.spend(count - from_burst)
        if owed > count and buffer.full:
            self._on_full(now)
        if count:
            self._generated.inc(count)
            self.publisher.wake()
        self._buffer_gauge.set(len(buffer))
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set."""
        log.info(
            "generating",
            extra={"fields": {"run_id": self.run_id, "rate": self.rate}},
        )
        while not stop.is_set():
            now = time.monotonic()
            self.heartbeat = now
            self.tick(now)
            await asyncio.sleep(TICK_S)
        self._buffer_gauge.set(len(self.buffer))

    def _on_full(self, now: float) -> None:
        self._full.inc()
        if now - self._last_full_warning >= FULL_WARNING_EVERY_S:
            self._last_full_warning = now
            log.warning(
                "buffer full: generation paused until the broker confirms",
                extra={
                    "fields": {
                        "buffered": len(self.buffer),
                        "buffer_max": self.buffer.capacity,
                        "broker_connected": self.publisher.connected,
                    }
                },
            )
