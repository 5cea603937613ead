"""The consumer's synchronous delivery handler, fed by `amqp_receive` or by aiormq's callback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pamqp import commands as spec
from pamqp.header import ContentHeader

from auditflow.analysis.amqp_decode import Delivery, Properties
from auditflow.analysis.consumer import Consumer
from auditflow.events import event_id_for


class FakePipeline:
    """What the consumer calls on its pipeline (add, settler). Consumer is typed with the concrete
    Pipeline (no Protocol in auditflow.analysis): hence the arg-type ignores where it is passed."""

    def __init__(self) -> None:
        self.settler: Any = None
        self.added: list[Any] = []

    def add(self, pending: Any) -> None:
        self.added.append(pending)

    def discard(self) -> int:
        return 0


def body(**changes: Any) -> bytes:
    event = {
        "event_id": event_id_for("r", 7),
        "run_id": "r",
        "seq": 7,
        "occurred_at": "2024-01-01T00:00:00+00:00",
        "published_at": "2024-01-01T00:00:01+00:00",
        "actor": "alice",
        "action": "login",
        "resource": "user/1",
        "outcome": "failure",
        "source_ip": "10.0.0.1",
        "correlation_id": "corr-7",
        "schema_version": 1,
    }
    event.update(changes)
    return json.dumps(event).encode()


def delivery(tag: int, payload: bytes, content_type: str = "application/json") -> Delivery:
    properties = Properties(content_type, {"x-correlation-id": "corr-7"}, 2, "corr-7", "m")
    return Delivery("ctag", tag, False, "auditflow.events", "audit.login", properties, payload)


def test_valid_deliveries_reach_the_batch_in_order() -> None:
    async def run() -> FakePipeline:
        pipeline = FakePipeline()
        consumer = Consumer("amqp://localhost/", 10, 65536, pipeline)  # type: ignore[arg-type]
        for tag in (1, 2, 3):
            consumer._on_delivery(delivery(tag, body(seq=tag, event_id=event_id_for("r", tag))))
        return pipeline

    pipeline = asyncio.run(run())
    assert [p.tag for p in pipeline.added] == [1, 2, 3]
    first = pipeline.added[0]
    assert first.generation == 0
    assert first.row[0] == event_id_for("r", 1)
    assert first.row[5:] == ("alice", "login", "user/1", "failure", "10.0.0.1", "corr-7")
    assert first.published_ts - first.occurred_ts == 1.0
    assert first.message.delivery_tag == 1


def test_malformed_delivery_is_dead_lettered_not_batched() -> None:
    async def run() -> tuple[FakePipeline, Consumer, set[int]]:
        pipeline = FakePipeline()
        consumer = Consumer("amqp://localhost/", 10, 65536, pipeline)  # type: ignore[arg-type]
        consumer._on_delivery(delivery(5, body(outcome="maybe")))
        consumer._on_delivery(delivery(6, b"{}", content_type="text/plain"))
        in_progress = set(consumer.planner._dead_letters)
        await asyncio.wait(list(consumer._dead_letter_tasks))
        return pipeline, consumer, in_progress

    pipeline, consumer, in_progress = asyncio.run(run())
    assert pipeline.added == []
    assert in_progress == {5, 6}  # multi-acks stop below them until the dead-letter is settled
    assert consumer.planner._dead_letters == set()


def test_aiormq_fallback_callback_feeds_the_same_handler() -> None:
    valid_body = body()

    class Message:
        delivery = spec.Basic.Deliver(
            consumer_tag="ctag", delivery_tag=9, exchange="auditflow.events", routing_key="k"
        )
        header = ContentHeader(
            0,
            0,
            spec.Basic.Properties(
                content_type="application/json", headers={"x-correlation-id": "c"}
            ),
        )
        body = valid_body

    async def run() -> FakePipeline:
        pipeline = FakePipeline()
        consumer = Consumer("amqp://localhost/", 10, 65536, pipeline)  # type: ignore[arg-type]
        await consumer._on_message(Message())
        return pipeline

    pipeline = asyncio.run(run())
    assert [p.tag for p in pipeline.added] == [9]
