"""The dashboard's three data sources — PostgreSQL, Redis, Prometheus — each behind a hard deadline.

The page must answer quickly while any of them is down, stopped (SIGSTOP) or slow, so every call
goes through `bounded()`: it waits at most `timeout` seconds and then gives up *without waiting
for the client library to clean up*. That matters for psycopg: a cancelled query first sends a
cancel request and waits for the server for up to 10 s; `bounded()` lets that finish in the
background (and the connection is then discarded) while the page answers now.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import psycopg
import redis.asyncio as aioredis
from psycopg import errors as pg_errors
from psycopg.rows import DictRow, dict_row
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from auditflow.config import redact_url
from auditflow.dashboard import SERVICE
from auditflow.telemetry import DATABASE_CONNECTIONS, DATABASE_QUERY_DURATION

T = TypeVar("T")
log = logging.getLogger(SERVICE)

POSTGRESQL = "postgresql"
REDIS = "redis"
PROMETHEUS = "prometheus"
DEPENDENCIES = (POSTGRESQL, REDIS, PROMETHEUS)

ACTION_KEY = "auditflow:counts:action"
OUTCOME_KEY = "auditflow:counts:outcome"
TOTAL_KEY = "auditflow:counts:total"

# Every SLI recording rule in manifests/base/monitoring/rules/ is named `sli:<what>:<window>`.
SLI_SELECTOR = '{__name__=~"sli:.+"}'

# The counters' fallback while Redis is down: the same three figures, counted from the rows. A
# sequential scan (~0.2 s per million rows): on a table too large for the 1 s deadline the API
# answers 503 as it did before the fallback existed, never slower.
STORED_COUNTS_SQL = """
SELECT action, outcome, count(*) AS n FROM audit_events GROUP BY action, outcome
"""

RECENT_EVENTS_SQL = """
SELECT event_id::text AS event_id, stored_at, actor, action, resource, outcome, source_ip,
       correlation_id
FROM audit_events
ORDER BY stored_at DESC
LIMIT %s
"""

_background: set[asyncio.Task[Any]] = set()


class Unavailable(Exception):
    """A dependency could not answer in time; `dependency` names it, the message says why."""

    def __init__(self, dependency: str, detail: str) -> None:
        self.dependency = dependency
        self.detail = detail
        super().__init__(f"{dependency}: {detail}")


async def bounded(dependency: str, work: Coroutine[Any, Any, T], timeout: float) -> T:
    """Await `work` for at most `timeout` s; on timeout or error raise `Unavailable`."""
    task: asyncio.Task[T] = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if task not in done:
        _abandon(task)
        raise Unavailable(dependency, f"no answer within {timeout:g} s")
    try:
        return task.result()
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(dependency, _describe(exc)) from exc


def _abandon(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and let it finish cleaning up in the background, keeping a reference."""
    task.cancel()
    _background.add(task)

    def forget(done: asyncio.Task[Any]) -> None:
        _background.discard(done)
        if not done.cancelled():
            done.exception()  # mark retrieved: it is already reported as Unavailable

    task.add_done_callback(forget)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


@dataclass(frozen=True)
class Event:
    """One row of the recent-events table."""

    event_id: str
    stored_at: str
    actor: str
    action: str
    resource: str
    outcome: str
    source_ip: str
    correlation_id: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


class EventReader:
    """Reads recent events over one reconnecting psycopg `AsyncConnection`.

    A single connection is enough for a dashboard (psycopg serialises its queries); it is opened
    on first use and discarded after any error or timeout, so the next request reconnects.
    """

    def __init__(self, dsn: str, timeout: float) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._conn: psycopg.AsyncConnection[DictRow] | None = None
        self._connect_lock = asyncio.Lock()
        DATABASE_CONNECTIONS.labels(SERVICE).set(0)

    async def _connection(self) -> psycopg.AsyncConnection[DictRow]:
        async with self._connect_lock:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self._dsn,
                    autocommit=True,
                    row_factory=dict_row,
                    connect_timeout=max(2, int(self._timeout + 0.999)),
                    application_name=SERVICE,
                    options=f"-c statement_timeout={int(self._timeout * 1000)}",
                )
                DATABASE_CONNECTIONS.labels(SERVICE).set(1)
            return self._conn

    async def _discard(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        if self._conn is conn:
            self._conn = None
            DATABASE_CONNECTIONS.labels(SERVICE).set(0)
        try:
            await conn.close()
        except Exception as exc:  # closing a broken connection may fail; nothing to do
            log.debug("closing a broken connection failed", extra={"fields": {"err": str(exc)}})

    async def _fetch(self, operation: str, sql: str, params: tuple[Any, ...]) -> list[DictRow]:
        conn = await self._connection()
        started = time.perf_counter()
        try:
            cursor = await conn.execute(sql, params)
            rows = await cursor.fetchall()
        except pg_errors.UndefinedTable:
            return []  # the analysis service creates the table on first start
        except BaseException:
            await self._discard(conn)
            raise
        finally:
            DATABASE_QUERY_DURATION.labels(SERVICE, operation).observe(
                time.perf_counter() - started
            )
        return rows

    async def recent(self, limit: int) -> list[Event]:
        """The `limit` most recently stored events, newest first."""
        rows = await bounded(
            POSTGRESQL, self._fetch("recent_events", RECENT_EVENTS_SQL, (limit,)), self._timeout
        )
        return [
            Event(**{key: _text(row.get(key)) for key in Event.__dataclass_fields__})
            for row in rows
        ]

    async def counters(self) -> Counters:
        """The counters Redis would hold, counted from the stored rows (the fallback)."""
        rows = await bounded(
            POSTGRESQL, self._fetch("stored_counts", STORED_COUNTS_SQL, ()), self._timeout
        )
        by_action: dict[str, int] = {}
        by_outcome: dict[str, int] = {}
        for row in rows:
            n = _int(row.get("n"))
            action, outcome = _text(row.get("action")), _text(row.get("outcome"))
            by_action[action] = by_action.get(action, 0) + n
            by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        return Counters(
            by_action=dict(sorted(by_action.items())),
            by_outcome=dict(sorted(by_outcome.items())),
            total=sum(by_action.values()),
            source=POSTGRESQL,
        )

    async def ping(self) -> None:
        await bounded(POSTGRESQL, self._fetch("ping", "SELECT 1", ()), self._timeout)

    async def close(self) -> None:
        if self._conn is not None:
            await self._discard(self._conn)


@dataclass(frozen=True)
class Counters:
    """Stored-event counts kept by the analysis service in Redis — or, while Redis is down,
    counted from PostgreSQL's rows (`source`)."""

    by_action: dict[str, int]
    by_outcome: dict[str, int]
    total: int
    source: str = REDIS
    as_of: str = ""  # when they were read (kept with the last Redis answer)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "by_action": self.by_action,
            "by_outcome": self.by_outcome,
            "total": self.total,
            "source": self.source,
        }
        if self.source != REDIS and self.as_of:
            body["as_of"] = self.as_of
        return body


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


class CounterReader:
    """Reads the Redis counters with short socket timeouts and no client-side retries."""

    def __init__(self, url: str, timeout: float) -> None:
        self._timeout = timeout
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )

    async def _counters(self) -> Counters:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(ACTION_KEY)
            pipe.hgetall(OUTCOME_KEY)
            pipe.get(TOTAL_KEY)
            actions, outcomes, total = await pipe.execute()
        return Counters(
            by_action={str(k): _int(v) for k, v in sorted((actions or {}).items())},
            by_outcome={str(k): _int(v) for k, v in sorted((outcomes or {}).items())},
            total=_int(total or 0),
        )

    async def counters(self) -> Counters:
        return await bounded(REDIS, self._counters(), self._timeout)

    async def ping(self) -> None:
        await bounded(REDIS, _awaited(self._redis.ping()), self._timeout)

    async def close(self) -> None:
        await self._redis.aclose()


async def _awaited(value: Awaitable[Any] | Any) -> Any:
    return await value


@dataclass(frozen=True)
class Sli:
    """One recorded SLI series from Prometheus."""

    name: str
    labels: dict[str, str]
    value: float | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "value": self.value}


class SliReader:
    """Queries the Prometheus HTTP API for the SLI recording rules."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        return self._session

    async def _query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self._base}/api/v1/query"
        async with self._client().get(url, params={"query": promql}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status} from {redact_url(url)}")
            body = await resp.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {body.get('error', 'unknown error')}")
        data = body.get("data") or {}
        result = data.get("result") or []
        return [item for item in result if isinstance(item, dict)]

    async def slis(self) -> list[Sli]:
        """Every `sli:*` series, sorted by name and labels."""
        result = await bounded(PROMETHEUS, self._query(SLI_SELECTOR), self._timeout)
        out: list[Sli] = []
        for item in result:
            metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            name = metric.pop("__name__", "?")
            out.append(Sli(name=name, labels=metric, value=_sample_value(item.get("value"))))
        return sorted(out, key=lambda s: (s.name, sorted(s.labels.items())))

    async def ping(self) -> None:
        await bounded(PROMETHEUS, self._query("vector(1)"), self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _sample_value(raw: object) -> float | None:
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    try:
        value = float(raw[1])
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value  # NaN (0/0 without traffic) shows as "no data"
