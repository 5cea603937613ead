"""Logical backups of the AuditFlow database: take one, prove it restorable, restore it, compare.

A restore drill is only as honest as its backup, so a backup here is three things together: a
`pg_dump -Fc` file, proof that `pg_restore --list` reads it, and a fingerprint of `audit_events`
(row count, newest `stored_at`, md5 over the sorted event ids) computed inside the very snapshot
the dump was taken from (`pg_export_snapshot` + `pg_dump --snapshot`). A restored database is then
checked against that fingerprint, not against "it ran without error".

The superuser's password travels only in the child's `PGPASSWORD` environment variable: it is never
on argv (visible in `ps`), never logged, never journaled. Failures of psycopg and of the PostgreSQL
client programs become `TargetError`s carrying the program's own message.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from drills.errors import TargetError

DATABASE = "auditflow"
APP_ROLE = "auditflow"
DUMP_TIMEOUT_S = 600.0
FINGERPRINT_SQL = (
    "SELECT count(*), max(stored_at), "
    "coalesce(md5(string_agg(event_id::text, ',' ORDER BY event_id)), '') FROM audit_events"
)


@dataclass(frozen=True)
class PgServer:
    """Where and as whom the client programs connect; the password is kept out of `repr`."""

    host: str
    port: int
    user: str
    password: str

    def __repr__(self) -> str:
        return f"PgServer(host={self.host!r}, port={self.port}, user={self.user!r})"

    @classmethod
    def from_dsn(cls, dsn: str) -> PgServer:
        """Parse a libpq conninfo/URL (e.g. `Endpoints.pg_admin_dsn`)."""
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise TargetError(f"cannot parse the PostgreSQL admin DSN: {exc}") from exc
        return cls(
            host=str(parts.get("host") or "127.0.0.1"),
            port=int(parts.get("port") or 5432),
            user=str(parts.get("user") or "postgres"),
            password=str(parts.get("password") or ""),
        )

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=3,
        )

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for pg_dump/pg_restore: the password here, and only here."""
        env = dict(os.environ if base is None else base)
        for key in ("PGPASSFILE", "PGSERVICE", "PGOPTIONS", "PGDATABASE"):
            env.pop(key, None)
        env["PGPASSWORD"] = self.password
        env["PGCONNECT_TIMEOUT"] = "5"
        return env


@dataclass(frozen=True)
class Fingerprint:
    """What `audit_events` held: row count, newest stored_at (ISO, UTC) and md5 of sorted ids."""

    rows: int
    max_stored_at: str | None
    ids_md5: str


@dataclass(frozen=True)
class Backup:
    """A verified dump and the fingerprint of the snapshot it holds (JSON-able, no secrets)."""

    path: str
    bytes: int
    started_at: float  # harness clock, just before the snapshot was taken
    completed_at: float  # harness clock, after pg_restore --list read the file back
    entries: int  # TOC entries pg_restore --list reported
    fingerprint: Fingerprint

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Backup:
        fp = record["fingerprint"]
        return cls(
            path=str(record["path"]),
            bytes=int(record["bytes"]),
            started_at=float(record["started_at"]),
            completed_at=float(record["completed_at"]),
            entries=int(record["entries"]),
            fingerprint=Fingerprint(int(fp["rows"]), fp.get("max_stored_at"), str(fp["ids_md5"])),
        )


def dump_argv(pg_dump: str, server: PgServer, out: Path, snapshot: str | None) -> list[str]:
    """pg_dump custom-format command; never contains the password."""
    argv = [
        pg_dump,
        "--format=custom",
        f"--host={server.host}",
        f"--port={server.port}",
        f"--username={server.user}",
        "--no-password",
        f"--dbname={DATABASE}",
        f"--file={out}",
    ]
    if snapshot:
        argv.append(f"--snapshot={snapshot}")
    return argv


def list_argv(pg_restore: str, dump: Path) -> list[str]:
    return [pg_restore, "--list", str(dump)]


def restore_argv(pg_restore: str, server: PgServer, dump: Path) -> list[str]:
    """pg_restore into the (empty) database, as the app role, all or nothing; no password."""
    return [
        pg_restore,
        f"--host={server.host}",
        f"--port={server.port}",
        f"--username={server.user}",
        "--no-password",
        f"--dbname={DATABASE}",
        "--no-owner",
        f"--role={APP_ROLE}",
        "--single-transaction",
        "--exit-on-error",
        str(dump),
    ]


def run_client(argv: Sequence[str], server: PgServer, what: str, timeout: float) -> str:
    """Run a PostgreSQL client program; its stdout, or TargetError with its stderr."""
    try:
        result = subprocess.run(
            list(argv),
            env=server.child_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TargetError(f"{what}: could not run {Path(argv[0]).name}: {exc}") from exc
    if result.returncode != 0:
        detail = _scrub(result.stderr.strip() or result.stdout.strip(), server.password)
        raise TargetError(
            f"{what}: {Path(argv[0]).name} exited {result.returncode}: {detail[-600:]}"
        )
    return result.stdout


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def fingerprint(conn: psycopg.Connection[Any]) -> Fingerprint:
    row = conn.execute(FINGERPRINT_SQL).fetchone()
    if row is None:  # an aggregate always returns a row
        raise TargetError("fingerprint query returned nothing")
    stored: datetime | None = row[1]
    return Fingerprint(int(row[0]), stored.isoformat() if stored else None, str(row[2]))


def take(pg_dump: str, pg_restore: str, server: PgServer, out: Path) -> Backup:
    """Dump `auditflow` to `out`, fingerprint the same snapshot, and read the dump back."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    started = time.time()
    try:
        with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot_row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            snapshot = str(snapshot_row[0]) if snapshot_row else None
            fp = fingerprint(conn)
            # The exporting transaction must stay open while pg_dump imports the snapshot.
            run_client(
                dump_argv(pg_dump, server, partial, snapshot), server, "backup", DUMP_TIMEOUT_S
            )
            conn.execute("COMMIT")
    except psycopg.Error as exc:
        partial.unlink(missing_ok=True)
        raise TargetError(f"backup of {DATABASE}: {exc}") from exc
    except TargetError:
        partial.unlink(missing_ok=True)
        raise
    listing = run_client(list_argv(pg_restore, partial), server, "backup verification", 120)
    entries = count_toc_entries(listing)
    if "TABLE DATA public audit_events" not in listing:
        raise TargetError(f"backup verification: {partial} holds no data for audit_events")
    os.replace(partial, out)
    return Backup(
        path=str(out),
        bytes=out.stat().st_size,
        started_at=started,
        completed_at=time.time(),
        entries=entries,
        fingerprint=fp,
    )


def count_toc_entries(listing: str) -> int:
    """Entries in a `pg_restore --list` table of contents (comment lines start with ';')."""
    return sum(1 for line in listing.splitlines() if line.strip() and not line.startswith(";"))


def restore(pg_restore: str, server: PgServer, dump: Path) -> float:
    """Restore `dump` into the empty `auditflow` database; return the seconds it took."""
    started = time.monotonic()
    run_client(restore_argv(pg_restore, server, dump), server, "restore", DUMP_TIMEOUT_S)
    return time.monotonic() - started


def fingerprint_of(server: PgServer) -> Fingerprint:
    """The fingerprint of `audit_events` as it is now."""
    try:
        with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
            return fingerprint(conn)
    except psycopg.Error as exc:
        raise TargetError(f"fingerprint of {DATABASE}.audit_events: {exc}") from exc
