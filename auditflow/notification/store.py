"""De-duplicated alerts in SQLite, so the notification service works while PostgreSQL is down.

One connection in WAL mode, guarded by a lock; the async service calls the methods through
`asyncio.to_thread`, and each call is one short transaction (read the stored record, apply the
de-duplication rules from `model.apply`, write it back).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditflow.notification.model import AlertRecord, IncomingAlert, Outcome, Status, apply

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    labels TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    count INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    first_received_at TEXT NOT NULL,
    last_received_at TEXT NOT NULL,
    resolved_at TEXT,
    starts_at TEXT,
    ends_at TEXT,
    correlation_id TEXT,
    UNIQUE (source, fingerprint)
);
CREATE INDEX IF NOT EXISTS alerts_last_received ON alerts (last_received_at);
CREATE INDEX IF NOT EXISTS alerts_name ON alerts (name);
"""

_COLUMNS = (
    "id, source, fingerprint, name, severity, summary, labels, status, count, created_at, "
    "first_received_at, last_received_at, resolved_at, starts_at, ends_at, correlation_id"
)


def utc_now() -> str:
    """Now, as the ISO-8601 UTC text every stored timestamp uses (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class AlertStore:
    """The alert table; thread-safe, every method is blocking and short."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> None:
        """Raise if the database cannot answer a query."""
        with self._lock:
            self._db.execute("SELECT count(*) FROM alerts").fetchone()

    def record(
        self, alerts: Iterable[IncomingAlert], now: str | None = None
    ) -> list[tuple[AlertRecord, Outcome]]:
        """Apply each notification in one transaction; return the stored records and outcomes."""
        stamp = now or utc_now()
        results: list[tuple[AlertRecord, Outcome]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for incoming in alerts:
                    stored = self._get(incoming.source, incoming.fingerprint)
                    record, outcome = apply(stored, incoming, stamp)
                    results.append((self._put(record), outcome))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return results

    def find(
        self,
        *,
        source: str | None = None,
        name: str | None = None,
        status: Status | None = None,
        fingerprint: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Stored alerts matching every given filter, most recently received first."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("source", source),
            ("name", name),
            ("status", status),
            ("fingerprint", fingerprint),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM alerts"  # noqa: S608 - fixed column names only
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY last_received_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_from_row(row) for row in rows]

    def _get(self, source: str, fingerprint: str) -> AlertRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE source = ? AND fingerprint = ?",  # noqa: S608
            (source, fingerprint),
        ).fetchone()
        return None if row is None else _from_row(row)

    def _put(self, record: AlertRecord) -> AlertRecord:
        values = (
            record.name,
            record.severity,
            record.summary,
            json.dumps(record.labels, sort_keys=True),
            record.status,
            record.count,
            record.created_at,
            record.first_received_at,
            record.last_received_at,
            record.resolved_at,
            record.starts_at,
            record.ends_at,
            record.correlation_id,
        )
        row = self._db.execute(
            """
            INSERT INTO alerts (name, severity, summary, labels, status, count, created_at,
                first_received_at, last_received_at, resolved_at, starts_at, ends_at,
                correlation_id, source, fingerprint)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source, fingerprint) DO UPDATE SET
                name = excluded.name, severity = excluded.severity, summary = excluded.summary,
                labels = excluded.labels, status = excluded.status, count = excluded.count,
                first_received_at = excluded.first_received_at,
                last_received_at = excluded.last_received_at,
                resolved_at = excluded.resolved_at, starts_at = excluded.starts_at,
                ends_at = excluded.ends_at, correlation_id = excluded.correlation_id
            RETURNING id
            """,
            (*values, record.source, record.fingerprint),
        ).fetchone()
        return replace(record, id=int(row[0]))


def _from_row(row: sqlite3.Row) -> AlertRecord:
    labels = json.loads(row["labels"])
    status: Status = "resolved" if row["status"] == "resolved" else "firing"
    return AlertRecord(
        id=int(row["id"]),
        source=row["source"],
        fingerprint=row["fingerprint"],
        name=row["name"],
        severity=row["severity"],
        summary=row["summary"],
        labels={str(k): str(v) for k, v in labels.items()},
        status=status,
        count=int(row["count"]),
        created_at=row["created_at"],
        first_received_at=row["first_received_at"],
        last_received_at=row["last_received_at"],
        resolved_at=row["resolved_at"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        correlation_id=row["correlation_id"],
    )
