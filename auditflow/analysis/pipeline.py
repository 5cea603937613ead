"""From valid events to committed rows and acknowledged messages.

The consumer adds each valid event to a `Batcher`; one flusher task takes a batch when it is full
or old enough, stores it in one transaction, and only then acknowledges its messages. While
PostgreSQL is down the same batch is retried with backoff and nothing is acknowledged; the
broker's prefetch window caps how much piles up meanwhile. After the commit, newly inserted events
(not redelivered duplicates) feed the Redis counters and the security rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from auditflow.analysis import SERVICE
from auditflow.analysis.batching import Batcher
from auditflow.analysis.counters import CounterDeltas
from auditflow.analysis.metrics import (
    BATCH_SIZE,
    EVENTS_PROCESSED,
    PROCESSING_DURATION,
    observe_many,
)
from auditflow.analysis.notify import Notifier, failed_login_alert
from auditflow.analysis.security import FailedLoginRule
from auditflow.analysis.store import BadRows, PgStore, Row, StorageUnavailable
from auditflow.jsonlog import correlation_id_var, event_id_var
from auditflow.telemetry import DEPENDENCY_UP

log = logging.getLogger(SERVICE)

BACKOFF_MIN_S = 0.1
# Storage retry ceiling: back within ~1 s of PostgreSQL (e.g. after a restore), for one
# connection attempt per second while it is down.
BACKOFF_MAX_S = 1.0


@dataclass(slots=True)
class Pending:
    """A valid event waiting to be stored, with what is needed to acknowledge its message."""

    tag: int
    generation: int
    row: Row
    occurred_ts: float
    published_ts: float
    message: Any  # the delivered message, kept to dead-letter it if storage refuses the row

    @property
    def event_id(self) -> str:
        return self.row[0]

    @property
    def correlation_id(self) -> str:
        return self.row[10]


class Settler(Protocol):
    """What the pipeline needs from the consumer (which owns the channel)."""

    def current_generation(self) -> int: ...

    async def ack(self, tags: list[int], generation: int) -> bool: ...

    async def dead_letter(self, pending: Pending, reason: str, detail: str) -> None: ...


class Pipeline:
    """Owns the batch, the flush loop and what follows a commit."""

    def __init__(
        self,
        store: PgStore,
        deltas: CounterDeltas,
        rule: FailedLoginRule,
        notifier: Notifier,
        batch_max: int,
        batch_age_s: float,
    ) -> None:
        self.store = store
        self.deltas = deltas
        self.rule = rule
        self.notifier = notifier
        self.batcher: Batcher[Pending] = Batcher(batch_max, batch_age_s)
        self.settler: Settler | None = None
        self.pg_up = False
        self.pg_error = "not connected yet"
        self._kick = asyncio.Event()
        # Held from a batch's commit until its deltas are added, so a count of the stored rows
        # (`stored_counts`) never falls between the two.
        self._commit_lock = asyncio.Lock()
        self._stored = EVENTS_PROCESSED.labels(SERVICE, "stored")
        self._duplicate = EVENTS_PROCESSED.labels(SERVICE, "duplicate")
        self._latency = PROCESSING_DURATION.labels(SERVICE)
        self._batch_size = BATCH_SIZE.labels(SERVICE)
        self._pg_gauge = DEPENDENCY_UP.labels(SERVICE, "postgres")
        self._pg_gauge.set(0)

    def add(self, pending: Pending) -> None:
        """Called by the consumer for each valid event (no await: keeps delivery order)."""
        first = len(self.batcher) == 0
        if self.batcher.add(pending, time.monotonic()) or first:
            self._kick.set()

    def discard(self) -> int:
        """The channel is gone: its unacknowledged messages will be redelivered."""
        return len(self.batcher.clear())

    async def prepare(self, stop: asyncio.Event) -> None:
        """Connect and create the schema, retrying until PostgreSQL answers or `stop`."""
        backoff = BACKOFF_MIN_S
        while not stop.is_set():
            try:
                await self.store.connect()
            except StorageUnavailable as exc:
                self._set_pg(False, str(exc))
                log.warning(
                    "postgres unavailable at start; retrying",
                    extra={"fields": {"error": str(exc), "retry_in_s": backoff}},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            self._set_pg(True)
            log.info("postgres ready; schema in place")
            return

    async def run(self, stop: asyncio.Event, drain_timeout_s: float) -> None:
        """Flush batches until `stop`; then flush what is left (bounded by `drain_timeout_s`)."""
        while not stop.is_set():
            wait = self.batcher.wait_time(time.monotonic())
            if wait is None or wait > 0:
                self._kick.clear()
                stopping = asyncio.ensure_future(stop.wait())
                kicked = asyncio.ensure_future(self._kick.wait())
                await asyncio.wait({stopping, kicked}, timeout=wait, return_when="FIRST_COMPLETED")
                stopping.cancel()
                kicked.cancel()
                continue
            await self.flush(self.batcher.take(), None)
        deadline = time.monotonic() + drain_timeout_s
        while len(self.batcher) and time.monotonic() < deadline:
            await self.flush(self.batcher.take(), deadline)
        if len(self.batcher):
            log.warning(
                "stopping with unstored events (they stay unacknowledged and are redelivered)",
                extra={"fields": {"events": len(self.batcher)}},
            )

    async def stored_counts(self) -> CounterDeltas:
        """Every stored event counted in PostgreSQL, the pending deltas dropped (the count holds
        them): what the Redis counters must be re-seeded with. StorageUnavailable if it cannot."""
        if not self.store.connected:  # still connecting in `prepare`: one connection, one user
            raise StorageUnavailable("postgres not connected yet")
        async with self._commit_lock:
            seed = CounterDeltas()
            for action, outcome, rows in await self.store.counts():
                seed.actions[action] += rows
                seed.outcomes[outcome] += rows
                seed.total += rows
            self.deltas.take()
            return seed

    async def flush(self, batch: list[Pending], deadline: float | None) -> None:
        """Store `batch` (retrying while PostgreSQL is down), then acknowledge it."""
        if not batch or self.settler is None:
            return
        async with self._commit_lock:
            await self._flush(batch, deadline, self.settler)

    async def _flush(self, batch: list[Pending], deadline: float | None, settler: Settler) -> None:
        generation = batch[0].generation
        backoff = BACKOFF_MIN_S
        while True:
            if generation != settler.current_generation():
                return  # channel gone: the broker redelivers these; storing them now is moot
            try:
                inserted, committed = await self.store.store([p.row for p in batch])
                break
            except StorageUnavailable as exc:
                self._set_pg(False, str(exc))
                if deadline is not None and time.monotonic() + backoff > deadline:
                    return
                log.warning(
                    "postgres unavailable; batch kept unacknowledged, retrying",
                    extra={
                        "fields": {"error": str(exc), "batch": len(batch), "retry_in_s": backoff}
                    },
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            except BadRows as exc:
                log.warning(
                    "postgres refused a batch; storing its events one by one",
                    extra={"fields": {"error": str(exc), "batch": len(batch)}},
                )
                await self._flush_one_by_one(batch, settler)
                return
        self._set_pg(True)
        await settler.ack([p.tag for p in batch], generation)
        self._after_commit(batch, inserted, committed)

    async def _flush_one_by_one(self, batch: list[Pending], settler: Settler) -> None:
        """Isolate rows PostgreSQL refuses (dead-letter them); store and ack the others."""
        for pending in batch:
            while True:
                if pending.generation != settler.current_generation():
                    return
                try:
                    new, committed = await self.store.store_one(pending.row)
                    break
                except StorageUnavailable as exc:
                    self._set_pg(False, str(exc))
                    await asyncio.sleep(BACKOFF_MAX_S)
                except BadRows as exc:
                    await settler.dead_letter(pending, "wrong_type", f"storage refused: {exc}")
                    new = False
                    committed = 0.0
                    break
            if committed:
                await settler.ack([pending.tag], pending.generation)
                self._after_commit([pending], {pending.event_id} if new else set(), committed)

    def _after_commit(self, batch: list[Pending], inserted: set[str], committed: float) -> None:
        """Metrics, counters and the security rule for the newly stored events of a batch, in
        batch-wide passes: one histogram update per bucket touched, one counter update per
        batch, the rule only for failed logins."""
        stored: list[Pending] = []
        keep = stored.append
        for pending in batch:
            event_id = pending.row[0]
            if event_id in inserted:
                inserted.discard(event_id)  # a duplicate within the batch counts once
                keep(pending)
        if stored:
            observe_many(self._latency, [max(0.0, committed - p.published_ts) for p in stored])
            rows = [p.row for p in stored]
            self.deltas.add_many([r[6] for r in rows], [r[8] for r in rows], len(rows))
            rule = self.rule
            applies = rule.applies
            for pending in stored:
                row = pending.row
                if applies(row[6], row[8]):
                    actor = row[5]
                    count = rule.observe(actor, pending.occurred_ts)
                    if count:
                        self._alert(actor, count, pending)
        self._stored.inc(len(stored))
        self._duplicate.inc(len(batch) - len(stored))
        self._batch_size.observe(len(batch))

    def _alert(self, actor: str, count: int, pending: Pending) -> None:
        cid_token = correlation_id_var.set(pending.correlation_id)
        eid_token = event_id_var.set(pending.event_id)
        try:
            log.warning(
                "security rule fired: repeated failed logins",
                extra={"fields": {"actor": actor, "failures": count}},
            )
            self.notifier.send(
                failed_login_alert(actor, count, self.rule.window_s, pending.correlation_id)
            )
        finally:
            correlation_id_var.reset(cid_token)
            event_id_var.reset(eid_token)

    def _set_pg(self, up: bool, error: str = "") -> None:
        if up and not self.pg_up:
            log.info("postgres reachable")
        self.pg_up = up
        self.pg_error = error
        self._pg_gauge.set(1 if up else 0)
