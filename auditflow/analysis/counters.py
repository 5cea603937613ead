"""Redis counters of stored events, pushed in the background from in-memory deltas.

Storing must never wait for Redis: committed events only bump in-memory deltas, and a pusher
sends them every 200 ms in one MULTI/EXEC pipeline. While Redis is down the deltas accumulate and
are sent when it returns, so the counters catch up instead of losing the outage. (If EXEC is
applied but its reply is lost, that one push is counted twice — rare, and only a counter.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from auditflow.analysis import SERVICE
from auditflow.telemetry import DEPENDENCY_UP

log = logging.getLogger(SERVICE)

ACTION_KEY = "auditflow:counts:action"
OUTCOME_KEY = "auditflow:counts:outcome"
TOTAL_KEY = "auditflow:counts:total"
PUSH_EVERY_S = 0.2
WARN_EVERY_S = 10.0


@dataclass
class CounterDeltas:
    """Counts not yet pushed to Redis. Pure logic."""

    actions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def add(self, action: str, outcome: str) -> None:
        self.actions[action] += 1
        self.outcomes[outcome] += 1
        self.total += 1

    def add_many(self, actions: Iterable[str], outcomes: Iterable[str], count: int) -> None:
        """`add` for each pair of a batch (`count` pairs): Counter.update counts in C."""
        self.actions.update(actions)
        self.outcomes.update(outcomes)
        self.total += count

    def take(self) -> CounterDeltas:
        taken = CounterDeltas(self.actions, self.outcomes, self.total)
        self.actions, self.outcomes, self.total = Counter(), Counter(), 0
        return taken

    def merge(self, other: CounterDeltas) -> None:
        """Put back deltas whose push failed."""
        self.actions.update(other.actions)
        self.outcomes.update(other.outcomes)
        self.total += other.total


class RedisCounters:
    """Owns the Redis client and the background pusher."""

    def __init__(self, url: str) -> None:
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        self.deltas = CounterDeltas()
        self.up = False
        self._up_gauge = DEPENDENCY_UP.labels(SERVICE, "redis")
        self._up_gauge.set(0)
        self._last_warning = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Push every `PUSH_EVERY_S` until `stop`, then one last push."""
        while not stop.is_set():
            await self.push()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PUSH_EVERY_S)
        await self.push()

    async def push(self) -> None:
        if not self.deltas.total:
            if not self.up:
                await self._ping()
            return
        batch = self.deltas.take()
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for action, count in batch.actions.items():
                    pipe.hincrby(ACTION_KEY, action, count)
                for outcome, count in batch.outcomes.items():
                    pipe.hincrby(OUTCOME_KEY, outcome, count)
                pipe.incrby(TOTAL_KEY, batch.total)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.deltas.merge(batch)
            self._set_up(False, exc)
            return
        self._set_up(True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()

    async def _ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            self._set_up(False, exc)
            return
        self._set_up(True)

    def _set_up(self, up: bool, error: BaseException | None = None) -> None:
        if up and not self.up:
            log.info("redis reachable")
        self.up = up
        self._up_gauge.set(1 if up else 0)
        now = time.monotonic()
        if not up and now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                "redis unavailable; counters held in memory",
                extra={"fields": {"error": repr(error)[:200], "pending": self.deltas.total}},
            )
