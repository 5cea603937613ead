"""Streams buffered events to RabbitMQ with publisher confirms, reconnecting on loss.

Up to `window` publishes are in flight at once, each with its own confirm future, so throughput
is bounded by the broker rather than by one round trip per event. Waiting events are written in
batches (`amqp_batch.publish_many`) and settled by done-callbacks — no task per message. A nack,
timeout, unroutable return or lost connection puts the event back in the buffer (same event id),
and it is published again once the broker is back; the buffer records each attempt's outcome
for the ledger (`auditflow.generator.outcomes`). Our own reconnect loop (`auditflow.reconnect`,
rather than `connect_robust`) makes "the connection is gone → every outstanding confirm is lost"
one explicit step: the map of outstanding confirms is replaced, so a late callback from an old
channel finds nothing and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.exceptions import DeliveryError, PublishError

from auditflow import topology
from auditflow.config import redact_url
from auditflow.events import CONTENT_TYPE, AuditEvent
from auditflow.generator import SERVICE
from auditflow.generator.amqp_batch import (
    Outgoing,
    forget_message,
    publish_each,
    publish_many,
    supported,
)
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.metrics import BROKER_CONNECTED, MESSAGES_PUBLISHED, PUBLISH_FAILURES
from auditflow.jsonlog import correlation_id_var, event_id_var
from auditflow.reconnect import Backoff, error_text, keep_connected
from auditflow.telemetry import DEPENDENCY_UP

log = logging.getLogger(SERVICE)

WINDOW = 4000  # unconfirmed publishes; measured: 1000 left the broker's fsync batching idle
SEND_CHUNK = 500  # messages per socket write, so one write never holds the loop for long
PUBLISH_TIMEOUT_S = 10.0
RETRY_HOLD_S = 0.5
# The idle pump's longest sleep: how stale messages_published_total can be once generation stops
# (confirms alone do not wake the pump unless events are waiting for room), and how often
# timed-out confirms are looked for.
IDLE_WAIT_S = 0.25
REFUSED = frozenset({"nack", "returned"})  # failure reasons where the broker did not take it
_dumps = json.JSONEncoder(separators=(",", ":")).encode
# json's own (C) string encoder, as `json.dumps` applies it with the default ensure_ascii=True.
_quote = json.encoder.encode_basestring_ascii
_routing_keys: dict[str, str] = {}


def routing_key_for(action: str) -> str:
    """`topology.routing_key(action)`, memoised (the generator uses a handful of actions)."""
    key = _routing_keys.get(action)
    if key is None:
        if len(_routing_keys) >= 1024:
            _routing_keys.clear()
        key = _routing_keys[action] = topology.routing_key(action)
    return key


def message_for(event: AuditEvent, published_at: str) -> Outgoing:
    """The message for one (re)publication of `event`, stamped with `published_at`."""
    return Outgoing(
        encode_event(event, published_at),
        routing_key_for(event.action),
        event.event_id,
        event.correlation_id,
    )


def encode_event(event: AuditEvent, published_at: str) -> bytes:
    """`event.encode()` with a new `published_at`, byte for byte, formatted directly: json's C
    string quoting per field instead of the encoder walking a dict built per event."""
    seq, version = event.seq, event.schema_version
    if type(seq) is not int or type(version) is not int:  # what only json.dumps spells right
        return _encode_generic(event, published_at)
    q = _quote
    try:
        text = (
            f'{{"event_id":{q(event.event_id)},"run_id":{q(event.run_id)},"seq":{seq},'
            f'"occurred_at":{q(event.occurred_at)},"published_at":{q(published_at)},'
            f'"actor":{q(event.actor)},"action":{q(event.action)},"resource":{q(event.resource)},'
            f'"outcome":{q(event.outcome)},"source_ip":{q(event.source_ip)},'
            f'"correlation_id":{q(event.correlation_id)},"schema_version":{version}}}'
        )
    except TypeError:  # a field that is not a string
        return _encode_generic(event, published_at)
    return text.encode()


def _encode_generic(event: AuditEvent, published_at: str) -> bytes:
    return _dumps(
        {
            "event_id": event.event_id,
            "run_id": event.run_id,
            "seq": event.seq,
            "occurred_at": event.occurred_at,
            "published_at": published_at,
            "actor": event.actor,
            "action": event.action,
            "resource": event.resource,
            "outcome": event.outcome,
            "source_ip": event.source_ip,
            "correlation_id": event.correlation_id,
            "schema_version": event.schema_version,
        }
    ).encode()


class Publisher:
    """Owns the broker connection and moves events from the buffer to confirmed."""

    def __init__(
        self,
        amqp_url: str,
        buffer: PendingBuffer,
        window: int = WINDOW,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.backoff = backoff or Backoff()
        self.buffer = buffer
        self.window = window
        self.connected = False
        self.confirmed = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lost = False
        self._hold_until = 0.0
        # confirm future → (event, deadline); replaced (not cleared) at teardown, so a late
        # callback of an old connection's future finds nothing
        self._pending: dict[asyncio.Future[Any], tuple[AuditEvent, float]] = {}
        self._unreported = 0  # confirms not yet added to the messages_published_total counter
        self._raw: Any = None
        self._batched = False  # the connection's channel takes `publish_many`
        self._connection: Any = None
        self._connected_gauge = BROKER_CONNECTED.labels(SERVICE)
        self._published = MESSAGES_PUBLISHED.labels(SERVICE)
        self._dependency = DEPENDENCY_UP.labels(SERVICE, "rabbitmq")
        self._set_connected(False)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def wake(self) -> None:
        """New events are waiting (called by the generation loop)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop publishing (after `drain`); outstanding confirms are abandoned."""
        self._stop.set()
        self._wake.set()

    async def drain(self, timeout: float) -> int:
        """Keep publishing until the buffer is empty or `timeout` passes; return what is left."""
        deadline = time.monotonic() + timeout
        while len(self.buffer) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(self.buffer)

    async def run(self) -> None:
        """Connect, pump, and on any loss requeue in-flight events and reconnect with backoff."""
        await keep_connected(
            self._connect,
            self._pump,
            self._stop,
            self._connection_failed,
            after_attempt=self._teardown,
            backoff=self.backoff,
        )

    async def _connection_failed(self, exc: Exception, retry_in_s: float) -> None:
        log.warning(
            "broker connection failed; retrying",
            extra={
                "fields": {
                    "error": error_text(exc),
                    "retry_in_s": retry_in_s,
                    "buffered": len(self.buffer),
                }
            },
        )

    async def _connect(self) -> None:
        self._lost = False
        self._connection = await aio_pika.connect(self.amqp_url, timeout=10)
        self._connection.close_callbacks.add(self._on_close)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(self._on_close)
        await topology.declare(channel)
        raw = self._raw = await channel.get_underlay_channel()
        self._batched = supported(raw)
        self._set_connected(True)
        log.info(
            "connected to broker",
            extra={"fields": {"url": redact_url(self.amqp_url), "batched_publish": self._batched}},
        )

    async def _pump(self) -> None:
        """Publish from the buffer until stopped; raise once the connection is lost."""
        raw, batched = self._raw, self._batched
        while not self._lost and not self._stop.is_set():
            self._wake.clear()
            self._report_confirmed()
            now = time.monotonic()
            self._expire(now)
            if now < self._hold_until:
                await asyncio.sleep(self._hold_until - now)
                continue
            room = min(self.window - len(self._pending), SEND_CHUNK)
            events = self.buffer.take(room) if room > 0 else []
            if events:
                await self._send(raw, batched, events)
                await asyncio.sleep(0)  # let confirms and the generation tick run
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_WAIT_S):  # no task per wait, unlike wait_for
                    await self._wake.wait()
        if self._lost:
            raise ConnectionError("broker connection or channel closed")

    async def _send(self, raw: Any, batched: bool, events: list[AuditEvent]) -> None:
        stamp = datetime.now(UTC).isoformat()
        outgoing = [message_for(event, stamp) for event in events]
        try:
            if batched:
                # Plain loop futures: `_teardown` settles whatever is outstanding when the channel
                # or connection goes, so aiormq's per-future bookkeeping is not needed.
                futures = await publish_many(
                    raw,
                    topology.EXCHANGE,
                    outgoing,
                    content_type=CONTENT_TYPE,
                    header_name=topology.CORRELATION_HEADER,
                    create_future=asyncio.get_running_loop().create_future,
                )
            else:
                futures = await _publish_each_async(
                    raw,
                    topology.EXCHANGE,
                    outgoing,
                    content_type=CONTENT_TYPE,
                    header_name=topology.CORRELATION_HEADER,
                )
        except Exception:
            for event in events:
                self.buffer.retry(event.seq)
            self._lost = True
            raise
        deadline = time.monotonic() + PUBLISH_TIMEOUT_S
        pending, settle = self._pending, self._settle
        for event, future in zip(events, futures, strict=True):
            pending[future] = (event, deadline)
            future.add_done_callback(settle)

    def _expire(self, now: float) -> None:
        """Give up waiting for confirms older than the timeout (they are re-published)."""
        if not self._pending:
            return
        oldest = next(iter(self._pending.values()))[1]
        if oldest > now:
            return
        for future, (event, deadline) in list(self._pending.items()):
            if deadline > now:
                break
            if self._raw is not None and supported(self._raw):
                forget_message(self._raw, event.event_id, future)
            future.cancel()

    def _settle(self, future: asyncio.Future[Any]) -> None:
        """A confirm future is done (one bound method for all of them, no closure per message)."""
        error = None if future.cancelled() else future.exception()  # always retrieved
        entry = self._pending.pop(future, None)
        if entry is None:
            return  # the connection was torn down; teardown requeued this event
        event = entry[0]
        if future.cancelled():
            self._failed(event, "timeout")
        elif error is None:
            if self.buffer.confirm(event.seq):
                self.confirmed += 1
                self._unreported += 1
            if self.buffer.waiting:  # the pump may be waiting for room in the window
                self._wake.set()
            return
        elif isinstance(error, PublishError):
            self._failed(event, "returned")  # unroutable: no queue bound
        elif isinstance(error, DeliveryError):
            self._failed(event, "nack")
        else:
            self._lost = True
            self._failed(event, "connection")
        self._wake.set()  # the event waits to be published again

    def _report_confirmed(self) -> None:
        """Add the confirms counted since the last call to messages_published_total (one
        locked increment per wake-up of the pump instead of one per confirm)."""
        if self._unreported:
            self._published.inc(self._unreported)
            self._unreported = 0

    def _failed(self, event: AuditEvent, reason: str) -> None:
        # A nack or a return is the broker's "no"; a timeout or a lost connection leaves the
        # attempt's outcome unknown (the ledger's `info`): the message may well be queued.
        if not self.buffer.retry(event.seq, refused=reason in REFUSED):
            return
        PUBLISH_FAILURES.labels(SERVICE, reason).inc()
        if reason == "connection":
            return
        self._hold_until = time.monotonic() + RETRY_HOLD_S
        cid_token = correlation_id_var.set(event.correlation_id)
        eid_token = event_id_var.set(event.event_id)
        try:
            log.warning(
                "publish not confirmed; will retry",
                extra={"fields": {"reason": reason, "seq": event.seq}},
            )
        finally:
            correlation_id_var.reset(cid_token)
            event_id_var.reset(eid_token)

    def _on_close(self, *_: Any) -> None:
        self._lost = True
        self._wake.set()

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        self._connected_gauge.set(1 if value else 0)
        self._dependency.set(1 if value else 0)

    async def _teardown(self) -> None:
        was_connected = self.connected
        self._set_connected(False)
        self._report_confirmed()
        self._raw = None
        # late callbacks from this connection find nothing in the new map and are ignored
        pending, self._pending = list(self._pending), {}
        for future in pending:
            future.cancel()
        requeued = self.buffer.retry_all_in_flight()
        if requeued:
            PUBLISH_FAILURES.labels(SERVICE, "connection").inc(requeued)
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
        if was_connected and self._stop.is_set():
            log.info("closed broker connection", extra={"fields": {"buffered": len(self.buffer)}})
        elif was_connected:
            log.warning(
                "disconnected from broker; buffering",
                extra={"fields": {"requeued": requeued, "buffered": len(self.buffer)}},
            )


async def _publish_each_async(
    raw: Any, exchange: str, messages: list[Outgoing], *, content_type: str, header_name: str
) -> list[asyncio.Future[Any]]:
    return publish_each(raw, exchange, messages, content_type=content_type, header_name=header_name)
