"""PostgreSQL storage: one transaction per batch, idempotent on `event_id`.

A batch is COPied into a session temp table and moved with `INSERT ... SELECT ... ON CONFLICT
(event_id) DO NOTHING RETURNING event_id`, so one round trip stores hundreds of events and the
returned ids say exactly which were new (the rest are redeliveries). The COPY data is formatted
here as one text block and sent in a single write: psycopg's per-row `write_row` (an await and a
per-value adaptation each) was the largest Python cost of the store step in a py-spy profile of a
backlog drain. Errors are split in two: `StorageUnavailable` (connection/server trouble: retry
the same batch later) and `BadRows` (the data itself was refused: find and dead-letter the
offending rows instead of retrying forever).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from typing import Any

import psycopg

from auditflow.analysis import SERVICE
from auditflow.telemetry import DATABASE_CONNECTIONS, DATABASE_QUERY_DURATION

log = logging.getLogger(SERVICE)

Row = tuple[str, str, int, datetime, datetime, str, str, str, str, str, str]
COLUMNS = (
    "event_id, run_id, seq, occurred_at, published_at, actor, action, resource, outcome, "
    "source_ip, correlation_id"
)

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS audit_events (
        event_id uuid PRIMARY KEY,
        run_id text NOT NULL,
        seq bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        published_at timestamptz NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor text NOT NULL,
        action text NOT NULL,
        resource text NOT NULL,
        outcome text NOT NULL,
        source_ip text NOT NULL,
        correlation_id text NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS audit_events_run_seq_idx ON audit_events (run_id, seq)",
    "CREATE INDEX IF NOT EXISTS audit_events_stored_at_idx ON audit_events (stored_at)",
)
STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS audit_staging "
    "(LIKE audit_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
COPY_SQL = f"COPY audit_staging ({COLUMNS}) FROM STDIN"
INSERT_SQL = (
    f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM audit_staging "  # noqa: S608
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text"
)
SINGLE_SQL = (
    f"INSERT INTO audit_events ({COLUMNS}) VALUES "  # noqa: S608
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text"
)

COUNTS_SQL = "SELECT action, outcome, count(*) FROM audit_events GROUP BY action, outcome"

_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """`value` escaped for COPY's text format (validation already refused NUL)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_SPECIAL)
    return value


def copy_block(rows: list[Row]) -> str:
    """`rows` as COPY text-format lines, in `COLUMNS` order.

    Formatted without escaping first; if the result has exactly the tabs and newlines of its
    separators and no backslash or CR (the usual case), no value needed escaping. Otherwise
    the block is formatted again, escaping each value.
    """
    block = "".join(
        [
            f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3].isoformat()}\t{r[4].isoformat()}\t"
            f"{r[5]}\t{r[6]}\t{r[7]}\t{r[8]}\t{r[9]}\t{r[10]}\n"
            for r in rows
        ]
    )
    if (
        block.count("\t") == 10 * len(rows)
        and block.count("\n") == len(rows)
        and "\\" not in block
        and "\r" not in block
    ):
        return block
    return _copy_block_escaped(rows)


def _copy_block_escaped(rows: list[Row]) -> str:
    esc = copy_text
    return "".join(
        f"{esc(r[0])}\t{esc(r[1])}\t{r[2]}\t{r[3].isoformat()}\t{r[4].isoformat()}\t"
        f"{esc(r[5])}\t{esc(r[6])}\t{esc(r[7])}\t{esc(r[8])}\t{esc(r[9])}\t{esc(r[10])}\n"
        for r in rows
    )


class StorageUnavailable(Exception):
    """PostgreSQL could not be reached or failed for reasons unrelated to the data; retry."""


class BadRows(Exception):
    """PostgreSQL refused the data of the batch (not the connection)."""


class PgStore:
    """One connection, reconnected on demand; not safe for concurrent use (one flusher)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.AsyncConnection[tuple[str]] | None = None
        self._connections = DATABASE_CONNECTIONS.labels(SERVICE)
        self._copy_duration = DATABASE_QUERY_DURATION.labels(SERVICE, "store_batch")

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def connect(self) -> None:
        """Open a connection and make sure the schema and staging table exist."""
        await self.close()
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=5, application_name=SERVICE
            )
        except psycopg.Error as exc:
            raise StorageUnavailable(_describe(exc)) from None
        try:
            for statement in SCHEMA:
                # Another instance may create it at the same moment.
                with contextlib.suppress(psycopg.errors.UniqueViolation):
                    await conn.execute(statement)
            await conn.execute(STAGING)
            await conn.set_autocommit(False)
        except psycopg.Error as exc:
            await conn.close()
            raise StorageUnavailable(_describe(exc)) from None
        self._conn = conn
        self._connections.set(1)

    async def store(self, rows: list[Row]) -> tuple[set[str], float]:
        """Insert `rows` in one transaction; return (ids actually inserted, commit epoch time)."""
        conn = await self._connection()
        started = time.perf_counter()
        try:
            block = copy_block(rows).encode()
            async with conn.cursor() as cur:
                async with cur.copy(COPY_SQL) as copy:
                    await copy.write(block)
                await cur.execute(INSERT_SQL)
                inserted = {record[0] for record in await cur.fetchall()}
            await conn.commit()
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            await self._rollback()
            raise BadRows(_describe(exc)) from None
        except (UnicodeError, ValueError, OverflowError) as exc:  # adapting a value failed
            await self._rollback()
            raise BadRows(repr(exc)[:200]) from None
        except psycopg.Error as exc:
            await self._drop()
            raise StorageUnavailable(_describe(exc)) from None
        committed = time.time()
        self._copy_duration.observe(time.perf_counter() - started)
        return inserted, committed

    async def store_one(self, row: Row) -> tuple[bool, float]:
        """Insert one row in its own transaction (used to isolate bad rows); BadRows if refused."""
        conn = await self._connection()
        try:
            async with conn.cursor() as cur:
                await cur.execute(SINGLE_SQL, row)
                new = bool(await cur.fetchall())
            await conn.commit()
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            await self._rollback()
            raise BadRows(_describe(exc)) from None
        except (UnicodeError, ValueError, OverflowError) as exc:
            await self._rollback()
            raise BadRows(repr(exc)[:200]) from None
        except psycopg.Error as exc:
            await self._drop()
            raise StorageUnavailable(_describe(exc)) from None
        return new, time.time()

    async def counts(self) -> list[tuple[str, str, int]]:
        """(action, outcome, rows) over every stored event, for re-seeding the Redis counters."""
        conn = await self._connection()
        try:
            async with conn.cursor() as cur:
                await cur.execute(COUNTS_SQL)
                rows: list[Any] = await cur.fetchall()
                found = [(str(a), str(o), int(n)) for a, o, n in rows]
            await conn.rollback()  # end the read-only transaction
        except psycopg.Error as exc:
            await self._drop()
            raise StorageUnavailable(_describe(exc)) from None
        return found

    async def close(self) -> None:
        await self._drop()

    async def _connection(self) -> psycopg.AsyncConnection[tuple[str]]:
        if self._conn is None or self._conn.closed:
            await self.connect()
        assert self._conn is not None
        return self._conn

    async def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.rollback()
        except psycopg.Error:
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._connections.set(0)
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error as exc:
                log.debug("closing connection failed", extra={"fields": {"error": repr(exc)}})


def _describe(exc: BaseException) -> str:
    """An error message safe to log: psycopg messages never include the password."""
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}{f' [{sqlstate}]' if sqlstate else ''}: {text}"[:300]
