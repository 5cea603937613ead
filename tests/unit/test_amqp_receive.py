"""The analysis service's delivery decoder agrees with pamqp, and refuses broken frame sequences."""

from __future__ import annotations

import asyncio
from typing import Any

import pamqp.frame
import pytest
from aiormq.connection import FrameReceiver
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from auditflow.analysis import amqp_receive
from auditflow.analysis.amqp_decode import (
    Delivery,
    decode_deliver,
    decode_header,
    decode_header_fast,
)
from auditflow.analysis.amqp_receive import install, supported
from auditflow.generator.amqp_wire import publish_frames

TAG = "audit-log-analysis.test"
PROPS = [
    "app_id",
    "cluster_id",
    "content_encoding",
    "content_type",
    "correlation_id",
    "delivery_mode",
    "expiration",
    "headers",
    "message_id",
    "message_type",
    "priority",
    "reply_to",
    "timestamp",
    "user_id",
]


def generator_properties(cid: str = "c-1", mid: str = "m-1") -> spec.Basic.Properties:
    return spec.Basic.Properties(
        content_type="application/json",
        headers={"x-correlation-id": cid},
        delivery_mode=2,
        correlation_id=cid,
        message_id=mid,
    )


def message_frames(
    channel: int,
    tag: int,
    body: bytes,
    properties: spec.Basic.Properties,
    consumer_tag: str = TAG,
    max_body: int = 131_064,
) -> list[bytes]:
    frames = [
        pamqp.frame.marshal(
            spec.Basic.Deliver(
                consumer_tag=consumer_tag,
                delivery_tag=tag,
                redelivered=tag % 2 == 0,
                exchange="auditflow.events",
                routing_key="audit.login",
            ),
            channel,
        ),
        pamqp.frame.marshal(ContentHeader(0, len(body), properties), channel),
    ]
    for start in range(0, len(body), max_body):
        frames.append(pamqp.frame.marshal(ContentBody(body[start : start + max_body]), channel))
    return frames


def same_properties(ours: Any, theirs: spec.Basic.Properties) -> None:
    for name in PROPS:
        assert getattr(ours, name) == getattr(theirs, name), name


# -- pure decoding --------------------------------------------------------------------------


def test_deliver_decodes_as_pamqp_does() -> None:
    for tag in (1, 2, 2**40 + 7):
        raw = message_frames(1, tag, b"{}", generator_properties())[0]
        _, _, theirs = pamqp.frame.unmarshal(raw)
        assert isinstance(theirs, spec.Basic.Deliver)
        ours = decode_deliver(raw[7:-1])
        assert ours == (
            theirs.consumer_tag,
            theirs.delivery_tag,
            theirs.redelivered,
            theirs.exchange,
            theirs.routing_key,
        )


def test_generator_header_shape_decodes_by_hand_as_pamqp_does() -> None:
    body = b'{"x": 1}' * 50
    # The bytes the generator itself publishes (its own hand encoder) and pamqp's encoding.
    published = publish_frames(
        1,
        "auditflow.events",
        "audit.login",
        body,
        content_type="application/json",
        delivery_mode=2,
        message_id="9b5e8a44-0000-4000-8000-000000000001",
        correlation_id="corr-éü-1",
        header_name="x-correlation-id",
        max_body_frame=100,
    )
    method_len = int.from_bytes(published[3:7], "big")
    header_start = 7 + method_len + 1
    header_len = int.from_bytes(published[header_start + 3 : header_start + 7], "big")
    header_frame = published[header_start : header_start + 7 + header_len + 1]
    props = generator_properties("corr-éü-1", "9b5e8a44-0000-4000-8000-000000000001")
    assert header_frame == pamqp.frame.marshal(ContentHeader(0, len(body), props), 1)
    _, _, theirs = pamqp.frame.unmarshal(header_frame)
    assert isinstance(theirs, ContentHeader)
    fast = decode_header_fast(header_frame[7:-1])
    assert fast is not None
    assert fast[0] == theirs.body_size == len(body)
    same_properties(fast[1], theirs.properties)


@pytest.mark.parametrize(
    "properties",
    [
        spec.Basic.Properties(),
        spec.Basic.Properties(content_type="text/plain"),
        spec.Basic.Properties(
            content_type="application/json",
            headers={"x-correlation-id": "a", "x-other": 5},
            delivery_mode=2,
            correlation_id="a",
            message_id="m",
        ),
        spec.Basic.Properties(
            content_type="application/json",
            headers={"x-correlation-id": 17},
            delivery_mode=2,
            correlation_id="a",
            message_id="m",
        ),
        spec.Basic.Properties(
            content_type="application/json",
            headers={"x-correlation-id": "a"},
            delivery_mode=1,
            priority=3,
            correlation_id="a",
            message_id="m",
            timestamp=None,
            app_id="someone",
        ),
    ],
)
def test_other_header_shapes_fall_back_to_pamqp(properties: spec.Basic.Properties) -> None:
    raw = pamqp.frame.marshal(ContentHeader(0, 12, properties), 1)
    assert decode_header_fast(raw[7:-1]) is None
    _, _, theirs = pamqp.frame.unmarshal(raw)
    assert isinstance(theirs, ContentHeader)
    size, ours = decode_header(raw[7:-1])
    assert size == 12
    same_properties(ours, theirs.properties)


def test_invalid_utf8_in_the_fast_shape_falls_back() -> None:
    raw = pamqp.frame.marshal(ContentHeader(0, 2, generator_properties("abc")), 1)
    broken = raw[7:-1].replace(b"abc", b"a\xffc")
    assert decode_header_fast(broken) is None


def test_truncated_header_is_refused() -> None:
    raw = pamqp.frame.marshal(ContentHeader(0, 2, generator_properties()), 1)
    assert decode_header_fast(raw[7:-5]) is None
    with pytest.raises(InvalidFrameError):
        decode_header(raw[7:-5])


# -- the receiver -----------------------------------------------------------------------------


class FakeChannel:
    def __init__(self) -> None:
        self.consumers: dict[str, Any] = {TAG: object(), "other": object()}


class FakeConnection:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.channels: dict[int, Any] = {1: FakeChannel()}
        self.receiver = FrameReceiver(reader)

        async def reader_loop(frame_receiver: FrameReceiver) -> None:
            await asyncio.sleep(3600)

        self._reader_task = asyncio.ensure_future(reader_loop(self.receiver))


async def receive(
    data: bytes, chunk: int | None = None, monkeypatch: Any = None
) -> tuple[list[Delivery], list[Any], BaseException | None]:
    """Feed `data` (then EOF) to an installed receiver; collect deliveries and aiormq frames."""
    reader = asyncio.StreamReader()
    connection = FakeConnection(reader)
    await asyncio.sleep(0)
    assert supported(connection)
    hooks = install(connection)
    assert hooks is not None
    delivered: list[Delivery] = []
    hooks[TAG] = delivered.append
    if chunk is not None:
        monkeypatch.setattr(amqp_receive, "READ_SIZE", chunk)
    reader.feed_data(data)
    reader.feed_eof()
    frames: list[Any] = []
    error: BaseException | None = None
    try:
        async for item in connection.receiver:
            frames.append(item)
    except Exception as exc:
        error = exc
    connection._reader_task.cancel()
    return delivered, [(ch, f) for _, ch, f in frames if not isinstance(f, Heartbeat)], error


def stream(*parts: list[bytes] | bytes) -> bytes:
    out = b""
    for part in parts:
        out += b"".join(part) if isinstance(part, list) else part
    return out


@pytest.mark.parametrize("chunk", [None, 1, 7, 100])
def test_receiver_dispatches_registered_deliveries_in_order(
    chunk: int | None, monkeypatch: Any
) -> None:
    big = bytes(range(256)) * 40  # 10,240 bytes in 100-byte body frames
    ack = pamqp.frame.marshal(spec.Basic.Ack(delivery_tag=3), 1)
    heartbeat = pamqp.frame.marshal(Heartbeat(), 0)
    second = message_frames(1, 2, big, generator_properties("c2"), max_body=100)
    data = stream(
        message_frames(1, 1, b'{"a": 1}', generator_properties("c1")),
        ack,
        second[:5],
        heartbeat,  # another channel's frame in the middle of a message body
        second[5:],
        message_frames(1, 3, b"", spec.Basic.Properties(content_type="text/plain")),
        message_frames(1, 4, b"x", generator_properties("c4"), consumer_tag="other"),
        message_frames(1, 5, b"last", generator_properties("c5")),
    )
    delivered, frames, error = asyncio.run(receive(data, chunk, monkeypatch))
    assert error is None
    assert [d.delivery_tag for d in delivered] == [1, 2, 3, 5]
    assert delivered[0].body == b'{"a": 1}'
    assert delivered[0].properties.headers == {"x-correlation-id": "c1"}
    assert delivered[0].properties.message_id == "m-1"
    assert delivered[0].consumer_tag == TAG
    assert delivered[0].exchange == "auditflow.events"
    assert delivered[0].routing_key == "audit.login"
    assert (delivered[0].redelivered, delivered[1].redelivered) == (False, True)
    assert delivered[1].body == big
    assert delivered[2].body == b""
    assert delivered[2].properties.content_type == "text/plain"
    assert delivered[3].body == b"last"
    # aiormq still sees everything else, in order: the confirm and the delivery for a consumer
    # not registered here (frame by frame, as it always did).
    kinds = [(ch, type(f).__name__) for ch, f in frames]  # (heartbeats are not listed)
    assert kinds == [(1, "Ack"), (1, "Deliver"), (1, "ContentHeader"), (1, "ContentBody")]


def test_broker_heartbeat_reaches_aiormq() -> None:
    heartbeat = pamqp.frame.marshal(Heartbeat(), 0)
    reader_frames: list[Any] = []

    async def run() -> None:
        reader = asyncio.StreamReader()
        connection = FakeConnection(reader)
        await asyncio.sleep(0)
        hooks = install(connection)
        assert hooks is not None
        reader.feed_data(heartbeat)
        reader.feed_eof()
        async for item in connection.receiver:
            reader_frames.append(item)
        connection._reader_task.cancel()

    asyncio.run(run())
    assert [(ch, type(f).__name__) for _, ch, f in reader_frames] == [(0, "Heartbeat")]


def test_unregistered_or_cancelled_consumer_goes_to_aiormq() -> None:
    async def run() -> tuple[list[Delivery], list[Any]]:
        reader = asyncio.StreamReader()
        connection = FakeConnection(reader)
        await asyncio.sleep(0)
        hooks = install(connection)
        assert hooks is not None
        delivered: list[Delivery] = []
        hooks[TAG] = delivered.append
        del connection.channels[1].consumers[TAG]  # cancelled: aiormq drops it as before
        reader.feed_data(stream(message_frames(1, 1, b"{}", generator_properties())))
        reader.feed_eof()
        frames = [f async for _, _, f in connection.receiver]
        connection._reader_task.cancel()
        return delivered, frames

    delivered, frames = asyncio.run(run())
    assert delivered == []
    assert [type(f).__name__ for f in frames] == ["Deliver", "ContentHeader", "ContentBody"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # a method frame where the content header should be
        (
            stream(
                message_frames(1, 1, b"{}", generator_properties())[:1],
                pamqp.frame.marshal(spec.Basic.Ack(delivery_tag=1), 1),
            ),
            "instead of a content header",
        ),
        # more body than announced
        (
            stream(
                message_frames(1, 1, b"{}", generator_properties())[:2],
                pamqp.frame.marshal(ContentBody(b"{}{}"), 1),
            ),
            "announced",
        ),
        # a bad frame-end octet
        (
            message_frames(1, 1, b"{}", generator_properties())[0][:-1] + b"\x00",
            "malformed frame",
        ),
        # a Basic.Deliver that is cut short inside its own frame
        (b"\x01\x00\x01\x00\x00\x00\x06\x00\x3c\x00\x3c\x09a\xce", "malformed Basic.Deliver"),
    ],
)
def test_broken_frame_sequences_fail_loudly(data: bytes, message: str) -> None:
    delivered, _, error = asyncio.run(receive(data))
    assert delivered == []
    assert isinstance(error, InvalidFrameError)
    assert message in str(error)


def test_eof_inside_a_frame_is_a_connection_error() -> None:
    data = stream(message_frames(1, 1, b"{}", generator_properties()))
    delivered, _, error = asyncio.run(receive(data[:-3]))
    assert delivered == []
    assert isinstance(error, AMQPConnectionError)


def test_unsupported_connection_is_left_alone() -> None:
    class Bare:
        channels: dict[int, Any] = {}

    assert not supported(Bare())
    assert install(Bare()) is None
    assert install(None) is None


def test_delivery_from_aiormq_message() -> None:
    class Message:
        delivery = spec.Basic.Deliver(
            consumer_tag=TAG, delivery_tag=9, redelivered=True, exchange="e", routing_key="r"
        )
        header = ContentHeader(0, 2, generator_properties())
        body = b"{}"

    d = Delivery.from_aiormq(Message())
    assert (d.delivery_tag, d.redelivered, d.body, d.exchange) == (9, True, b"{}", "e")
    assert d.properties.headers == {"x-correlation-id": "c-1"}


def test_installed_aiormq_still_has_what_install_looks_for() -> None:
    """The reader coroutine `install` finds the frame receiver in (else: the fallback path)."""
    import inspect

    from aiormq.connection import Connection

    reader = vars(Connection)["_Connection__reader"]  # private: reachable by its mangled name
    assert "frame_receiver" in inspect.signature(reader).parameters
    assert inspect.iscoroutinefunction(FrameReceiver.get_frame)
