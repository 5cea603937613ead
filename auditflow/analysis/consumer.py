"""The broker side: consume with prefetch and manual acks, validate, dead-letter, reconnect.

aio-pika opens the connection and channel and declares the topology; deliveries, acks and the
dead-letter publishes go through the underlying aiormq channel, which skips aio-pika's
per-message wrapper object and extra task (a third of the per-message CPU on the sandbox VM).
Deliveries themselves are decoded by `amqp_receive` inside the connection's reader and handed to
`_on_delivery` synchronously, in delivery order; when aiormq's internals are not as that module
expects, aiormq's own per-message callback (`_on_message`) feeds the same `_on_delivery`.
Each (re)connection gets a new generation number: acks are only ever sent on the channel that
delivered the message, and a batch from a lost channel is dropped (the broker redelivers it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import uuid
from typing import Any

import aio_pika
from aio_pika.exceptions import DeliveryError, PublishError
from pamqp import commands as spec

from auditflow import topology
from auditflow.analysis import SERVICE, amqp_receive
from auditflow.analysis.acks import AckPlanner
from auditflow.analysis.amqp_decode import Delivery
from auditflow.analysis.metrics import CONSUMER_CONNECTED, EVENTS_DEAD_LETTERED, EVENTS_PROCESSED
from auditflow.analysis.pipeline import Pending, Pipeline
from auditflow.config import redact_url
from auditflow.events import MalformedEvent, decode_row
from auditflow.jsonlog import correlation_id_var
from auditflow.reconnect import Backoff, error_text, keep_connected
from auditflow.telemetry import DEPENDENCY_UP

log = logging.getLogger(SERVICE)

DEAD_LETTER_TIMEOUT_S = 10.0


class Consumer:
    """Owns the broker connection; feeds the pipeline; settles messages for it."""

    def __init__(
        self,
        amqp_url: str,
        prefetch: int,
        max_event_bytes: int,
        pipeline: Pipeline,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.backoff = backoff or Backoff()
        self.prefetch = prefetch
        self.max_event_bytes = max_event_bytes
        self.pipeline = pipeline
        pipeline.settler = self
        self.connected = False
        self.planner = AckPlanner()
        self._generation = 0
        self._raw: Any = None
        self._connection: Any = None
        self._consumer_tag: str | None = None
        self._lost = asyncio.Event()
        self._consuming = True
        self._dead_letter_tasks: set[asyncio.Task[None]] = set()
        self._connected_gauge = CONSUMER_CONNECTED.labels(SERVICE)
        self._broker_gauge = DEPENDENCY_UP.labels(SERVICE, "rabbitmq")
        self._set_connected(False)

    # -- Settler protocol -------------------------------------------------------------------

    def current_generation(self) -> int:
        return self._generation

    async def ack(self, tags: list[int], generation: int) -> bool:
        """Acknowledge committed messages on the channel that delivered them."""
        raw = self._raw
        if generation != self._generation or raw is None or raw.is_closed:
            log.info(
                "committed batch not acknowledged: channel gone (redelivery is deduplicated)",
                extra={"fields": {"messages": len(tags)}},
            )
            return False
        try:
            for tag, multiple in self.planner.plan(tags):
                await raw.basic_ack(tag, multiple=multiple, wait=False)
        except Exception as exc:  # channel closed under us: redelivery is harmless
            log.warning("ack failed", extra={"fields": {"error": repr(exc)[:200]}})
            return False
        return True

    async def dead_letter(self, pending: Pending, reason: str, detail: str) -> None:
        """Dead-letter a valid-looking event that storage refused."""
        await self._dead_letter(pending.message, pending.generation, reason, detail)

    # -- connection loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`; reconnect with backoff after any loss."""
        await keep_connected(
            self._connect,
            functools.partial(self._serve, stop),
            stop,
            self._connection_failed,
            backoff=self.backoff,
        )

    async def _serve(self, stop: asyncio.Event) -> None:
        """Wait for `stop` or a lost connection; on stop the channel stays open (the pipeline
        still has to ack its last batch)."""
        stopping = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        await asyncio.wait({stopping, lost}, return_when="FIRST_COMPLETED")
        stopping.cancel()
        lost.cancel()
        if not stop.is_set():
            raise ConnectionError("broker connection or channel closed")

    async def _connection_failed(self, exc: Exception, retry_in_s: float) -> None:
        log.warning(
            "broker connection lost; reconnecting",
            extra={"fields": {"error": error_text(exc), "retry_in_s": retry_in_s}},
        )
        await self._teardown()

    async def stop_consuming(self) -> None:
        """Ask the broker to stop delivering (SIGTERM); messages already here are still settled."""
        self._consuming = False
        raw, tag = self._raw, self._consumer_tag
        if raw is not None and tag is not None and not raw.is_closed:
            try:
                await asyncio.wait_for(raw.basic_cancel(tag), 5)
            except Exception as exc:
                log.warning("cancel failed", extra={"fields": {"error": repr(exc)[:200]}})

    async def close(self) -> None:
        if self._dead_letter_tasks:
            await asyncio.wait(list(self._dead_letter_tasks), timeout=DEAD_LETTER_TIMEOUT_S)
        await self._teardown()

    async def _connect(self) -> None:
        self._lost.clear()
        connection = await aio_pika.connect(self.amqp_url, timeout=10)
        self._connection = connection
        # Before any channel exists: from here on the reader decodes our deliveries itself.
        try:
            hooks = amqp_receive.install(getattr(connection.transport, "connection", None))
        except Exception as exc:  # aiormq not as expected: its own receive path still works
            log.warning("direct receive path unavailable", extra={"fields": {"error": repr(exc)}})
            hooks = None
        connection.close_callbacks.add(self._on_close)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(self._on_close)
        await channel.set_qos(prefetch_count=self.prefetch)
        await topology.declare(channel)
        raw = await channel.get_underlay_channel()
        self._generation += 1
        self.planner.reset()
        self._raw = raw
        tag = f"{SERVICE}.{uuid.uuid4().hex}"
        if hooks is not None:
            hooks[tag] = self._on_delivery  # registered before the first delivery can arrive
        ok = await raw.basic_consume(
            topology.QUEUE, self._on_message, no_ack=False, consumer_tag=tag
        )
        self._consumer_tag = ok.consumer_tag
        self._set_connected(True)
        log.info(
            "consuming",
            extra={
                "fields": {
                    "url": redact_url(self.amqp_url),
                    "prefetch": self.prefetch,
                    "receive_path": "direct" if hooks is not None else "aiormq",
                }
            },
        )

    def _on_close(self, *_: Any) -> None:
        if self.connected:
            self._generation += 1  # nothing from the old channel may be acked from now on
            dropped = self.pipeline.discard()
            log.log(
                logging.WARNING if self._consuming or dropped else logging.INFO,
                "broker channel closed; unacknowledged messages will be redelivered",
                extra={"fields": {"dropped_from_batch": dropped}},
            )
        self._set_connected(False)
        self._lost.set()

    async def _teardown(self) -> None:
        self._on_close()
        self._raw = None
        self._consumer_tag = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        self._connected_gauge.set(1 if value else 0)
        self._broker_gauge.set(1 if value else 0)

    # -- per message -------------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        """aiormq's per-message callback: only used when `amqp_receive` is not supported."""
        self._on_delivery(Delivery.from_aiormq(message))

    def _on_delivery(self, message: Delivery) -> None:
        """Validate one delivery: valid → pipeline (synchronously, in delivery order); else
        dead-letter."""
        generation = self._generation
        try:
            row, occurred_ts, published_ts = decode_row(
                message.body, message.properties.content_type, self.max_event_bytes
            )
        except MalformedEvent as exc:
            self._start_dead_letter(message, generation, exc.reason, exc.detail)
            return
        except Exception as exc:  # a bug in validation must not crash or requeue-loop
            log.exception("unexpected error while decoding; dead-lettering")
            self._start_dead_letter(
                message, generation, "wrong_type", f"unexpected {type(exc).__name__}"
            )
            return
        self.pipeline.add(
            Pending(message.delivery_tag, generation, row, occurred_ts, published_ts, message)
        )

    def _start_dead_letter(
        self, message: Delivery, generation: int, reason: str, detail: str
    ) -> None:
        self.planner.dead_letter_started(message.delivery_tag)
        properties = message.properties
        correlation_id = (properties.headers or {}).get(
            topology.CORRELATION_HEADER
        ) or properties.correlation_id
        context = contextvars.copy_context()  # the dead-letter task logs with its correlation id
        if isinstance(correlation_id, str):
            context.run(correlation_id_var.set, correlation_id)
        task = asyncio.create_task(
            self._dead_letter(message, generation, reason, detail), context=context
        )
        self._dead_letter_tasks.add(task)
        task.add_done_callback(self._dead_letter_tasks.discard)

    async def _dead_letter(
        self, message: Delivery, generation: int, reason: str, detail: str
    ) -> None:
        """Publish the original body with the reason (confirmed), then ack the original.

        If the dead-letter publish fails, the original is rejected without requeue, so the
        queue's own `x-dead-letter-exchange` still moves it to the dead-letter queue (without
        our reason header) instead of redelivering it forever.
        """
        tag = message.delivery_tag
        properties = message.properties
        headers = dict(properties.headers or {})
        correlation_id = headers.get(topology.CORRELATION_HEADER) or properties.correlation_id
        headers[topology.REASON_HEADER] = reason
        headers[topology.DETAIL_HEADER] = detail[:250]
        if correlation_id:
            headers[topology.CORRELATION_HEADER] = str(correlation_id)[:250]
        log.warning(
            "dead-lettering message",
            extra={"fields": {"reason": reason, "detail": detail[:250]}},
        )
        raw = self._raw
        try:
            if generation != self._generation or raw is None:
                return  # its channel is gone; it will be redelivered and judged again
            try:
                await raw.basic_publish(
                    message.body,
                    exchange=topology.DEAD_LETTER_EXCHANGE,
                    routing_key="",
                    properties=spec.Basic.Properties(
                        content_type=properties.content_type,
                        delivery_mode=2,
                        message_id=properties.message_id,
                        correlation_id=properties.correlation_id,
                        headers=headers,
                    ),
                    mandatory=True,
                    timeout=DEAD_LETTER_TIMEOUT_S,
                )
                published = True
            except (DeliveryError, PublishError, TimeoutError) as exc:
                log.error(
                    "dead-letter publish not confirmed; rejecting to the queue's DLX",
                    extra={"fields": {"error": repr(exc)[:200]}},
                )
                published = False
            if generation != self._generation:
                return
            if published:
                await raw.basic_ack(tag)
            else:
                await raw.basic_reject(tag, requeue=False)
            EVENTS_DEAD_LETTERED.labels(SERVICE, reason).inc()
            EVENTS_PROCESSED.labels(SERVICE, "dead_lettered").inc()
        except Exception as exc:  # channel lost mid-way: redelivery will retry
            log.warning("dead-lettering interrupted", extra={"fields": {"error": repr(exc)[:200]}})
        finally:
            if generation == self._generation:  # else the planner was reset with the channel
                self.planner.dead_letter_finished(tag)
