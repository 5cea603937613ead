"""Re-drive what a bad build dead-lettered: back from the dead-letter queue into the main exchange.

A build that rejects every event acks each one only after its dead-letter copy is confirmed, so
nothing is lost — but nothing is stored either until someone re-drives the dead-letter queue
once the good build is back: the step of every runbook that follows "roll back". This is that
step. It takes exactly the messages the bad build rejected — the reason header it gave
(`x-auditflow-reason`), with the detail its setting produces — and only those the good build
accepts (`auditflow.events.decode` with the default limits), so genuinely malformed messages
(another drill's, a producer's) stay where they are for whoever owns them.

Each selected message is republished with publisher confirms, persistent, with its original
properties (minus the reason headers), and only then acked in the dead-letter queue; the rest
are left unacked and go back when the channel closes. Killed half-way, the unacked ones are
still in the queue and storage is idempotent on `event_id`, so running it again (`recover`) is
safe. The selection (`Selected`) is pure and unit-tested; `redrive_rejected` is the pika part.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from auditflow import topology
from auditflow.events import MalformedEvent, decode
from drills.errors import TargetError

DEADLINE_S = 120.0


@dataclass(frozen=True)
class Rejection:
    """What the bad build's rejection looks like: its reason, and the end of its detail."""

    reason: str
    detail_suffix: str = ""


@dataclass(frozen=True)
class Selected:
    """A message to re-drive: its routing key (from the event's action)."""

    routing_key: str


def select(
    rejection: Rejection, headers: dict[str, Any] | None, body: bytes, content_type: str | None
) -> Selected | None:
    """The message's re-drive, when the bad build rejected it and the good build accepts it."""
    headers = headers or {}
    if headers.get(topology.REASON_HEADER) != rejection.reason:
        return None
    detail = headers.get(topology.DETAIL_HEADER)
    if rejection.detail_suffix and not (
        isinstance(detail, str) and detail.endswith(rejection.detail_suffix)
    ):
        return None
    try:
        event = decode(body, content_type)
    except MalformedEvent:
        return None  # malformed for the good build too: not a victim of the deploy
    return Selected(topology.routing_key(event.action))


def original_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """The headers the producer sent, without what dead-lettering added."""
    added = {topology.REASON_HEADER, topology.DETAIL_HEADER}
    return {k: v for k, v in (headers or {}).items() if k not in added}


@dataclass(frozen=True)
class DlqRedrive:
    scanned: int
    redriven: int
    left: int  # messages not ours, left in the queue
    seconds: float


def redrive_rejected(amqp_url: str, rejection: Rejection) -> DlqRedrive:
    """Move every message `rejection` selects from the dead-letter queue back to the exchange."""
    import pika  # noqa: PLC0415 - only the re-drive needs the blocking client
    from pika.exceptions import AMQPError  # noqa: PLC0415

    started = time.monotonic()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except AMQPError as exc:
        raise TargetError(f"dead-letter re-drive: cannot connect to RabbitMQ: {exc!r}") from exc
    scanned = redriven = left = 0
    try:
        reader = connection.channel()
        writer = connection.channel()
        writer.confirm_delivery()  # basic_publish raises on a nack or an unroutable message
        while time.monotonic() - started < DEADLINE_S:
            method, properties, body = reader.basic_get(topology.DEAD_LETTER_QUEUE)
            if method is None:
                break
            scanned += 1
            chosen = select(rejection, properties.headers, body, properties.content_type)
            if chosen is None:
                left += 1  # not ours: requeued when the channel closes
                continue
            writer.basic_publish(
                topology.EXCHANGE,
                chosen.routing_key,
                body,
                pika.BasicProperties(
                    content_type=properties.content_type,
                    delivery_mode=2,
                    message_id=properties.message_id,
                    correlation_id=properties.correlation_id,
                    headers=original_headers(properties.headers),
                    timestamp=properties.timestamp,
                ),
                mandatory=True,
            )
            reader.basic_ack(method.delivery_tag)
            redriven += 1
    except AMQPError as exc:
        raise TargetError(
            f"dead-letter re-drive from {topology.DEAD_LETTER_QUEUE} failed after {redriven}: "
            f"{exc!r}"[:400]
        ) from exc
    finally:
        if connection.is_open:
            with contextlib.suppress(AMQPError):
                connection.close()
    return DlqRedrive(scanned, redriven, left, round(time.monotonic() - started, 3))
