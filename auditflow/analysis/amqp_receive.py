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
from typing import Any

import pamqp.frame
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp.exceptions import PAMQPException
from pamqp.heartbeat import Heartbeat

from auditflow.analysis import SERVICE
from auditflow.analysis.amqp_decode import (
    BASIC_DELIVER,
    FRAME_HEADER,
    Delivery,
    DeliveryCallback,
    decode_deliver,
    decode_header,
    decode_header_fast,
)

log = logging.getLogger(SERVICE)

FRAME_METHOD = 1
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_END = 0xCE
_FRAME_TYPES = (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
READ_SIZE = 256 * 1024


_frame_head = struct.Struct(">BHI").unpack_from
_method_id = struct.Struct(">I").unpack_from


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
