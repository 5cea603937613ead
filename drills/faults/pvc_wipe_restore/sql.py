"""The SQL pvc-wipe-restore runs against the server, over the target's admin DSN.

Why here and not in the target: these statements are the same on every target (the volume
capability does what SQL cannot — halt, wipe, reprovision). Every psycopg failure becomes a
`TargetError` that says what was being done; the dump and the restore themselves are
`drills.backup`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psycopg

from drills.backup import APP_ROLE, DATABASE, PgServer
from drills.errors import TargetError

FENCE_LOCK_TIMEOUT = "5s"


def admin(server: PgServer, dbname: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(server.conninfo(dbname), autocommit=True)
    except psycopg.Error as exc:
        raise TargetError(f"cannot connect to {dbname} as {server.user}: {exc}") from exc


def missing_table(server: PgServer) -> str | None:
    """Why the database cannot be backed up yet (None: it has its audit_events table)."""
    try:
        with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('public.audit_events')").fetchone() == (None,):
                return f"database {DATABASE} has no audit_events table yet"
    except psycopg.Error as exc:
        return f"cannot read database {DATABASE}: {str(exc).strip()[:200]}"
    return None


def fence_capture_and_halt(
    server: PgServer, since: float, halt: Callable[[], None]
) -> frozenset[str]:
    """Capture the event ids stored since `since` while no writer can commit, then `halt`.

    The SHARE lock waits for in-flight inserts to commit and blocks new ones; the server is
    halted while the lock is still held, so the captured set is exactly what was committed.
    """
    try:
        conn = psycopg.connect(server.conninfo(DATABASE), autocommit=True)
    except psycopg.Error as exc:
        raise TargetError(f"cannot connect to {DATABASE} before the wipe: {exc}") from exc
    try:
        conn.execute("BEGIN")
        conn.execute(f"SET LOCAL lock_timeout = '{FENCE_LOCK_TIMEOUT}'")
        conn.execute("LOCK TABLE audit_events IN SHARE MODE")
        rows = conn.execute(
            "SELECT event_id::text FROM audit_events WHERE stored_at > to_timestamp(%s)",
            (since,),
        ).fetchall()
        captured = frozenset(str(row[0]) for row in rows)
        halt()
    except psycopg.Error as exc:
        raise TargetError(f"fencing writers before the wipe failed: {exc}") from exc
    finally:
        with contextlib.suppress(psycopg.Error):  # the server is gone, as intended
            conn.close()
    return captured


def lock_out_app(server: PgServer) -> None:
    """Make sure the application role exists but cannot log in, and holds no session.

    A session it still holds (a restore redone by the rollback) would otherwise go on writing
    into the database that the restored one is about to replace.
    """
    try:
        with admin(server, "postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
            ).fetchone()
            if exists is None:
                conn.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
            else:
                conn.execute(f"ALTER ROLE {APP_ROLE} NOLOGIN")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (APP_ROLE,),
            )
    except psycopg.Error as exc:
        raise TargetError(f"locking the application out before the restore failed: {exc}") from exc


def let_app_in(server: PgServer) -> None:
    try:
        with admin(server, "postgres") as conn:
            conn.execute(f"ALTER ROLE {APP_ROLE} LOGIN")
    except psycopg.Error as exc:
        raise TargetError(f"letting the application role log in failed: {exc}") from exc


def let_app_in_quietly(server: PgServer) -> None:
    """Best effort, on a failed rollback: an empty database that works beats a locked one."""
    with contextlib.suppress(TargetError):
        let_app_in(server)


def present(server: PgServer, ids: frozenset[str], dbname: str = DATABASE) -> set[str]:
    """Which of `ids` the database holds."""
    if not ids:
        return set()
    try:
        with admin(server, dbname) as conn:
            rows = conn.execute(
                "SELECT event_id::text FROM audit_events WHERE event_id = ANY(%s::uuid[])",
                (sorted(ids),),
            ).fetchall()
    except psycopg.Error as exc:
        raise TargetError(f"checking which events are present failed: {exc}") from exc
    return {str(row[0]) for row in rows}


def last_stored_at(server: PgServer, ids: frozenset[str]) -> float | None:
    """When (server clock) the last of `ids` was stored; None when none of them is present."""
    if not ids:
        return None
    try:
        with admin(server, DATABASE) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM max(stored_at)) FROM audit_events "
                "WHERE event_id = ANY(%s::uuid[])",
                (sorted(ids),),
            ).fetchone()
    except psycopg.Error as exc:
        raise TargetError(f"reading when the re-driven events were stored failed: {exc}") from exc
    return float(row[0]) if row and row[0] is not None else None


def first_stored_after(server: PgServer, after: float) -> float | None:
    """When (server clock) the first event stored after `after` was stored; None: none yet."""
    try:
        with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM min(stored_at)) FROM audit_events "
                "WHERE stored_at > to_timestamp(%s)",
                (after,),
            ).fetchone()
    except psycopg.Error as exc:
        raise TargetError(f"polling for the first write after restore: {exc}") from exc
    return float(row[0]) if row and row[0] is not None else None
