"""One proxied connection: the client's socket, the upstream's, and the bytes between them.

Built on asyncio protocols, not streams, so that with no fault active a chunk costs one
`data_received` and one `write` — the idle proxy must cost almost nothing (bench/netproxy.py
measures it). Backpressure is kept end to end: a side stops being read while the other's write
buffer is full, or while too many delayed bytes wait in the proxy.

Half-open connections are kept half-open: an EOF from one side is passed on as a `shutdown(WR)`
(`write_eof`) of the other, and the opposite direction keeps flowing until it ends too. A reset
(or any error) on one side becomes a reset of the other, as a router in between would show it.

What a fault does here (the modes are described in `faults`): latency and bandwidth queue
chunks with a release time; a blackhole drops them and holds every close (`eof`, a lost socket)
until it ends, so neither end learns anything through the proxy; reset aborts both sockets with
an RST.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import deque
from dataclasses import dataclass
from typing import Protocol, cast

from drills.netfault.faults import FaultSpec, bandwidth_slices, latency_release

# Delayed bytes held per direction before the sender is paused (and resumed below LOW).
QUEUE_HIGH = 1 << 20
QUEUE_LOW = 1 << 18
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST


@dataclass
class Stats:
    """A route's counters (the control channel reports them; tests and drills read them)."""

    accepted: int = 0
    open: int = 0
    forwarded_bytes: int = 0
    dropped_bytes: int = 0
    delayed_chunks: int = 0
    delay_added_s: float = 0.0  # sum over delayed chunks of (release - arrival)
    resets: int = 0
    upstream_failures: int = 0


class RouteView(Protocol):
    """What a connection needs from its route."""

    stats: Stats
    rng: random.Random

    def fault(self) -> FaultSpec | None: ...

    def upstream(self) -> tuple[str, int]: ...

    def forget(self, conn: Connection) -> None: ...


def reset_transport(transport: asyncio.Transport) -> None:
    """Close with an RST (SO_LINGER 0), not a FIN: the peer sees ECONNRESET."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    transport.abort()


class Side(asyncio.Protocol):
    """One socket of a connection; everything it sees goes to its `Connection`."""

    def __init__(self, conn: Connection, role: str) -> None:
        self.conn = conn
        self.role = role  # "client" or "upstream"
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused_for: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        self.conn.made(self)

    def data_received(self, data: bytes) -> None:
        self.conn.received(self, data)

    def eof_received(self) -> bool:
        self.conn.eof(self)
        return True  # keep the socket open for writing: a half-close stays a half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.conn.lost(self, exc)

    def pause_writing(self) -> None:
        self.conn.peer(self).pause("peer-full", True)

    def resume_writing(self) -> None:
        self.conn.peer(self).pause("peer-full", False)

    def pause(self, reason: str, on: bool) -> None:
        """Stop (or resume) reading this socket for `reason`; reading resumes with no reason."""
        before = bool(self.paused_for)
        if on:
            self.paused_for.add(reason)
        else:
            self.paused_for.discard(reason)
        transport = self.transport
        if transport is None or self.closed or before == bool(self.paused_for):
            return
        with contextlib.suppress(RuntimeError):  # a closing transport
            if self.paused_for:
                transport.pause_reading()
            else:
                transport.resume_reading()


class Direction:
    """Bytes from `src` to `dst`, with the queue delayed chunks wait in (None: an EOF)."""

    def __init__(self, conn: Connection, src: Side, dst: Side) -> None:
        self.conn, self.src, self.dst = conn, src, dst
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued = 0
        self.last_release = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.eof_held = False  # an EOF that arrived during a blackhole
        self.eof_sent = False
        self.close_when_flushed = False

    def send(self, data: bytes) -> None:
        fault = self.conn.route.fault()  # may end an expired fault (and reset this connection)
        stats = self.conn.route.stats
        if self.dst.closed or self.conn.resetting:
            return  # its peer is gone: nowhere to send it
        if fault is not None and fault.mode == "blackhole":
            stats.dropped_bytes += len(data)
            self.conn.holed = True
            return
        if fault is not None and fault.mode in ("latency", "bandwidth"):
            self._enqueue_shaped(data, fault)
            return
        if self.queue or self.dst.transport is None:  # keep order behind delayed bytes
            self._append(max(self.last_release, self.conn.loop.time()), data)
            return
        stats.forwarded_bytes += len(data)
        self.dst.transport.write(data)

    def _enqueue_shaped(self, data: bytes, fault: FaultSpec) -> None:
        now = self.conn.loop.time()
        stats = self.conn.route.stats
        if fault.mode == "latency":
            release = latency_release(
                now, self.last_release, fault.latency_ms, fault.jitter_ms, self.conn.route.rng
            )
            self._append(release, data)
            stats.delayed_chunks += 1
            stats.delay_added_s += release - now
            return
        for release, piece in bandwidth_slices(data, now, self.last_release, fault.bytes_per_s):
            self._append(release, piece)
        stats.delayed_chunks += 1
        stats.delay_added_s += self.last_release - now

    def _append(self, release: float, data: bytes | None) -> None:
        self.queue.append((release, data))
        self.last_release = release
        if data is not None:
            self.queued += len(data)
            if self.queued > QUEUE_HIGH:
                self.src.pause("queue", True)
        self._schedule()

    def _schedule(self) -> None:
        if self.timer is not None or not self.queue or self.dst.transport is None:
            return
        self.timer = self.conn.loop.call_at(self.queue[0][0], self.flush)

    def flush(self) -> None:
        """Pass on every queued chunk whose release time has come."""
        self.timer = None
        transport = self.dst.transport
        if transport is None:
            return
        now = self.conn.loop.time()
        stats = self.conn.route.stats
        while self.queue and self.queue[0][0] <= now + 0.0005:
            _at, data = self.queue.popleft()
            if self.dst.closed:
                self.queue.clear()
                break
            if data is None:
                self._write_eof()
                continue
            self.queued -= len(data)
            stats.forwarded_bytes += len(data)
            transport.write(data)
        if self.queued < QUEUE_LOW:
            self.src.pause("queue", False)
        if self.queue:
            self._schedule()
        elif self.close_when_flushed and not self.dst.closed:
            transport.close()

    def eof(self) -> None:
        """The source half-closed: pass it on after the bytes before it (held in a blackhole)."""
        fault = self.conn.route.fault()
        if fault is not None and fault.mode == "blackhole":
            self.eof_held = True
            return
        if self.queue or self.dst.transport is None:
            self._append(max(self.last_release, self.conn.loop.time()), None)
        else:
            self._write_eof()

    def _write_eof(self) -> None:
        transport = self.dst.transport
        if transport is None or self.dst.closed or self.eof_sent:
            return
        self.eof_sent = True
        if transport.can_write_eof():
            transport.write_eof()
        self.conn.maybe_done()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.queued = 0


class Connection:
    """A client's connection through the proxy and the upstream connection made for it."""

    def __init__(self, route: RouteView, loop: asyncio.AbstractEventLoop) -> None:
        self.route = route
        self.loop = loop
        self.client = Side(self, "client")
        self.upstream = Side(self, "upstream")
        self.outbound = Direction(self, self.client, self.upstream)  # client → upstream
        self.inbound = Direction(self, self.upstream, self.client)  # upstream → client
        self.connecting: asyncio.Task[object] | None = None
        self.holed = False  # bytes were dropped: the stream cannot go on after a blackhole
        self.lost_held: tuple[Side, Exception | None] | None = None
        self.resetting = False
        self.finished = False

    def peer(self, side: Side) -> Side:
        return self.upstream if side is self.client else self.client

    def direction_from(self, side: Side) -> Direction:
        return self.outbound if side is self.client else self.inbound

    # -- events from the sides -----------------------------------------------------------------

    def made(self, side: Side) -> None:
        if self.resetting and side.transport is not None:
            reset_transport(side.transport)  # connected just as the connection was reset
            return
        if side is self.upstream:
            self.client.pause("connecting", False)
            self.outbound.flush()
            return
        self.route.stats.accepted += 1
        self.route.stats.open += 1
        fault = self.route.fault()
        if fault is not None and fault.mode in ("reset", "partition"):
            self.reset()
            return
        if fault is not None and fault.mode == "blackhole":
            return  # accepted and held: its bytes are read and dropped, nothing is connected
        self.connect()

    def connect(self) -> None:
        """Open the upstream connection; the client is not read until it is up."""
        if self.connecting is not None or self.finished:
            return
        self.client.pause("connecting", True)
        host, port = self.route.upstream()
        self.connecting = self.loop.create_task(
            self.loop.create_connection(lambda: self.upstream, host, port)
        )
        self.connecting.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            self.route.stats.upstream_failures += 1
            self.reset()  # the server refused or is gone: the client sees a reset

    def received(self, side: Side, data: bytes) -> None:
        self.direction_from(side).send(data)

    def eof(self, side: Side) -> None:
        self.direction_from(side).eof()

    def lost(self, side: Side, exc: Exception | None) -> None:
        if self.resetting or self.finished:
            self._finish_if_closed()
            return
        fault = self.route.fault()
        if fault is not None and fault.mode == "blackhole":
            self.lost_held = (side, exc)  # nobody hears of it through a blackhole
            return
        self._pass_on_loss(side, exc)

    def _pass_on_loss(self, side: Side, exc: Exception | None) -> None:
        other = self.peer(side)
        self.direction_from(other).stop()  # what was going to the lost side goes nowhere
        if other.transport is None or other.closed:
            if other is self.upstream and self.connecting is not None:
                self.connecting.cancel()
            self._finish_if_closed(force=True)
            return
        if exc is not None:
            self.reset()
            return
        towards = self.direction_from(side)
        if towards.queue:
            towards.close_when_flushed = True
        else:
            other.transport.close()

    def maybe_done(self) -> None:
        """Both directions have passed on their EOF: close both sockets."""
        if self.outbound.eof_sent and self.inbound.eof_sent:
            for side in (self.client, self.upstream):
                if side.transport is not None and not side.closed:
                    side.transport.close()

    def _finish_if_closed(self, force: bool = False) -> None:
        upstream_done = self.upstream.closed or self.upstream.transport is None
        if self.finished or not self.client.closed or not (upstream_done or force):
            return
        self.finished = True
        self.route.stats.open -= 1
        self.route.forget(self)

    # -- what the route does to its connections ------------------------------------------------

    def reset(self) -> None:
        """RST both sockets now (idempotent)."""
        if self.resetting:
            return
        self.resetting = True
        self.route.stats.resets += 1
        self.outbound.stop()
        self.inbound.stop()
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.closed:
                reset_transport(side.transport)
        if self.upstream.transport is None and self.client.closed:
            self._finish_if_closed(force=True)

    def blackhole_ended(self) -> None:
        """The blackhole is over: a stream that lost bytes is reset; one that lost nothing goes
        on, and what it held (an EOF, a closed side) is passed on now."""
        if self.resetting or self.finished:
            return
        if self.holed:
            self.reset()
            return
        if self.lost_held is not None:
            side, exc = self.lost_held
            self.lost_held = None
            self._pass_on_loss(side, exc)
            return
        if self.connecting is None and not self.client.closed:
            self.connect()
        for direction in (self.outbound, self.inbound):
            if direction.eof_held:
                direction.eof_held = False
                direction.eof()
