"""The Jepsen ledger against the real sandbox: RabbitMQ, the analysis service and PostgreSQL.

1. A real `Publisher` talks to the sandbox's RabbitMQ through a loopback proxy that can hold
   the broker's confirms and then drop the connection: the events whose confirms were lost are
   `info` — stored by the analysis service all the same (*recovered*), never `ok`, never lost —
   and after the reconnect they are re-published, confirmed and de-duplicated by the store.
2. Synthetic rows for a run of its own check the SQL side: duplicates on seq with distinct event
   ids, rows outside anything published, and the occurred → stored delay figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.publisher import Publisher
from auditflow.generator.service import Generator
from auditflow.reconnect import Backoff
from drills.delay import measure_delay
from drills.ledger import GeneratorMark
from drills.outcomes import PublishOutcomes
from drills.reconcile import reconcile

pytestmark = pytest.mark.integration


class HoldingProxy:
    """TCP on loopback to the broker; `hold` drops what the broker sends (its confirms),
    `refuse` closes new connections at once, `drop_all` aborts the connections it carries."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.upstream_port = host, port
        self.hold = False
        self.refuse = False
        self._transports: list[asyncio.Transport] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        self._transports += [writer.transport, up_writer.transport]  # type: ignore[list-item]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if not (down and self.hold):
                        dst.write(data)
                        await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    def drop_all(self) -> None:
        for transport in self._transports:
            transport.abort()
        self._transports.clear()

    async def close(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class InProcessSource:
    """The ledger's view of a generator running on `loop` (called from a worker thread)."""

    def __init__(self, generator: Generator, loop: asyncio.AbstractEventLoop) -> None:
        self.generator, self.loop = generator, loop

    def _on_loop(self, fn: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def mark(self) -> GeneratorMark:
        return GeneratorMark.from_stats(
            self._on_loop(lambda: dataclasses.asdict(self.generator.stats()))
        )

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes:
        raw = self._on_loop(lambda: self.generator.outcomes(first, last))
        return PublishOutcomes.from_json(raw, run_id, first, last)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _stored(live, run_id: str) -> int:
    with live.pg() as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_events WHERE run_id = %s", (run_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_connection_drop_mid_confirm_is_info_then_recovered_then_ok(live):
    """20 events confirmed; 50 more published while the proxy holds the broker's confirms, then
    the connection drops: those 50 are `info` (the broker queued them, the analysis service
    stored them: recovered 50), lost 0. Reconnected, they are re-published and confirmed: ok 70,
    `had_info` 50, one row each."""
    run_id = f"ledger-it-{uuid.uuid4().hex[:8]}"
    amqp = urlsplit(live.amqp_url)

    async def scenario() -> tuple[dict[str, Any], Any, Any]:
        loop = asyncio.get_running_loop()
        proxy = HoldingProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
        await proxy.start()
        netloc = amqp.netloc.rsplit(":", 1)[0] + f":{proxy.port}"
        buffer = PendingBuffer(1000)
        publisher = Publisher(
            urlunsplit(amqp._replace(netloc=netloc)), buffer, backoff=Backoff(0.05, 0.2)
        )
        generator = Generator(run_id, 0.0, buffer, publisher)
        source = InProcessSource(generator, loop)
        publishing = asyncio.create_task(publisher.run())
        try:
            await _until(lambda: publisher.connected, "the publisher to connect")
            before = GeneratorMark(run_id, 0, 0, 0, 0.0)
            generator.burst(20)
            generator.tick(time.monotonic())
            await _until(lambda: len(buffer) == 0, "the first 20 confirms")
            proxy.hold = True
            generator.burst(50)
            generator.tick(time.monotonic())
            await _until(lambda: buffer.in_flight == 50, "50 publishes in flight")
            # Queued by the broker and stored by the analysis service, confirms held back:
            await asyncio.to_thread(_wait_rows, live, run_id, 70)
            proxy.refuse = True
            proxy.drop_all()
            await _until(lambda: not publisher.connected, "the publisher to see the drop")
            at_drop = generator.outcomes(1, 70)
            after = GeneratorMark.from_stats(dataclasses.asdict(generator.stats()))
            dropped = await asyncio.to_thread(
                reconcile, live.pg_dsn, before, after, 0, 10.0, source
            )
            proxy.hold = proxy.refuse = False
            await _until(lambda: len(buffer) == 0, "the re-published 50 confirmed")
            await asyncio.sleep(1.0)  # the analysis service sees the redelivered copies
            settled = await asyncio.to_thread(
                reconcile, live.pg_dsn, before, after, 0, 10.0, source
            )
            return at_drop, dropped, settled
        finally:
            publisher.stop()
            await asyncio.wait_for(publishing, 15)
            await proxy.close()

    at_drop, dropped, settled = asyncio.run(scenario())
    print(f"\nat drop: {at_drop}\nledger at drop: {dropped}\nledger after reconnect: {settled}")
    assert (at_drop["ok"], at_drop["info"], at_drop["info_seqs"]) == (20, 50, [[21, 70]])
    assert (dropped.confirmed, dropped.info, dropped.lost) == (20, 50, 0)
    assert (dropped.recovered, dropped.stored, dropped.unexpected) == (50, 70, 0)
    assert dropped.outcomes_source.startswith("generator")
    assert (settled.confirmed, settled.info, settled.had_info, settled.recovered) == (70, 0, 50, 0)
    assert (settled.lost, settled.duplicated, settled.stored) == (0, 0, 70)
    assert _stored(live, run_id) == 70


def _wait_rows(live, run_id: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _stored(live, run_id) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{run_id}: {_stored(live, run_id)} of {count} rows stored")
        time.sleep(0.1)


_INSERT = (
    "INSERT INTO audit_events (event_id, run_id, seq, occurred_at, published_at, stored_at, "
    "actor, action, resource, outcome, source_ip, correlation_id) VALUES "
    "(%s, %s, %s, to_timestamp(%s), to_timestamp(%s), to_timestamp(%s), "
    "'u', 'read', 'r/1', 'success', '10.0.0.1', 'c')"
)


class FixedSource:
    """A generator that published seqs 1-10 of `run_id`, 7 with its confirm lost (info)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def mark(self) -> GeneratorMark:
        return GeneratorMark(self.run_id, 10, 9, 0, 0.0)

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes:
        return PublishOutcomes(run_id, first, last, 1, 9, 1, 0, ((7, 7),), (), ())


def test_duplicates_on_seq_unexpected_rows_and_delay_in_sql(live):
    """Seqs 1-10 of a run of their own, with 3 missing, 7 unconfirmed but stored, seq 4 stored a
    second time under another event id, and rows for seq 0 and 12 (never published): lost 1,
    recovered 1, duplicated 1 (counted on seq: the primary key let both in), unexpected 2.
    Each event's occurred → stored delay is its seq in seconds, publish → stored a tenth."""
    run_id = f"ledger-sql-{uuid.uuid4().hex[:8]}"
    now = time.time()
    rows = [(seq, seq) for seq in (1, 2, 4, 5, 6, 7, 8, 9, 10)] + [(4, 40), (0, 1), (12, 1)]
    with live.pg() as conn:
        for seq, wait in rows:
            stored_at = now + (1.0 if wait == 40 else 0.0)  # the twin is stored later
            conn.execute(
                _INSERT,
                (
                    str(uuid.uuid4()),
                    run_id,
                    seq,
                    stored_at - wait,
                    stored_at - wait / 10,
                    stored_at,
                ),
            )
    before = GeneratorMark(run_id, 0, 0, 0, 0.0)
    after = GeneratorMark(run_id, 10, 9, 0, 0.0)
    ledger = reconcile(live.pg_dsn, before, after, 0, 0.5, FixedSource(run_id))
    print(f"\n{ledger}")
    assert (ledger.confirmed, ledger.info, ledger.lost, ledger.missing_sample) == (9, 1, 1, (3,))
    assert (ledger.recovered, ledger.stored, ledger.duplicated) == (1, 9, 1)
    assert (ledger.unexpected, ledger.unexpected_sample) == (2, (0, 12))
    delay = measure_delay(live.pg_dsn, run_id, 1, 10)
    print(delay)
    assert delay.events == 9  # seq 4's first stored copy counts, once
    assert (delay.p50_s, delay.max_s, delay.oldest_seq, delay.oldest_s) == (6.0, 10.0, 1, 1.0)
    assert delay.p99_s == 10.0
    assert (delay.published_p50_s, delay.published_max_s) == (0.6, 1.0)
