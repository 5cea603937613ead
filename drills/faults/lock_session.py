"""The table-lock fault's PostgreSQL session, and how a dead run's lock holder is found and ended.

Why a module of its own: the lock lives in one server-side backend, and two very different
callers must be able to end it — the run that opened it (ROLLBACK and close its own connection)
and `recover`, which holds nothing but the dead run's journal. The journal therefore names the
backend before the lock is taken (`J_SESSION`: its PID, its application_name and its start time),
and ending it from the journal is a decision with rules of its own, kept pure here
(`decide`) so that it can be tested without a server:

* only a backend with exactly the journaled PID, application_name *and* start time is ours —
  PIDs are reused, and an application_name alone could be copied; anything else is someone
  else's session and is never terminated;
* a journaled application_name that does not start with `APP_NAME_PREFIX` was not written by
  this fault (a hand-edited or foreign journal) and is ignored.

Why a recover can still find the lock held: a harness killed on the database's own host closes
its socket and PostgreSQL ends the transaction at once; a harness whose machine lost power or its
network leaves the backend "idle in transaction", holding the lock, until TCP keepalives give up
(hours by default). The session therefore also sets `idle_in_transaction_session_timeout` to the
hold plus `DEADMAN_MARGIN_S`: the server ends a forgotten lock by itself, `recover` sooner.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import psycopg

from drills.backup import DATABASE, PgServer
from drills.errors import TargetError

TABLE = "audit_events"


@dataclass(frozen=True)
class LockMode:
    """A table lock mode: how LOCK TABLE and pg_locks spell it, and what it blocks."""

    sql: str
    pg: str
    blocks: str


# The drill file's `mode` → the lock. EXCLUSIVE conflicts with the ROW EXCLUSIVE of every write
# and not with a plain SELECT's ACCESS SHARE (a stuck batch job, a forgotten BEGIN); ACCESS
# EXCLUSIVE conflicts with every lock, reads included (what ALTER TABLE, DROP, TRUNCATE, VACUUM
# FULL take: the schema migration that stalls the whole application).
LOCK_MODES: dict[str, LockMode] = {
    "exclusive": LockMode("EXCLUSIVE", "ExclusiveLock", "INSERTs wait, SELECTs run"),
    "access-exclusive": LockMode(
        "ACCESS EXCLUSIVE", "AccessExclusiveLock", "INSERTs and SELECTs wait"
    ),
}
DEFAULT_MODE = "exclusive"
APP_NAME_PREFIX = "genesis-drill lock "
NAMEDATALEN = 63  # PostgreSQL truncates application_name to this many bytes
# Taking the lock waits for in-flight writers to commit; a writer stuck longer than this means
# something else is wrong, and queueing behind it would block every other writer too.
ACQUIRE_TIMEOUT_MS = 10_000
# The server's own dead man's switch: a lock session idle this long past its hold is ended.
DEADMAN_MARGIN_S = 60.0
GONE_TIMEOUT_S = 10.0  # how long a closed or terminated backend may take to exit
POLL_S = 0.1

J_SESSION = "lock-session"  # written after connecting, before LOCK TABLE: what recover ends
J_HELD = "lock-held"
J_RELEASED = "lock-released"

_IDENTITY_SQL = (
    "SELECT pid, application_name, (extract(epoch FROM backend_start) * 1000000)::bigint "
    "FROM pg_stat_activity WHERE pid = %s"
)
_OWN_IDENTITY_SQL = (
    "SELECT pid, application_name, (extract(epoch FROM backend_start) * 1000000)::bigint "
    "FROM pg_stat_activity WHERE pid = pg_backend_pid()"
)
_TERMINATE_SQL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s "
    "AND application_name = %s AND (extract(epoch FROM backend_start) * 1000000)::bigint = %s"
)


def app_name(run_id: str) -> str:
    """The application_name of a run's lock session (as PostgreSQL will store it)."""
    return (APP_NAME_PREFIX + run_id).encode()[:NAMEDATALEN].decode(errors="ignore")


@dataclass(frozen=True)
class Backend:
    """One server backend: what identifies it beyond its (reusable) PID."""

    pid: int
    application_name: str
    started_us: int  # backend_start, microseconds since the epoch (exact, unlike a float)

    def as_record(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "application_name": self.application_name,
            "started_us": self.started_us,
        }

    def describe(self) -> str:
        return f"backend {self.pid} ({self.application_name!r})"


def journaled_sessions(records: Iterable[Mapping[str, Any]]) -> list[Backend]:
    """The lock sessions a journal names, in order, each once; malformed records are skipped
    (a journal is a crash log) and so is any name this fault would not have written."""
    found: list[Backend] = []
    for record in records:
        if record.get("event") != J_SESSION:
            continue
        pid, name, started = (
            record.get("pid"),
            record.get("application_name"),
            record.get("started_us"),
        )
        if not (isinstance(pid, int) and isinstance(started, int) and isinstance(name, str)):
            continue
        if isinstance(pid, bool) or isinstance(started, bool) or pid <= 0:
            continue
        if not name.startswith(APP_NAME_PREFIX):
            continue
        backend = Backend(pid, name, started)
        if backend not in found:
            found.append(backend)
    return found


def unreachable(server: PgServer) -> str | None:
    """Why the lock cannot be taken (None: the superuser reaches the database and its table)."""
    try:
        with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone() == (None,):
                return f"database {DATABASE} has no {TABLE} table yet"
    except psycopg.Error as exc:
        return (
            f"cannot connect to {DATABASE} at {server.host}:{server.port} as {server.user}: "
            f"{_first_line(exc)}"
        )
    return None


class Decision(Enum):
    GONE = "gone"  # no backend with that PID: nothing holds the lock
    TERMINATE = "terminate"  # still there and provably ours
    NOT_OURS = "not ours"  # the PID now belongs to another session: leave it alone


def decide(journaled: Backend, live: Backend | None) -> Decision:
    """What to do about a journaled lock session, given the backend that has its PID now."""
    if live is None or live.pid != journaled.pid:
        return Decision.GONE
    if live == journaled:
        return Decision.TERMINATE
    return Decision.NOT_OURS


class LockSession:
    """The fault's own connection: identify it, journal it, lock, hold, release."""

    def __init__(
        self, server: PgServer, application_name: str, mode: LockMode = LOCK_MODES[DEFAULT_MODE]
    ) -> None:
        self.server = server
        self.application_name = application_name
        self.mode = mode
        self._conn: psycopg.Connection[Any] | None = None
        self.backend: Backend | None = None
        self.locked_at_server: float | None = None  # clock_timestamp() once granted (epoch)

    def open(self, deadman_s: float) -> Backend:
        try:
            conn = psycopg.connect(
                self.server.conninfo(DATABASE),
                autocommit=True,
                application_name=self.application_name,
            )
        except psycopg.Error as exc:
            raise TargetError(
                f"cannot connect to {DATABASE} at {self.server.host}:{self.server.port} "
                f"as {self.server.user}: {_first_line(exc)}"
            ) from None
        self._conn = conn
        try:
            conn.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
                (str(int(deadman_s * 1000)),),
            )
            row = conn.execute(_OWN_IDENTITY_SQL).fetchone()
        except psycopg.Error as exc:
            self.close()
            raise TargetError(f"identifying the lock session failed: {_first_line(exc)}") from None
        if row is None:
            self.close()
            raise TargetError("the lock session is missing from pg_stat_activity")
        self.backend = Backend(int(row[0]), str(row[1]), int(row[2]))
        return self.backend

    def lock(self) -> float:
        """Take the lock; return the harness's time once it is granted."""
        conn = self._require()
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (str(ACQUIRE_TIMEOUT_MS),))
            conn.execute(f"LOCK TABLE {TABLE} IN {self.mode.sql} MODE")
            granted_at = time.time()
            conn.execute("SELECT set_config('lock_timeout', '0', true)")
            row = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        except psycopg.Error as exc:
            self.close()
            raise TargetError(
                f"LOCK TABLE {TABLE} IN {self.mode.sql} MODE failed: {_first_line(exc)}"
            ) from None
        self.locked_at_server = float(row[0]) if row else None
        return granted_at

    def evidence(self) -> dict[str, Any]:
        """Inside the lock's transaction: is it still granted, who waits on it, and how many rows
        were stored since it was granted (none can be). A TargetError if the session is gone."""
        conn = self._require()
        try:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND granted "
                "AND mode = %s AND relation = %s::regclass",
                (self.mode.pg, TABLE),
            ).fetchone()
            waiting = conn.execute(
                "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid)) GROUP BY 1 ORDER BY 1"
            ).fetchall()
            stored = conn.execute(
                f"SELECT count(*) FROM {TABLE} WHERE stored_at > to_timestamp(%s)",  # noqa: S608
                (self.locked_at_server or 0.0,),
            ).fetchone()
        except psycopg.Error as exc:
            raise TargetError(
                f"the lock session was lost during the hold: {_first_line(exc)}"
            ) from None
        return {
            "held": bool(held and held[0]),
            "blocked": {str(name): int(count) for name, count in waiting},
            "stored_during_hold": int(stored[0]) if stored else None,
        }

    def release(self) -> bool:
        """ROLLBACK (ends the transaction, frees the lock) and close; True if it was open."""
        conn, self._conn = self._conn, None
        if conn is None:
            return False
        try:
            if not conn.closed:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # a lost session holds nothing; closing is all that is left
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        return True

    close = release

    def _require(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            raise TargetError("the lock session is not open")
        return self._conn


def end_sessions(server: PgServer, sessions: Iterable[Backend], grace_s: float = 0.0) -> list[str]:
    """Make sure none of `sessions` still runs: each that is provably ours and has not exited
    within `grace_s` (a session just closed by its own run exits by itself) is terminated, and
    waited for until it is gone. Returns one line per session saying what was found and done."""
    sessions = list(sessions)
    if not sessions:
        return []
    try:
        conn = psycopg.connect(server.conninfo(DATABASE), autocommit=True)
    except psycopg.Error as exc:
        raise TargetError(
            f"cannot connect to {DATABASE} to check the lock session(s) "
            f"{', '.join(str(s.pid) for s in sessions)}: {_first_line(exc)}"
        ) from None
    with conn:
        return [_end_one(conn, session, grace_s) for session in sessions]


def _end_one(conn: psycopg.Connection[Any], session: Backend, grace_s: float) -> str:
    started = time.monotonic()
    terminated = False
    try:
        while True:
            decision = decide(session, _live(conn, session.pid))
            if decision is Decision.GONE:
                return f"{session.describe()}: {'terminated' if terminated else 'gone'}"
            if decision is Decision.NOT_OURS:
                return f"{session.describe()}: its PID now belongs to another session; left alone"
            waited = time.monotonic() - started
            if waited > grace_s + GONE_TIMEOUT_S:
                raise TargetError(
                    f"{session.describe()} still runs {GONE_TIMEOUT_S:g} s after "
                    "pg_terminate_backend"
                )
            if waited >= grace_s and not terminated:
                conn.execute(
                    _TERMINATE_SQL, (session.pid, session.application_name, session.started_us)
                )
                terminated = True
            time.sleep(POLL_S)
    except psycopg.Error as exc:
        raise TargetError(f"ending {session.describe()} failed: {_first_line(exc)}") from None


def _live(conn: psycopg.Connection[Any], pid: int) -> Backend | None:
    row = conn.execute(_IDENTITY_SQL, (pid,)).fetchone()
    if row is None:
        return None
    return Backend(int(row[0]), str(row[1] or ""), int(row[2]) if row[2] is not None else -1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
