"""The generator's per-event fast paths give exactly what the general code gives."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict
from typing import Any

import pamqp.frame
import pytest
from aio_pika.exceptions import DeliveryError
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from prometheus_client import REGISTRY

from auditflow import topology
from auditflow.events import CONTENT_TYPE, AuditEvent, event_id_for
from auditflow.generator.amqp_batch import (
    PRUNE_SLACK,
    Outgoing,
    forget_message,
    prune_returns_map,
    publish_many,
)
from auditflow.generator.amqp_wire import publish_frames
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.factory import ACTIONS, RESOURCES, EventFactory, EventIds
from auditflow.generator.publisher import Publisher, encode_event, message_for

TEXT = st.text(max_size=40)


@given(run_id=st.text(max_size=60), seq=st.integers(min_value=0, max_value=10**12))
def test_event_ids_match_uuid5(run_id: str, seq: int) -> None:
    assert EventIds(run_id)(seq) == event_id_for(run_id, seq)


def test_factory_ids_and_vocabulary() -> None:
    factory = EventFactory("run-x", random.Random(7))
    for seq in range(1, 2000):
        event = factory.make(seq, "2030-01-01T00:00:00+00:00")
        assert event.event_id == event_id_for("run-x", seq)
        assert event.action in ACTIONS
        assert event.resource.split("/")[0] in RESOURCES
        assert len(event.correlation_id) == 32


@given(
    fields=st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT),
    seq=st.integers(min_value=-(10**20), max_value=10**20),
    stamp=TEXT,
)
def test_encode_event_is_byte_identical_to_json_dumps(
    fields: tuple[str, ...], seq: int, stamp: str
) -> None:
    event_id, run_id, occurred, published, actor, action, resource, outcome, ip, cid = fields
    event = AuditEvent(
        event_id, run_id, seq, occurred, published, actor, action, resource, outcome, ip, cid
    )
    expected = json.dumps({**asdict(event), "published_at": stamp}, separators=(",", ":"))
    assert encode_event(event, stamp) == expected.encode()
    assert encode_event(event, event.published_at) == event.encode()


def test_encode_event_falls_back_for_unusual_types() -> None:
    # A None actor on purpose: the fast encoder must notice a non-str field and fall back.
    event = AuditEvent("e", "r", True, "o", "p", None, "a", "res", "ok", "ip", "c")  # type: ignore[arg-type]
    expected = json.dumps({**asdict(event), "published_at": "s"}, separators=(",", ":"))
    assert encode_event(event, "s") == expected.encode()


def test_message_for_routing_key_matches_topology() -> None:
    event = EventFactory("r").make(1)
    message = message_for(event, "stamp")
    assert message.routing_key == topology.routing_key(event.action)
    assert message.message_id == event.event_id
    assert message.correlation_id == event.correlation_id


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 250])
def test_wire_frames_identical_to_pamqp_for_any_body_size(size: int) -> None:
    body = b"z" * size
    props = spec.Basic.Properties(
        content_type=CONTENT_TYPE,
        delivery_mode=2,
        message_id="m" * 36,
        correlation_id="c" * 32,
        headers={"x-correlation-id": "c" * 32},
    )
    expected = pamqp.frame.marshal(
        spec.Basic.Publish(exchange="audit", routing_key="audit.x", mandatory=True), 3
    ) + pamqp.frame.marshal(ContentHeader(properties=props, body_size=size), 3)
    for start in range(0, size, 100):
        expected += pamqp.frame.marshal(ContentBody(body[start : start + 100]), 3)
    actual = publish_frames(
        3,
        "audit",
        "audit.x",
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=2,
        message_id="m" * 36,
        correlation_id="c" * 32,
        header_name="x-correlation-id",
        max_body_frame=100,
    )
    assert actual == expected


def test_wire_frames_refuse_long_ids() -> None:
    with pytest.raises(ValueError):
        publish_frames(
            1,
            "ex",
            "rk",
            b"{}",
            content_type=CONTENT_TYPE,
            delivery_mode=2,
            message_id="m" * 256,
            correlation_id="c",
            header_name="h",
            max_body_frame=100,
        )


class FakeChannel:
    """The aiormq channel attributes `publish_many` uses."""

    publisher_confirms = True
    number = 1
    max_content_size = 131072

    def __init__(self) -> None:
        self.confirmations: dict[int, Any] = {}
        self.delivery_tag = 0
        self.message_id_delivery_tag: dict[str, int] = {}
        self.write_queue: asyncio.Queue[Any] = asyncio.Queue()
        self.lock = asyncio.Lock()
        self.store_futures = 0

    def create_future(self) -> asyncio.Future[Any]:
        self.store_futures += 1
        return asyncio.get_running_loop().create_future()


def _messages(first: int, count: int) -> list[Outgoing]:
    return [Outgoing(b"{}", "audit.read", f"m{n}", f"c{n}") for n in range(first, first + count)]


def test_publish_many_registers_each_confirm_and_prunes_settled_ids() -> None:
    async def run() -> None:
        channel = FakeChannel()
        loop = asyncio.get_running_loop()
        futures = await publish_many(
            channel, "ex", _messages(0, 10), content_type=CONTENT_TYPE, header_name="h"
        )
        assert channel.store_futures == 10  # the channel's own futures by default
        assert list(channel.confirmations) == list(range(1, 11))
        assert channel.message_id_delivery_tag == {f"m{n}": n + 1 for n in range(10)}
        assert channel.write_queue.qsize() == 1  # one write for the whole batch
        assert all(channel.confirmations[n + 1] is f for n, f in enumerate(futures))
        for tag in range(1, 11):  # the broker acks them all (aiormq pops the confirmations)
            channel.confirmations.pop(tag).set_result(spec.Basic.Ack(tag))
        first = 10
        for _ in range(3 * PRUNE_SLACK // 100):  # batches of 100, each acked before the next
            batch = await publish_many(
                channel,
                "ex",
                _messages(first, 100),
                content_type=CONTENT_TYPE,
                header_name="h",
                create_future=loop.create_future,
            )
            first += 100
            assert len(batch) == 100
            # bounded: pruned to the outstanding confirms once it exceeds them by the slack
            assert len(channel.message_id_delivery_tag) <= 2 * 100 + PRUNE_SLACK
            for tag in list(channel.confirmations):
                channel.confirmations.pop(tag).set_result(spec.Basic.Ack(tag))
        assert channel.store_futures == 10  # the caller's futures were used
        assert "m0" not in channel.message_id_delivery_tag  # settled ids were pruned
        assert channel.message_id_delivery_tag[f"m{first - 1}"] == first  # tags stay exact

    asyncio.run(run())


def test_prune_keeps_outstanding_and_returning_entries() -> None:
    by_id = {"a": 1, "b": 2, "c": 3}
    confirmations = {2: object(), 3: object()}
    prune_returns_map(by_id, confirmations)
    assert by_id == {"b": 2, "c": 3}


def test_forget_message_only_forgets_that_future() -> None:
    async def run() -> None:
        channel = FakeChannel()
        futures = await publish_many(
            channel, "ex", _messages(0, 2), content_type=CONTENT_TYPE, header_name="h"
        )
        forget_message(channel, "m0", futures[1])  # not m0's future: kept
        assert "m0" in channel.message_id_delivery_tag
        forget_message(channel, "m0", futures[0])
        assert "m0" not in channel.message_id_delivery_tag
        assert "m1" in channel.message_id_delivery_tag

    asyncio.run(run())


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "audit-event-generator", **labels}) or 0.0


def test_publisher_settles_confirms_failures_and_ignores_an_old_connection() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        buffer = PendingBuffer(100)
        factory = EventFactory("r")
        for seq in range(1, 6):
            buffer.add(factory.make(seq))
        publisher = Publisher("amqp://unused", buffer)
        events = buffer.take(5)
        futures = [loop.create_future() for _ in events]
        published0 = _value("messages_published_total")
        nacks0 = _value("messages_publish_failures_total", reason="nack")
        for event, future in zip(events, futures, strict=True):
            publisher._pending[future] = (event, loop.time() + 10)
            future.add_done_callback(publisher._settle)
        futures[0].set_result(spec.Basic.Ack(1))
        futures[1].set_result(spec.Basic.Ack(2))
        futures[2].set_exception(DeliveryError(None, spec.Basic.Nack(3)))
        futures[3].cancel()  # a timeout
        await asyncio.sleep(0)
        assert publisher.confirmed == 2
        assert len(buffer) == 3 and buffer.waiting == 2 and buffer.in_flight == 1
        assert _value("messages_published_total") == published0  # reported by the pump
        publisher._report_confirmed()
        assert _value("messages_published_total") == published0 + 2
        assert _value("messages_publish_failures_total", reason="nack") == nacks0 + 1
        await publisher._teardown()  # the connection is gone: the last one waits again
        assert buffer.in_flight == 0 and buffer.waiting == 3
        assert futures[4].cancelled()
        await asyncio.sleep(0)  # its late callback changes nothing
        assert buffer.waiting == 3 and publisher.confirmed == 2
        assert publisher.in_flight == 0

    asyncio.run(run())


def test_a_confirm_wakes_the_pump_only_when_events_wait() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        buffer = PendingBuffer(100)
        factory = EventFactory("r")
        for seq in range(1, 4):
            buffer.add(factory.make(seq))
        publisher = Publisher("amqp://unused", buffer)
        events = buffer.take(2)  # seq 3 still waits
        futures = [loop.create_future() for _ in events]
        for event, future in zip(events, futures, strict=True):
            publisher._pending[future] = (event, loop.time() + 10)
            future.add_done_callback(publisher._settle)
        futures[0].set_result(spec.Basic.Ack(1))
        await asyncio.sleep(0)
        assert publisher._wake.is_set()  # room in the window for the waiting event
        publisher._wake.clear()
        buffer.take(1)  # nothing waits any more
        futures[1].set_result(spec.Basic.Ack(2))
        await asyncio.sleep(0)
        assert not publisher._wake.is_set()
        assert publisher.confirmed == 2

    asyncio.run(run())
