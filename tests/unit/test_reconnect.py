"""The reconnect back-off shared by the analysis consumer and the generator's publisher: bounded,
not jittered, reset once a connection is up, stop-aware, and wired into both services."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aio_pika
import pytest

from auditflow.analysis.consumer import Consumer
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.factory import EventFactory
from auditflow.generator.publisher import Publisher
from auditflow.reconnect import Backoff, keep_connected
from tests.unit.test_analysis_consumer_delivery import FakePipeline

FAST = {"first": 0.001, "ceiling": 0.004}


def test_backoff_doubles_from_first_up_to_the_ceiling_without_jitter():
    """0.2 s, 0.4 s, 0.8 s, then 1 s however many attempts fail; the same every time."""
    backoff = Backoff()
    assert [backoff.failed() for _ in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert max(backoff.failed() for _ in range(10_000)) == 1.0
    again = Backoff()
    assert [again.failed() for _ in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_backoff_starts_again_after_a_success():
    """Once a connection is up, the next loss is retried after the first delay again."""
    backoff = Backoff(first=0.5, ceiling=8, factor=3)
    assert [backoff.failed() for _ in range(3)] == [0.5, 1.5, 4.5]
    assert backoff.delay == 8
    backoff.succeeded()
    assert backoff.delay == 0.5
    assert backoff.failed() == 0.5


@pytest.mark.parametrize(
    "settings", [{"first": 0}, {"first": 2, "ceiling": 1}, {"factor": 0.5}, {"first": -1}]
)
def test_backoff_refuses_a_policy_that_is_not_bounded_or_not_growing(settings):
    """A zero/negative first delay, a ceiling below it or a shrinking factor is refused."""
    with pytest.raises(ValueError, match="back-off needs"):
        Backoff(**settings)


def test_keep_connected_waits_longer_after_each_failure_and_resets_after_a_connection():
    """Refused, refused, connected then lost, refused x3, connected until stop: the waits are
    1, 2 | 1, 2, 4, 4 ms and `after_attempt` runs after each of the 7 attempts."""

    async def run() -> tuple[list[float], int, int]:
        stop = asyncio.Event()
        script = ["refuse", "refuse", "lose", "refuse", "refuse", "refuse", "stop"]
        waits: list[float] = []
        attempts = 0
        cleanups = 0

        async def connect() -> None:
            nonlocal attempts
            attempts += 1
            if script[attempts - 1] == "refuse":
                raise ConnectionRefusedError("refused")

        async def serve() -> None:
            if script[attempts - 1] == "lose":
                raise ConnectionError("channel closed")
            stop.set()

        async def on_failure(exc: Exception, wait: float) -> None:
            waits.append(wait)

        async def after_attempt() -> None:
            nonlocal cleanups
            cleanups += 1

        await keep_connected(
            connect,
            serve,
            stop,
            on_failure,
            after_attempt=after_attempt,
            backoff=Backoff(**FAST),
        )
        return waits, attempts, cleanups

    waits, attempts, cleanups = asyncio.run(run())
    assert waits == [0.001, 0.002, 0.001, 0.002, 0.004, 0.004]
    assert attempts == cleanups == 7


def test_keep_connected_stops_during_a_wait_without_another_attempt():
    """A stop during a 30 s wait ends the loop at once, with no further connect."""

    async def run() -> tuple[int, float]:
        stop = asyncio.Event()
        attempts = 0

        async def connect() -> None:
            nonlocal attempts
            attempts += 1
            raise ConnectionRefusedError("refused")

        async def serve() -> None:
            raise AssertionError("never connected")

        async def on_failure(exc: Exception, wait: float) -> None:
            asyncio.get_running_loop().call_later(0.05, stop.set)

        started = time.monotonic()
        await asyncio.wait_for(
            keep_connected(connect, serve, stop, on_failure, backoff=Backoff(30, 30)), 5
        )
        return attempts, time.monotonic() - started

    attempts, took = asyncio.run(run())
    assert attempts == 1
    assert took < 5


def test_keep_connected_never_swallows_cancellation_and_still_cleans_up():
    """Cancelling the service task cancels the loop; `after_attempt` still runs, `on_failure`
    does not."""

    async def run() -> tuple[list[str], bool]:
        calls: list[str] = []
        stop = asyncio.Event()

        async def connect() -> None:
            calls.append("connect")

        async def serve() -> None:
            await stop.wait()

        async def on_failure(exc: Exception, wait: float) -> None:
            calls.append("failure")

        async def after_attempt() -> None:
            calls.append("after")

        task = asyncio.create_task(
            keep_connected(connect, serve, stop, on_failure, after_attempt=after_attempt)
        )
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait({task}, timeout=5)
        stop.set()  # lets a loop that swallowed the cancellation end, so the test cannot hang
        await asyncio.wait({task}, timeout=5)
        return calls, task.cancelled()

    calls, cancelled = asyncio.run(run())
    assert cancelled
    assert calls == ["connect", "after"]


def _retry_waits(caplog: pytest.LogCaptureFixture, message: str) -> list[Any]:
    # `fields` is the structured-log extra the services attach to a record (not a LogRecord field).
    return [vars(r)["fields"]["retry_in_s"] for r in caplog.records if r.getMessage() == message]


def test_publisher_retries_a_refused_broker_with_backoff_and_requeues_in_flight_events(
    monkeypatch, caplog
):
    """Each refused connect is logged with its wait (growing to the ceiling) and followed by a
    teardown that puts in-flight events back in the buffer."""
    caplog.set_level(logging.WARNING)
    buffer = PendingBuffer(10)
    factory = EventFactory("r")
    for seq in (1, 2):
        buffer.add(factory.make(seq))
    buffer.take(2)  # in flight when the connection went
    publisher = Publisher("amqp://unused", buffer, backoff=Backoff(**FAST))
    attempts = 0

    async def refuse(*_: Any, **__: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 4:
            publisher.stop()
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(aio_pika, "connect", refuse)  # the module the publisher connects through
    asyncio.run(asyncio.wait_for(publisher.run(), 5))
    assert _retry_waits(caplog, "broker connection failed; retrying") == [
        0.001,
        0.002,
        0.004,
        0.004,
    ]
    assert buffer.in_flight == 0 and buffer.waiting == 2
    assert not publisher.connected


def test_consumer_retries_after_a_loss_from_the_first_delay_again(monkeypatch, caplog):
    """Refused twice, then connected and lost: the loss is retried after the first delay, not
    after the grown one; a stop while connected ends the run."""
    caplog.set_level(logging.WARNING)
    consumer = Consumer(
        "amqp://unused",
        10,
        65536,
        FakePipeline(),  # type: ignore[arg-type]
        backoff=Backoff(**FAST),
    )
    stop = asyncio.Event()
    script = ["refuse", "refuse", "lose", "stop"]
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        consumer._lost.clear()
        step = script[attempts - 1]
        if step == "refuse":
            raise ConnectionRefusedError("refused")
        if step == "lose":
            asyncio.get_running_loop().call_soon(consumer._lost.set)
        else:
            asyncio.get_running_loop().call_soon(stop.set)

    monkeypatch.setattr(consumer, "_connect", connect)
    asyncio.run(asyncio.wait_for(consumer.run(stop), 5))
    assert _retry_waits(caplog, "broker connection lost; reconnecting") == [0.001, 0.002, 0.001]
    assert attempts == 4
