"""Receiving deliveries without aiormq's per-frame and per-message machinery.

A py-spy profile of a backlog drain put ~45% of the analysis service's CPU in aiormq's receive
path: every delivery is three frames, each read with a lock, a BytesIO and three `readexactly`
awaits, unmarshalled by pamqp's generic code, passed through two queues and the channel's reader
task, and then each message gets its own task. This module is the mirror of
`auditflow/generator/amqp_wire.py`: the connection's frame receiver reads the socket in large
chunks, and a Basic.Deliver + content header + body frames for a registered consumer are decoded
here with `struct` and handed to a *synchronous* callback in delivery order, inside the
connection's reader task. Every other frame (confirms, RPC replies, Channel.Close, Basic.Cancel,
heartbeats, deliveries for other consumers) is still decoded by pamqp and returned to aiormq's
own reader loop, unchanged.

The content header is decoded by hand only for the shape the generator publishes (content type,
headers {x-correlation-id: S}, delivery mode, correlation id, message id); any other shape falls
back to pamqp's decoder for that header. A frame sequence that breaks the protocol (a delivery
on a channel not followed by its header and body frames, a body longer than announced, a bad
frame end) raises `InvalidFrameError`: aiormq's reader stops, the connection closes and the
consumer reconnects (its unacknowledged messages are redelivered).

This reaches into aiormq internals (the reader task's frame receiver, `connection.channels`,
`channel.consumers`); `install()` checks they are as expected and returns False otherwise, and
the consumer then uses aiormq's normal per-message callback instead.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

import pamqp.frame
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp.exceptions import PAMQPException
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from auditflow.amqp_properties import EVENT_MESSAGE_FLAGS
from auditflow.analysis import SERVICE

log = logging.getLogger(SERVICE)

FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_END = 0xCE
_FRAME_TYPES = (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
BASIC_DELIVER = (60 << 16) | 60  # class 60 (basic), method 60 (deliver)
READ_SIZE = 256 * 1024


_frame_head = struct.Struct(">BHI").unpack_from
_u16 = struct.Struct(">H").unpack_from
_u32 = struct.Struct(">I").unpack_from
_u64 = struct.Struct(">Q").unpack_from
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


class FastFrameReceiver:
    """Replaces the methods of aiormq's `FrameReceiver` (its instance's class is switched).

    Keeps aiormq's iterator contract — `get_frame()` returns `(weight, channel, frame)` for every
    frame aiormq must see — and dispatches registered deliveries itself.
    """

    # Set on the instance by `install()`.
    reader: asyncio.StreamReader
    connection: Any
    hooks: dict[str, DeliveryCallback]
    _buffer: bytes
    _ready: deque[Any]
    _dispatched: bool

    def __aiter__(self) -> FastFrameReceiver:
        return self

    async def __anext__(self) -> Any:
        return await self.get_frame()

    async def get_frame(self) -> Any:
        while True:
            if self._ready:
                return self._ready.popleft()
            frame = self._parse()
            if frame is not None:
                return frame
            if self._dispatched:
                # Let aiormq's reader note that data arrived (its stuck-connection check) before
                # waiting for more: deliveries handled here never reach it otherwise.
                self._dispatched = False
                return (0, 0, Heartbeat())
            await self._fill()

    async def _fill(self) -> None:
        try:
            data = await self.reader.read(READ_SIZE)
        except OSError as exc:
            raise AMQPConnectionError(f"Server communication error: {exc!r}") from exc
        if not data:
            if self._buffer:
                raise AMQPConnectionError(
                    "Server connection unexpectedly closed. "
                    f"{len(self._buffer)} bytes of an incomplete frame left"
                )
            raise StopAsyncIteration
        self._buffer = self._buffer + data if self._buffer else data

    def _parse(self) -> Any:
        """Dispatch complete registered deliveries; return the next other frame, or None."""
        buf = self._buffer
        size = len(buf)
        pos = 0
        result = None
        try:
            while size - pos >= 8:
                kind, channel, length = _frame_head(buf, pos)
                end = pos + 7 + length
                if end >= size:
                    break  # incomplete frame
                if buf[end] != FRAME_END or kind not in _FRAME_TYPES:
                    raise InvalidFrameError(f"malformed frame (type {kind}, channel {channel})")
                if (
                    kind == FRAME_METHOD
                    and length >= 4
                    and _method_id(buf, pos + 7)[0] == BASIC_DELIVER
                ):
                    consumed = self._deliver(buf, pos, channel, end)
                    if consumed is None:
                        break  # its header/body frames are not all here yet
                    if consumed:
                        pos = consumed
                        if self._ready:
                            break  # other channels' frames that arrived meanwhile go first
                        continue
                try:
                    result = pamqp.frame.unmarshal(buf[pos : end + 1])
                except PAMQPException as exc:
                    raise InvalidFrameError(str(exc)) from exc
                pos = end + 1
                break
        finally:
            self._buffer = buf[pos:] if pos else buf
        return result

    def _deliver(self, buf: bytes, pos: int, channel: int, end: int) -> int | None:
        """Handle the delivery whose method frame ends at `end`.

        Returns the position after its last body frame when it was handled here, 0 when aiormq
        must handle it (not a registered consumer: its frames go back one by one), or None when
        its frames are not all received yet. Frames of other channels in between (AMQP allows
        them) are decoded and queued for aiormq, in order, after the delivery.
        """
        ch = self.connection.channels.get(channel)
        try:
            consumer_tag, delivery_tag, redelivered, exchange, routing_key = decode_deliver(
                buf[pos + 7 : end]
            )
        except (ValueError, IndexError, struct.error) as exc:
            raise InvalidFrameError(f"malformed Basic.Deliver: {exc}") from exc
        callback = self.hooks.get(consumer_tag)
        if callback is None or ch is None or consumer_tag not in ch.consumers:
            return 0
        content = _content_fast(buf, end + 1, channel) or _content(buf, end + 1, channel)
        if content is None:
            return None
        pos, properties, body, others = content
        if others:
            self._ready.extend(others)
        self._dispatched = True
        try:
            callback(
                Delivery(
                    consumer_tag,
                    delivery_tag,
                    redelivered,
                    exchange,
                    routing_key,
                    properties,
                    body,
                )
            )
        except Exception:  # as aiormq does for a failing consumer callback
            log.exception("Consumer callback failed")
        return pos


_NO_FRAMES: list[Any] = []


def _content_fast(  # noqa: PLR0911 - one return per way the usual case can differ
    buf: bytes, pos: int, channel: int
) -> tuple[int, Any, bytes, list[Any]] | None:
    """`_content` for the usual case: the generator's header shape and one body frame, right
    after the method frame; None for anything else (then `_content` looks at it)."""
    size = len(buf)
    if size - pos < 8:
        return None
    kind, frame_channel, length = _frame_head(buf, pos)
    end = pos + 7 + length
    if kind != FRAME_HEADER or frame_channel != channel or end >= size or buf[end] != FRAME_END:
        return None
    header = decode_header_fast(buf[pos + 7 : end])
    if header is None:
        return None
    body_size, properties = header
    pos = end + 1
    if not body_size:
        return pos, properties, b"", _NO_FRAMES
    if size - pos < 8:
        return None
    kind, frame_channel, length = _frame_head(buf, pos)
    end = pos + 7 + length
    if (
        kind != FRAME_BODY
        or frame_channel != channel
        or length != body_size
        or end >= size
        or buf[end] != FRAME_END
    ):
        return None
    return end + 1, properties, buf[pos + 7 : end], _NO_FRAMES


def _content(buf: bytes, pos: int, channel: int) -> tuple[int, Any, bytes, list[Any]] | None:
    """The content header and body frames of the delivery on `channel` whose method frame ends
    just before `pos`: (position after them, properties, body, frames of other channels met on
    the way), or None when they are not all in `buf` yet."""
    size = len(buf)
    others: list[Any] = []
    body_size = -1
    properties: Any = None
    chunks: list[bytes] = []
    received = 0
    while body_size < 0 or received < body_size:
        if size - pos < 8:
            return None
        kind, frame_channel, length = _frame_head(buf, pos)
        end = pos + 7 + length
        if end >= size:
            return None
        if buf[end] != FRAME_END:
            raise InvalidFrameError(f"malformed frame (type {kind}, channel {frame_channel})")
        if frame_channel != channel:
            try:
                others.append(pamqp.frame.unmarshal(buf[pos : end + 1]))
            except PAMQPException as exc:
                raise InvalidFrameError(str(exc)) from exc
        elif body_size < 0:
            if kind != FRAME_HEADER:
                raise InvalidFrameError(
                    f"frame type {kind} instead of a content header after Basic.Deliver"
                )
            body_size, properties = decode_header(buf[pos + 7 : end])
        elif kind == FRAME_BODY:
            chunks.append(buf[pos + 7 : end])
            received += length
            if received > body_size:
                raise InvalidFrameError(
                    f"body of {received} bytes, {body_size} announced (Basic.Deliver)"
                )
        else:
            raise InvalidFrameError(f"frame type {kind} inside a message body")
        pos = end + 1
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return pos, properties, body, others


_FAST_CLASSES: dict[type, type] = {}
_ITERATOR = ("__aiter__", "__anext__")
_RECEIVER_ATTRIBUTES = ("reader", "get_frame", "__anext__")


def _frame_receiver(connection: Any) -> Any:
    task = getattr(connection, "_reader_task", None)
    get_coro = getattr(task, "get_coro", None)
    if get_coro is None:
        return None
    coro = get_coro()
    frame = getattr(coro, "cr_frame", None)
    if frame is None:
        return None
    receiver = frame.f_locals.get("frame_receiver")
    if receiver is None or type(receiver).__name__ != "FrameReceiver":
        return None
    if not all(hasattr(receiver, name) for name in _RECEIVER_ATTRIBUTES):
        return None
    if not isinstance(receiver.reader, asyncio.StreamReader):
        return None
    return receiver


def supported(connection: Any) -> bool:
    """True when `connection` (an aiormq connection) has what `install` relies on."""
    return isinstance(getattr(connection, "channels", None), dict) and (
        _frame_receiver(connection) is not None
    )


def install(connection: Any) -> dict[str, DeliveryCallback] | None:
    """Switch `connection`'s frame receiver to the fast one; return its consumer-tag registry.

    Register `hooks[consumer_tag] = callback` *before* `basic_consume` with that tag: the
    registered consumer's deliveries then go to `callback` synchronously, in delivery order.
    Returns None (nothing changed) when aiormq's internals are not as expected.
    """
    receiver = _frame_receiver(connection)
    if receiver is None or not isinstance(getattr(connection, "channels", None), dict):
        return None
    base = type(receiver)
    fast = _FAST_CLASSES.get(base)
    if fast is None:
        # A direct subclass of aiormq's class (same layout, so `__class__` can be switched)
        # carrying this module's methods.
        methods = {
            name: value
            for name, value in vars(FastFrameReceiver).items()
            if name in _ITERATOR or (callable(value) and not name.startswith("__"))
        }
        fast = _FAST_CLASSES[base] = type("FastFrameReceiver", (base,), methods)
    hooks: dict[str, DeliveryCallback] = {}
    receiver.connection = connection
    receiver.hooks = hooks
    receiver._buffer = b""
    receiver._ready = deque()
    receiver._dispatched = False
    try:
        receiver.__class__ = fast
    except TypeError:
        log.warning("aiormq frame receiver not replaceable; using its own receive path")
        return None
    return hooks
