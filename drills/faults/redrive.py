"""Re-drive events from the broker's archive stream back into the main exchange.

An event PostgreSQL lost in a restore was acknowledged long ago, so it is no longer in the analysis
queue; every event is also appended to the stream `auditflow.archive` (see `auditflow.topology`),
which keeps it for hours. Re-drive reads that stream over AMQP 0-9-1 from a timestamp offset
(a little before the backup), picks exactly the messages whose event id is known to be missing,
and republishes their original bodies and properties with publisher confirms. Storage is
idempotent on `event_id`, so a re-driven event that turns up present after all is harmless.

A stream never ends, so reading stops at the first of: every missing id found, a message published
after the wipe (nothing later can be one of the lost events), a quiet spell, or a deadline.

The selection logic (`Selection`) is pure and unit-tested; `redrive` is the pika part.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditflow import topology
from drills.errors import TargetError

PREFETCH = 1000  # streams refuse consumers without a prefetch limit
ACK_EVERY = 200
INACTIVITY_S = 3.0
TICK_S = 0.25  # pika's inactivity tick; quiet spells are counted in ticks
DRAIN_MAX_S = 1.0
DEADLINE_S = 120.0
PAST_WIPE_MARGIN_S = 5.0
STREAM_OFFSET_HEADER = "x-stream-offset"


def event_id_of(message_id: str | None, body: bytes) -> str | None:
    """The event id: the AMQP message_id, else the JSON body's `event_id`; None if neither."""
    if message_id:
        return message_id.lower()
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(value, dict) and isinstance(value.get("event_id"), str):
        return str(value["event_id"]).lower()
    return None


def published_at_of(body: bytes) -> float | None:
    """The body's `published_at` (ISO 8601) as unix seconds, or None when absent/unparsable."""
    try:
        value = json.loads(body)
        stamp = value.get("published_at") if isinstance(value, dict) else None
        if not isinstance(stamp, str):
            return None
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, UnicodeDecodeError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass
class Selection:
    """Decides, message by message, what to re-drive and when reading the stream may stop."""

    missing: frozenset[str]
    wipe_at: float
    margin_s: float = PAST_WIPE_MARGIN_S
    found: set[str] = field(default_factory=set)
    scanned: int = 0
    past_wipe: bool = False

    def __post_init__(self) -> None:
        self.missing = frozenset(i.lower() for i in self.missing)

    def take(self, message_id: str | None, body: bytes) -> bool:
        """True when this message must be re-driven (a missing event not re-driven yet)."""
        self.scanned += 1
        published = published_at_of(body)
        if published is not None and published > self.wipe_at + self.margin_s:
            self.past_wipe = True
        event_id = event_id_of(message_id, body)
        if event_id is None or event_id not in self.missing or event_id in self.found:
            return False
        self.found.add(event_id)
        return True

    @property
    def complete(self) -> bool:
        return self.found >= self.missing

    @property
    def done(self) -> bool:
        return self.complete or self.past_wipe

    @property
    def not_found(self) -> frozenset[str]:
        return self.missing - self.found


def republish_headers(headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """The original headers minus what the stream added (its offset)."""
    if not headers:
        return headers
    return {k: v for k, v in headers.items() if k != STREAM_OFFSET_HEADER}


def missing_ids(before_wipe: Iterable[str], present_after: Iterable[str]) -> frozenset[str]:
    """Events committed before the wipe that the restored database does not hold (the RPO)."""
    return frozenset(i.lower() for i in before_wipe) - frozenset(i.lower() for i in present_after)


@dataclass(frozen=True)
class RedriveResult:
    offset: str  # ISO timestamp the stream was read from
    scanned: int
    redriven: int
    not_found: int
    stopped_because: str
    seconds: float


def redrive(
    amqp_url: str, missing: frozenset[str], offset: datetime, wipe_at: float
) -> RedriveResult:
    """Read the archive from `offset`, republish the `missing` events; confirm every publish."""
    import pika  # noqa: PLC0415 - only the re-drive needs the blocking client
    from pika.exceptions import AMQPError  # noqa: PLC0415

    if not missing:
        return RedriveResult(offset.isoformat(), 0, 0, 0, "nothing missing", 0.0)
    selection = Selection(missing, wipe_at)
    started = time.monotonic()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except AMQPError as exc:
        raise TargetError(f"re-drive: cannot connect to RabbitMQ: {type(exc).__name__}") from exc
    try:
        redriven, reason = _scan(connection, selection, offset, started)
    except AMQPError as exc:
        raise TargetError(f"re-drive from {topology.ARCHIVE_QUEUE} failed: {exc!r}"[:400]) from exc
    finally:
        if connection.is_open:
            with contextlib.suppress(AMQPError):
                connection.close()
    return RedriveResult(
        offset=offset.isoformat(),
        scanned=selection.scanned,
        redriven=redriven,
        not_found=len(selection.not_found),
        stopped_because=reason,
        seconds=round(time.monotonic() - started, 3),
    )


def _scan(
    connection: Any, selection: Selection, offset: datetime, started: float
) -> tuple[int, str]:
    """Consume the stream until `selection` is done; republish what it selects."""
    import pika  # noqa: PLC0415

    reader = connection.channel()
    reader.basic_qos(prefetch_count=PREFETCH)
    writer = connection.channel()
    writer.confirm_delivery()  # basic_publish now raises on a nack or an unroutable message
    redriven, unacked, last_tag = 0, 0, 0
    reason = "deadline"
    messages = reader.consume(
        topology.ARCHIVE_QUEUE,
        auto_ack=False,
        arguments={STREAM_OFFSET_HEADER: offset},
        inactivity_timeout=TICK_S,
    )
    quiet_since: float | None = None
    for method, properties, body in messages:
        if method is None:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= INACTIVITY_S:
                reason = "stream quiet"
                break
            continue
        quiet_since = None
        last_tag, unacked = method.delivery_tag, unacked + 1
        if selection.take(properties.message_id, body):
            props = pika.BasicProperties(
                content_type=properties.content_type,
                delivery_mode=2,
                message_id=properties.message_id,
                correlation_id=properties.correlation_id,
                headers=republish_headers(properties.headers),
                timestamp=properties.timestamp,
                type=properties.type,
            )
            writer.basic_publish(topology.EXCHANGE, method.routing_key, body, props, mandatory=True)
            redriven += 1
        if unacked >= ACK_EVERY:  # streams need acks to grant the consumer more credit
            reader.basic_ack(last_tag, multiple=True)
            unacked = 0
        if selection.done:
            reason = "all missing found" if selection.complete else "reached the wipe"
            break
        if time.monotonic() - started > DEADLINE_S:
            break
    if unacked:
        reader.basic_ack(last_tag, multiple=True)
    _stop_consuming(reader, messages)
    return redriven, reason


def _stop_consuming(reader: Any, messages: Any) -> None:
    """Cancel the stream consumer without the client rejecting what it still holds.

    pika's cancel rejects (requeues) deliveries it has buffered, and a stream answers a reject by
    closing the connection. So first take in, unacknowledged, what is already on its way (until a
    quiet tick or `DRAIN_MAX_S`), then cancel. Under steady load a message may still slip in and
    the broker then closes the connection: harmless, because everything selected was already
    republished and confirmed, so an error from here on changes nothing.
    """
    from pika.exceptions import AMQPError  # noqa: PLC0415

    until = time.monotonic() + DRAIN_MAX_S
    with contextlib.suppress(AMQPError):
        for method, _properties, _body in messages:
            if method is None or time.monotonic() > until:
                break
        reader.cancel()
