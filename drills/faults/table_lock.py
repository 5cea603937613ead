"""table-lock: hold `LOCK TABLE audit_events IN EXCLUSIVE MODE` — a silent stall — or, with
`mode: access-exclusive`, the lock a schema migration takes, which stops every read as well.

Why this fault exists: every other drill takes something *down*, and a "down" alert catches it.
A long-held lock on the events table (a migration, a stuck batch job, a forgotten `BEGIN` in a
psql session) leaves every process up, healthy and connected: the analysis service's INSERT
simply waits, its prefetch window fills, and the broker's queue grows. Only the backlog and
latency alerts can see it, and this fault proves whether they do.

EXCLUSIVE mode conflicts with the ROW EXCLUSIVE lock every INSERT/UPDATE/DELETE takes, and not
with the ACCESS SHARE of a plain SELECT: the dashboard keeps reading while nothing is stored.
ACCESS EXCLUSIVE (what `ALTER TABLE` takes, and holds until its transaction ends) conflicts with
that too: the dashboard's event reads wait until its 1 s deadline and its event API answers 503
while the page still renders with a banner — the migration-lock drill, DashboardErrorRate's.

What the analysis service does while blocked (measured on the sandbox): it sets no statement or
lock timeout (nor does the server), so its one INSERT waits, `Lock` in pg_stat_activity, for the
whole hold, and commits on release; its health and `dependency_up` stay 1. With a
`statement_timeout` of 5 s on its role, the INSERT is cancelled every 5 s (QueryCanceled,
57014), which the service files as "postgres unavailable": it drops the connection, reconnects
and retries the same unacknowledged batch — still 0 lost, 0 duplicated, but its logs and its
`dependency_up` then blame a reachable PostgreSQL.

Steps (DESIGN §4, §5):

* inject — open the harness's own session (superuser, on `auditflow`, over the target's admin
  DSN) named `genesis-drill lock <run id>`, journal its PID, application_name and start time
  (`lock_session.J_SESSION`) *before* taking the lock, then take it (waiting at most
  `ACQUIRE_TIMEOUT_MS` for in-flight writers). `t_inject` is when LOCK TABLE returned.
* hold — `duration_s` from the grant, then read the evidence inside the lock's transaction: the
  lock still granted, who waits on it, and the rows stored since the grant (none can be).
* rollback — ROLLBACK and close the session, then make sure no journaled lock session of this run
  still runs (`lock_session.end_sessions`): after a harness crash, `recover` has no connection
  and terminates the journaled backend — only if its PID, application_name and start time still
  match. Idempotent.
"""

from __future__ import annotations

import time
from typing import Any

from drills.backup import DATABASE, PgServer
from drills.errors import TargetError
from drills.faults import lock_session
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.lock_session import (
    ACQUIRE_TIMEOUT_MS,
    DEADMAN_MARGIN_S,
    J_HELD,
    J_RELEASED,
    J_SESSION,
    LOCK_MODES,
    TABLE,
    LockSession,
)

COMPONENT = "postgres"
WRITER = "audit-log-analysis"  # the application_name of the writer the stall must block
# A session closed by its own run exits within moments; only then is it terminated.
OWN_EXIT_GRACE_S = 5.0


class TableLock:
    kind = "table-lock"

    def __init__(self, duration_s: float, mode: str = "exclusive") -> None:
        self.duration_s = duration_s
        self.mode = LOCK_MODES[mode]
        self.session: LockSession | None = None
        self.evidence: dict[str, Any] | None = None
        self.evidence_error = ""
        self.released_at: float | None = None
        self.ended: list[str] = []

    def _server(self, ctx: FaultContext) -> PgServer:
        return PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())

    def plan(self, ctx: FaultContext) -> list[str]:
        name = lock_session.app_name(ctx.run_dir.name or "<run id>")
        return [
            f"open a session to {DATABASE} as the superuser (admin DSN), application_name "
            f"{name!r}; journal its backend PID",
            f"BEGIN; LOCK TABLE {TABLE} IN {self.mode.sql} MODE (waiting at most "
            f"{ACQUIRE_TIMEOUT_MS / 1000:g} s for in-flight writers): {self.mode.blocks}",
            f"hold it {self.duration_s:g} s; the server ends the session by itself if it is left "
            f"idle {self.duration_s + DEADMAN_MARGIN_S:g} s",
            "rollback: ROLLBACK and close the session; after a crash, terminate the journaled "
            "backend, only if its PID, application_name and start time still match",
        ]

    def preflight(self, ctx: FaultContext) -> list[str]:
        if not ctx.target.state(COMPONENT).ready:
            return [f"{COMPONENT} is not running and ready"]
        unready = lock_session.unreachable(self._server(ctx))
        return [] if unready is None else [unready + _reach_hint(ctx)]

    def inject(self, ctx: FaultContext) -> Injection:
        session = self.session = LockSession(
            self._server(ctx), lock_session.app_name(ctx.run_dir.name), self.mode
        )
        backend = session.open(deadman_s=self.duration_s + DEADMAN_MARGIN_S)
        ctx.journal.write(J_SESSION, **backend.as_record())
        at = session.lock()
        ctx.journal.write(J_HELD, at=at, pid=backend.pid)
        ctx.emit("fault", {"step": "locked", "pid": backend.pid, "table": TABLE})
        return Injection(
            at,
            f"harness clock: LOCK TABLE {TABLE} IN {self.mode.sql} MODE returned (lock granted)",
            {
                "table": TABLE,
                "mode": self.mode.sql,
                "pid": backend.pid,
                "application_name": backend.application_name,
                "duration_s": self.duration_s,
            },
        )

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        if ctx.stop.wait(max(0.0, injection.at + self.duration_s - time.time())):
            return
        if self.session is None:
            return
        try:
            self.evidence = self.session.evidence()
        except TargetError as exc:
            self.evidence_error = str(exc)

    def rollback(self, ctx: FaultContext) -> None:
        own = self.session is not None and self.session.release()
        if own and self.released_at is None:
            self.released_at = time.time()
        sessions = lock_session.journaled_sessions(ctx.journal.records())
        grace = OWN_EXIT_GRACE_S if own else 0.0
        self.ended = lock_session.end_sessions(self._server(ctx), sessions, grace)
        if sessions:
            ctx.journal.write(J_RELEASED, sessions=self.ended, own_connection=own)

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        return report(injection, self.duration_s, self.evidence, self.evidence_error, self)


def report(
    injection: Injection,
    duration_s: float,
    evidence: dict[str, Any] | None,
    evidence_error: str,
    fault: TableLock,
) -> FaultReport:
    """Figures and checks: the lock held for the whole hold, the writer blocked on it, nothing
    stored meanwhile, and no lock session left once rolled back."""
    released = fault.released_at
    held_s = round(released - injection.at, 3) if released is not None else None
    blocked = evidence["blocked"] if evidence else {}
    stored = evidence["stored_during_hold"] if evidence else None
    figures: dict[str, float | int | str | None] = {
        "lock_pid": injection.details.get("pid"),
        "held_seconds": held_s,
        "blocked_backends": sum(blocked.values()),
        "blocked_writer_sessions": blocked.get(WRITER, 0),
        "stored_during_hold": stored,
    }
    where = f"at the end of the {duration_s:g} s hold"
    checks = [
        Check(
            f"{TABLE} locked {fault.mode.sql} for the whole hold",
            bool(evidence and evidence["held"]),
            f"granted {where}" if evidence and evidence["held"] else evidence_error or "not held",
        ),
        Check(
            f"{WRITER}'s writes waited on the lock",
            blocked.get(WRITER, 0) > 0,
            f"{where}: waiting {blocked or 'nobody'}",
        ),
        Check(
            "nothing stored while the lock was held",
            stored == 0,
            f"{stored} row(s) stored after the grant" if stored is not None else "not measured",
        ),
        Check(
            "no lock session left after rollback",
            bool(fault.ended) and all("left alone" not in line for line in fault.ended),
            "; ".join(fault.ended) or "no lock session was journaled",
        ),
    ]
    return FaultReport(figures=figures, checks=tuple(checks), ready_at=released)


def _reach_hint(ctx: FaultContext) -> str:
    """On Kubernetes the harness reaches PostgreSQL through a port-forward or in-cluster DNS."""
    if ctx.target.name != "kubernetes":
        return ""
    return (
        " (the harness needs SQL access to the cluster's PostgreSQL: run it in the cluster, "
        "start the port-forward `genesis-drill run --dry-run --target kubernetes` lists, or set "
        "GENESIS_K8S_PG_ADMIN_DSN)"
    )
