"""One route of the proxy: its listener, its connections, its fault and the deadline that ends it.

A route holds at most one fault. Setting one replaces the one before (which ends first, as if it
had been cleared); clearing names the fault's `id`, so a rollback never clears a fault somebody
else set since. Every fault ends at its deadline on the proxy's own monotonic clock, also when
nobody clears it — the harness that set it may have died — and what happened to each fault
(cleared, expired, replaced) is kept in a short history the control channel reports.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from typing import Any

from drills.netfault.faults import FaultSpec
from drills.netfault.relay import Connection, Stats

log = logging.getLogger("netfault")
HISTORY = 20
LISTEN_RETRIES = 60
LISTEN_RETRY_S = 0.5


class Route:
    """`name`: connections to `listen` are relayed to `upstream_port` on the same host."""

    def __init__(
        self, name: str, host: str, listen_port: int, upstream_port: int, seed: int | None = None
    ) -> None:
        self.name = name
        self.host = host
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.stats = Stats()
        self.rng = random.Random(seed)  # noqa: S311 - jitter, not cryptography
        self.connections: set[Connection] = set()
        self.current: FaultSpec | None = None
        self.set_at = 0.0  # wall clock, for the report
        self.deadline = 0.0  # loop clock
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._server: asyncio.AbstractServer | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- RouteView (what connections ask) ------------------------------------------------------

    def fault(self) -> FaultSpec | None:
        """The fault in effect now; one whose deadline passed is ended here at the latest."""
        loop = self._loop
        if self.current is not None and loop is not None and loop.time() >= self.deadline:
            self._end("expired")
        return self.current

    def upstream(self) -> tuple[str, int]:
        return self.host, self.upstream_port

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    # -- listening -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._listen()

    async def _listen(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()

        def accept() -> asyncio.Protocol:
            conn = Connection(self, loop)
            self.connections.add(conn)
            return conn.client

        self._server = await loop.create_server(
            accept, self.host, self.listen_port, reuse_address=True, backlog=256
        )

    async def _listen_again(self) -> None:
        """After a partition: listen again, retrying while the port is not free yet."""
        for _attempt in range(LISTEN_RETRIES):
            try:
                await self._listen()
                return
            except OSError as exc:
                log.warning("cannot listen yet", extra={"fields": {"error": str(exc)}})
                await asyncio.sleep(LISTEN_RETRY_S)
        await self._listen()

    def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def stop(self) -> None:
        self._unlisten()
        for conn in list(self.connections):
            conn.reset()

    @property
    def listening(self) -> bool:
        return self._server is not None

    # -- faults --------------------------------------------------------------------------------

    async def apply(self, spec: FaultSpec) -> dict[str, Any]:
        """Put `spec` in effect (replacing any fault before it) until its deadline."""
        loop = asyncio.get_running_loop()
        if self.current is not None:
            self._end("replaced")
        self.current, self.set_at = spec, time.time()
        self.deadline = loop.time() + spec.duration_s
        self._expiry = loop.call_at(self.deadline, self._expire)
        if spec.mode in ("reset", "partition"):
            for conn in list(self.connections):
                conn.reset()
        if spec.mode == "partition":
            self._unlisten()
        log.warning(
            "fault set",
            extra={"fields": {"route": self.name, **spec.to_json(), "open": self.stats.open}},
        )
        if spec.mode == "reset" and spec.duration_s == 0:
            self._end("done")
        return self.state()

    def clear(self, fault_id: str | None = None) -> bool:
        """End the fault in effect if it is `fault_id`'s (any, when None); True if one ended."""
        if self.fault() is None:
            return False
        if fault_id is not None and self.current is not None and self.current.id != fault_id:
            return False
        self._end("cleared")
        return True

    def _expire(self) -> None:
        self._expiry = None
        if self.current is not None:
            self._end("expired")

    def _end(self, how: str) -> None:
        spec, self.current = self.current, None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if spec is None:
            return
        self.history.append(
            {**spec.to_json(), "set_at": self.set_at, "ended_at": time.time(), "ended": how}
        )
        log.warning("fault ended", extra={"fields": {"route": self.name, "how": how}})
        if spec.mode == "blackhole":
            for conn in list(self.connections):
                conn.blackhole_ended()
        if spec.mode == "partition" and self._loop is not None:
            task = self._loop.create_task(self._listen_again())
            task.add_done_callback(_log_failure)

    def state(self) -> dict[str, Any]:
        fault = self.fault()
        remaining = None
        if fault is not None and self._loop is not None:
            remaining = round(max(0.0, self.deadline - self._loop.time()), 3)
        stats = self.stats
        return {
            "route": self.name,
            "listen": f"{self.host}:{self.listen_port}",
            "upstream": f"{self.host}:{self.upstream_port}",
            "listening": self.listening,
            "fault": fault.to_json() if fault is not None else None,
            "fault_set_at": self.set_at if fault is not None else None,
            "remaining_s": remaining,
            "connections": len(self.connections),
            "stats": {
                "accepted": stats.accepted,
                "open": stats.open,
                "forwarded_bytes": stats.forwarded_bytes,
                "dropped_bytes": stats.dropped_bytes,
                "delayed_chunks": stats.delayed_chunks,
                "delay_added_s": round(stats.delay_added_s, 6),
                "resets": stats.resets,
                "upstream_failures": stats.upstream_failures,
            },
            "history": list(self.history),
        }


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "listening again failed", extra={"fields": {"error": repr(task.exception())[:200]}}
        )
