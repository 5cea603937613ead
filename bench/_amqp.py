"""Raw-broker baselines: a tap queue that receives a copy of every event, and a bare consumer.

The "raw broker" baseline of `drain` and `pipeline` is what RabbitMQ and a Python client can do
with no processing at all: deliveries counted and multi-acked every `ACK_EVERY`, nothing parsed.
A tap queue bound like the analysis queue gets the very same messages, so the baseline and the
full pipeline are measured on identical data in the same run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import aiormq

EXCHANGE = "auditflow.events"
BINDING_KEY = "audit.#"
ACK_EVERY = 500


async def _declare(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        tap = await channel.declare_queue(queue, durable=True)
        await tap.bind(exchange, BINDING_KEY)
    finally:
        await connection.close()


def declare_tap(url: str, queue: str) -> None:
    """A durable queue bound like `auditflow.analysis`: it receives a copy of every event."""
    asyncio.run(_declare(url, queue))


async def _depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


def depth(url: str, queue: str) -> int:
    """Messages ready in `queue` (not counting unacknowledged deliveries)."""
    return asyncio.run(_depth(url, queue))


async def _delete(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)
    finally:
        await connection.close()


def delete(url: str, queue: str) -> None:
    asyncio.run(_delete(url, queue))


async def _consume(url: str, queue: str, count: int, prefetch: int, timeout: float) -> float:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        await channel.basic_qos(prefetch_count=prefetch)
        done = asyncio.get_running_loop().create_future()
        state = {"n": 0, "started": 0.0}

        async def on_message(message: Any) -> None:
            if not state["n"]:
                state["started"] = time.perf_counter()
            state["n"] += 1
            n = state["n"]
            if n % ACK_EVERY == 0 or n >= count:
                await channel.basic_ack(message.delivery.delivery_tag, multiple=True)
            if n >= count and not done.done():
                done.set_result(time.perf_counter())

        await channel.basic_consume(queue, on_message, no_ack=False)
        finished = await asyncio.wait_for(done, timeout)
        return float(finished - state["started"])
    finally:
        await connection.close()


def raw_consume(
    url: str, queue: str, count: int, prefetch: int = 2000, timeout: float = 600
) -> float:
    """Consume `count` messages with no processing; seconds from first delivery to the last."""
    return asyncio.run(_consume(url, queue, count, prefetch, timeout))


async def _archive_binding(url: str, bound: bool) -> None:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        if bound:
            await channel.queue_bind("auditflow.archive", EXCHANGE, routing_key=BINDING_KEY)
        else:
            await channel.queue_unbind("auditflow.archive", EXCHANGE, routing_key=BINDING_KEY)
    finally:
        await connection.close()


def archive_binding(url: str, bound: bool) -> None:
    """Bind or unbind the archive stream (only to measure what it costs; always re-bound)."""
    asyncio.run(_archive_binding(url, bound))
