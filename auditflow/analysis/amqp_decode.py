"""Decoding one delivery's frames by hand: Basic.Deliver and the content header of the shape the
generator publishes, with `struct` instead of pamqp's generic code (auditflow.analysis.amqp_receive
explains why; a header of any other shape is left to pamqp).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pamqp.frame
from aiormq.exceptions import InvalidFrameError
from pamqp.exceptions import PAMQPException
from pamqp.header import ContentHeader

from auditflow.amqp_properties import EVENT_MESSAGE_FLAGS

FRAME_HEADER = 2
BASIC_DELIVER = (60 << 16) | 60  # class 60 (basic), method 60 (deliver)

_u32 = struct.Struct(">I").unpack_from
_method_id = struct.Struct(">I").unpack_from
_header_head = struct.Struct(">HHQHB").unpack_from
_deliver_middle = struct.Struct(">QBB").unpack_from


class Properties:
    """The Basic properties of a delivery (the attribute names of pamqp's `Basic.Properties`,
    whose defaults the ones not set here keep)."""

    app_id: str | None = None
    cluster_id: str | None = ""
    content_encoding: str | None = None
    expiration: str | None = None
    message_type: str | None = None
    priority: int | None = None
    reply_to: str | None = None
    timestamp: Any = None
    user_id: str | None = None

    def __init__(
        self,
        content_type: str | None,
        headers: dict[str, Any] | None,
        delivery_mode: int | None,
        correlation_id: str | None,
        message_id: str | None,
    ) -> None:
        self.content_type = content_type
        self.headers = headers
        self.delivery_mode = delivery_mode
        self.correlation_id = correlation_id
        self.message_id = message_id


class Delivery:
    """One delivered message: what the consumer needs of it."""

    __slots__ = (
        "body",
        "consumer_tag",
        "delivery_tag",
        "exchange",
        "properties",
        "redelivered",
        "routing_key",
    )

    def __init__(
        self,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        properties: Any,
        body: bytes,
    ) -> None:
        self.consumer_tag = consumer_tag
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties
        self.body = body

    @classmethod
    def from_aiormq(cls, message: Any) -> Delivery:
        """Adapt aiormq's `DeliveredMessage` (the fallback path)."""
        d = message.delivery
        return cls(
            d.consumer_tag,
            d.delivery_tag,
            bool(d.redelivered),
            d.exchange,
            d.routing_key,
            message.header.properties,
            message.body,
        )


DeliveryCallback = Callable[[Delivery], None]


def decode_deliver(payload: bytes) -> tuple[str, int, bool, str, str]:
    """A Basic.Deliver method payload (class/method ids included) → its fields."""
    if _method_id(payload, 0)[0] != BASIC_DELIVER:
        raise ValueError("not a Basic.Deliver")
    pos = 5 + payload[4]
    consumer_tag = payload[5:pos].decode()
    delivery_tag, bits, length = _deliver_middle(payload, pos)
    start = pos + 10
    pos = start + length
    exchange = payload[start:pos].decode()
    start = pos + 1
    pos = start + payload[pos]
    routing_key = payload[start:pos].decode()
    if pos != len(payload):  # also catches a string running past the end (short slices)
        raise ValueError("Basic.Deliver of the wrong length")
    return consumer_tag, delivery_tag, bool(bits & 1), exchange, routing_key


def decode_header_fast(payload: bytes) -> tuple[int, Properties] | None:
    """(body size, properties) of the generator's header shape; None for any other shape.

    The generator's shape: content type, a headers table with exactly one short-string-keyed
    long string, delivery mode, correlation id, message id. Anything else (more or fewer
    properties, other header types, undecodable UTF-8) → None, and pamqp decodes it instead.
    """
    try:
        class_id, _weight, body_size, flags, length = _header_head(payload, 0)
        if class_id != 60 or flags != EVENT_MESSAGE_FLAGS:
            return None
        pos = 15 + length
        content_type = payload[15:pos].decode()
        table_end = pos + 4 + _u32(payload, pos)[0]
        start = pos + 5
        pos = start + payload[pos + 4]
        key = payload[start:pos].decode()
        if payload[pos] != 0x53:  # 'S', long string
            return None
        start = pos + 5
        pos = start + _u32(payload, pos + 1)[0]
        if pos != table_end:
            return None
        value = payload[start:pos].decode()
        delivery_mode = payload[pos]
        start = pos + 2
        pos = start + payload[pos + 1]
        correlation_id = payload[start:pos].decode()
        start = pos + 1
        pos = start + payload[pos]
        message_id = payload[start:pos].decode()
        if pos != len(payload):  # also catches strings running past the end (short slices)
            return None
    except (ValueError, IndexError, struct.error):  # UnicodeDecodeError is a ValueError
        return None
    return body_size, Properties(
        content_type, {key: value}, delivery_mode, correlation_id, message_id
    )


def decode_header(payload: bytes) -> tuple[int, Any]:
    """(body size, properties) of any content header: by hand when possible, else by pamqp."""
    fast = decode_header_fast(payload)
    if fast is not None:
        return fast
    frame = struct.pack(">BHI", FRAME_HEADER, 0, len(payload)) + payload + b"\xce"
    try:
        _, _, header = pamqp.frame.unmarshal(frame)
    except PAMQPException as exc:
        raise InvalidFrameError(f"bad content header: {exc}") from exc
    if not isinstance(header, ContentHeader):
        raise InvalidFrameError(f"not a content header: {header!r}")
    return header.body_size, header.properties
