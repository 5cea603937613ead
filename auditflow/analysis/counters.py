"""Redis counters of stored events, pushed in the background from in-memory deltas.

Storing must never wait for Redis: committed events only bump in-memory deltas, and a pusher
sends them every 200 ms in one MULTI/EXEC pipeline. While Redis is down the deltas accumulate and
are sent when it returns, so the counters catch up instead of losing the outage. (If EXEC is
applied but its reply is lost, that one push is counted twice — rare, and only a counter.)

A Redis that comes back empty (restarted without persistence, as the sandbox runs it, or a new
pod) would hold only what was counted since, and the dashboard's totals would stay below
PostgreSQL's forever. So the pusher notices an empty Redis — the total key absent when it
reconnects, or an INCRBY that returns exactly the batch it added — and re-seeds the counters
from PostgreSQL (`seed`: a count of the stored rows taken while no batch is between its commit
and its delta, with the pending deltas dropped because the count already holds them). One writer
is assumed: with several analysis replicas, another replica's pending deltas would be counted
twice after a re-seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from auditflow.analysis import SERVICE
from auditflow.analysis.store import StorageUnavailable
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


# The stored rows' counts, consistent with `CounterDeltas` (see the module docstring).
Seed = Callable[[], Awaitable[CounterDeltas]]


class RedisCounters:
    """Owns the Redis client and the background pusher."""

    def __init__(self, url: str, seed: Seed | None = None) -> None:
        self.seed = seed
        self._must_seed = False
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
        if not self.up and not await self._reconnected():
            return
        if self._must_seed and not await self._reseed():
            return
        if not self.deltas.total:
            return
        batch = self.deltas.take()
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for action, count in batch.actions.items():
                    pipe.hincrby(ACTION_KEY, action, count)
                for outcome, count in batch.outcomes.items():
                    pipe.hincrby(OUTCOME_KEY, outcome, count)
                pipe.incrby(TOTAL_KEY, batch.total)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.deltas.merge(batch)
            self._set_up(False, exc)
            return
        self._set_up(True)
        if int(replies[-1]) == batch.total:  # the total was absent: Redis came back empty
            self._must_seed = True
            await self._reseed()

    async def _reconnected(self) -> bool:
        """Redis answers again (or for the first time): re-seed it if it came back empty."""
        try:
            present = await self._client.exists(TOTAL_KEY)
        except (RedisError, OSError) as exc:
            self._set_up(False, exc)
            return False
        self._set_up(True)
        self._must_seed = self._must_seed or not present
        return True

    async def _reseed(self) -> bool:
        """Overwrite the counters with PostgreSQL's counts; False (retry later) on failure."""
        if self.seed is None:
            self._must_seed = False
            return True
        try:
            counts = await self.seed()
        except StorageUnavailable as exc:  # keep the deltas, retry at the next push
            self._warn("counters not re-seeded yet (postgres unavailable)", exc)
            return False
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(ACTION_KEY, OUTCOME_KEY, TOTAL_KEY)
                for action, count in counts.actions.items():
                    pipe.hset(ACTION_KEY, action, count)
                for outcome, count in counts.outcomes.items():
                    pipe.hset(OUTCOME_KEY, outcome, count)
                pipe.set(TOTAL_KEY, counts.total)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # The dropped deltas are in PostgreSQL's count: the next re-seed includes them.
            self._set_up(False, exc)
            return False
        self._must_seed = False
        log.info(
            "redis counters re-seeded from postgres", extra={"fields": {"total": counts.total}}
        )
        return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()

    def _set_up(self, up: bool, error: BaseException | None = None) -> None:
        if up and not self.up:
            log.info("redis reachable")
        self.up = up
        self._up_gauge.set(1 if up else 0)
        if not up:
            self._warn("redis unavailable; counters held in memory", error)

    def _warn(self, message: str, error: BaseException | None) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                message,
                extra={"fields": {"error": repr(error)[:200], "pending": self.deltas.total}},
            )
