"""What `audit_events` held, in three figures a restore is checked against: the row count, the
newest `stored_at`, and a digest of the event ids — computed in one query, inside whatever
snapshot the connection is in (drills.backup runs it in the dump's own snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from drills.errors import TargetError

# Sorting for the md5 method happens in memory, and neither method JIT-compiles a one-off query.
FINGERPRINT_SETTINGS = ("SET work_mem = '256MB'", "SET jit = off")
# How the set of event ids is summarised. "hash64x2": the sums of two seeded 64-bit hashes of every
# id (order-independent, one scan, no sort): 0.4-0.6 s for 1M rows where "md5-sorted" (the md5 of
# the sorted ids joined by commas) took 1.8-2.5 s right after a restore, on the RTO's critical
# path. md5-sorted stays readable: journals written before the change carry it, and a crash
# recovery must verify a restore against the backup it recorded.
HASH_METHOD = "hash64x2"
MD5_METHOD = "md5-sorted"
FINGERPRINT_SQL = {
    HASH_METHOD: (
        "SELECT count(*), max(stored_at), coalesce("
        "sum(uuid_hash_extended(event_id, 1)::numeric)::text || ':' || "
        "sum(uuid_hash_extended(event_id, 2)::numeric)::text, '') FROM audit_events"
    ),
    MD5_METHOD: (
        "SELECT count(*), max(stored_at), "
        "coalesce(md5(string_agg(event_id::text, ',' ORDER BY event_id)), '') FROM audit_events"
    ),
}


@dataclass(frozen=True)
class Fingerprint:
    """What `audit_events` held: row count, newest stored_at (ISO, UTC) and a digest of its ids
    (`method`: see FINGERPRINT_SQL). Two fingerprints say the same only with the same method."""

    rows: int
    max_stored_at: str | None
    ids_digest: str
    method: str = HASH_METHOD

    def matches(self, other: Fingerprint) -> bool:
        """Same rows and ids (newest stored_at aside: a restore keeps the column's values)."""
        return (self.method, self.rows, self.ids_digest) == (
            other.method,
            other.rows,
            other.ids_digest,
        )

    def describe(self) -> str:
        return f"{self.rows} rows, ids {self.method} {self.ids_digest[:12]}…"

    @classmethod
    def from_record(cls, fp: Mapping[str, Any]) -> Fingerprint:
        """From a journal record; also one written before digests had a method (md5 only)."""
        if "ids_digest" in fp:
            return cls(
                int(fp["rows"]), fp.get("max_stored_at"), str(fp["ids_digest"]), str(fp["method"])
            )
        return cls(int(fp["rows"]), fp.get("max_stored_at"), str(fp["ids_md5"]), MD5_METHOD)


def fingerprint(conn: psycopg.Connection[Any], method: str = HASH_METHOD) -> Fingerprint:
    """The fingerprint of `audit_events` as `conn` sees it, by `method` (see FINGERPRINT_SQL)."""
    sql = FINGERPRINT_SQL.get(method)
    if sql is None:
        raise TargetError(f"unknown fingerprint method {method!r} in the backup record")
    for statement in FINGERPRINT_SETTINGS:  # session settings; the value is the same without
        conn.execute(statement)
    row = conn.execute(sql).fetchone()
    if row is None:  # an aggregate always returns a row
        raise TargetError("fingerprint query returned nothing")
    stored: datetime | None = row[1]
    return Fingerprint(int(row[0]), stored.isoformat() if stored else None, str(row[2]), method)
