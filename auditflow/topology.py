"""The broker topology, declared identically (and idempotently) by every publisher and consumer.

The generator declares the queue too, not only the exchange: a persistent event published while no
queue is bound would be confirmed by the broker and silently dropped. Dead-lettering is explicit —
the analysis service republishes a malformed message to the dead-letter exchange with a reason
header, waits for the confirm, then acknowledges the original — and the queue's own
`x-dead-letter-exchange` catches anything rejected without a reason.

Every event is also kept in the stream `auditflow.archive` (bound like the main queue) for a few
hours: an event already acknowledged by the analysis service is gone from its queue, so when
PostgreSQL loses committed rows (a restore from an older backup) the archive is where they are
re-driven from. A stream is an append-only log read from an offset, so reading it never removes
anything; its retention is bounded by age and size.
"""

from __future__ import annotations

from typing import Any

EXCHANGE = "auditflow.events"
QUEUE = "auditflow.analysis"
ROUTING_PREFIX = "audit"
BINDING_KEY = "audit.#"
DEAD_LETTER_EXCHANGE = "auditflow.dead-letter"
DEAD_LETTER_QUEUE = "auditflow.dead-letter"
REASON_HEADER = "x-auditflow-reason"
DETAIL_HEADER = "x-auditflow-detail"
CORRELATION_HEADER = "x-correlation-id"
ARCHIVE_QUEUE = "auditflow.archive"
# Identical wherever it is declared: the broker refuses a redeclaration with other arguments.
ARCHIVE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "stream",
    "x-max-age": "6h",
    "x-max-length-bytes": 1_000_000_000,
    "x-stream-max-segment-size-bytes": 50_000_000,
}


# The analysis queue's bound, set by a broker *policy* (the sandbox applies it with rabbitmqctl
# when the broker is ready, the Kubernetes manifest in a postStart hook), not by queue arguments:
# a policy changes a queue that already exists, while a redeclaration with other arguments is
# refused (PRECONDITION_FAILED) and would break every sandbox and cluster declared before it.
# The overflow behaviour is what keeps a full queue from losing events: RabbitMQ's default,
# drop-head, discards the *oldest* messages — confirmed events, gone — while reject-publish
# nacks the new publish, which the generator keeps in its buffer and publishes again once there
# is room. 30,000 events is about 100 s of the sandbox's drill load (300/s) and ~30 MB.
# RabbitMQQueueFull (drills/monitoring/rules/) fires at 80 % of it; a test keeps the two equal.
QUEUE_MAX_LENGTH = 30_000
QUEUE_POLICY_NAME = "auditflow-analysis-bound"
QUEUE_POLICY_PATTERN = r"^auditflow\.analysis$"
QUEUE_POLICY: dict[str, Any] = {"max-length": QUEUE_MAX_LENGTH, "overflow": "reject-publish"}


def routing_key(action: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in action)[:64]
    return f"{ROUTING_PREFIX}.{safe or 'unknown'}"


async def declare(channel: Any) -> Any:
    """Declare exchanges, queues and bindings on an aio-pika channel; return the main queue."""
    import aio_pika  # noqa: PLC0415 - imported here so the pure helpers above stay importable without it

    events = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
    )
    queue = await channel.declare_queue(
        QUEUE, durable=True, arguments={"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE}
    )
    await queue.bind(events, BINDING_KEY)
    dlq = await channel.declare_queue(DEAD_LETTER_QUEUE, durable=True)
    await dlq.bind(dead, "")
    archive = await channel.declare_queue(
        ARCHIVE_QUEUE, durable=True, auto_delete=False, arguments=ARCHIVE_ARGUMENTS
    )
    await archive.bind(events, BINDING_KEY)
    return queue
