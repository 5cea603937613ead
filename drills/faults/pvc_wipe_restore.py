"""pvc-wipe-restore: lose PostgreSQL's volume, restore the latest verified backup, re-drive the gap.

Why this drill exists: a backup nobody has restored is a hope, not a backup. The drill proves three
things with numbers: that the backup restores to exactly what it held (row count and an md5 over
the sorted event ids, computed inside the dump's own snapshot), how long the platform cannot write
(RTO: wipe → first event stored after the restore), and how much committed data the backup misses
(RPO: events committed before the wipe and absent after the restore) — and that the broker's
archive stream closes that gap so that, in the end, nothing is lost.

Steps (DESIGN §4, §5):

* inject — take and verify a `pg_dump -Fc` backup into `<run_dir>/backup/`, let load run
  `events_after_backup_s` so that events are committed after it, then fence writers for a moment
  (`LOCK TABLE ... IN SHARE MODE`) to capture exactly which events were committed after the
  backup, halt PostgreSQL abruptly while the fence holds (nothing can commit after the capture),
  and delete the data directory's contents. `t_inject` is when the wipe completed.
* hold — keep PostgreSQL down for `DOWNTIME_FLOOR_S` (the time a volume takes to be re-provisioned;
  it also lets `PostgresDown`, `for: 5s`, fire; on the local sandbox the empty cluster is
  initialised meanwhile, the server stays down), start it, restore the dump while the application
  role cannot log in (so the analysis service cannot create an empty table under the restore):
  `pg_restore` into a scratch database, compared with the backup's fingerprint and only then
  swapped in for `auditflow` (drills.backup), let the application in, measure the first
  write, and re-drive the missing events from the `auditflow.archive` stream.
* rollback — idempotent, driven by the journal so it also works after a harness crash: a missing
  cluster is initialised, a stopped server started, an unfinished restore redone from the backup
  file (which is never deleted), and the application role let in again.

The steps a target must offer are the `PgVolume` capability of the targets layer
(`drills.targets.pg_volume`); the fault never learns which backend it drives — the supervisord
sandbox's data directory, or Kubernetes's StatefulSet and PVC (scale to 0, delete and recreate the
PVC, scale up).
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from drills import backup as backups
from drills.backup import APP_ROLE, DATABASE, Backup, PgServer
from drills.errors import GenesisError, Interrupted, RollbackFailed, TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.redrive import RedriveResult, missing_ids, redrive
from drills.journal import Journal
from drills.targets.pg_volume import EarlyReprovision, PgVolume, pg_volume_of

COMPONENT = "postgres"
# Simulated volume re-provisioning time; also long enough for PostgresDown (`for: 5s`) to fire.
DOWNTIME_FLOOR_S = 10.0
READY_TIMEOUT_S = 60.0
FIRST_WRITE_TIMEOUT_S = 90.0
STORED_TIMEOUT_S = 120.0
FENCE_LOCK_TIMEOUT = "5s"
# Rows stored this long before the backup started are captured too: a batch's stored_at is taken
# before its commit, so a row committed just after the dump's snapshot may carry an earlier time.
CAPTURE_MARGIN_S = 60.0
# The archive is read from this long before the backup (a stream timestamp offset is per chunk).
STREAM_SAFETY_S = 30.0
BACKUP_DIR = "backup"
DUMP_NAME = "auditflow.dump"
CAPTURED_NAME = "committed-before-wipe.txt"

# Journal records written by this fault.
J_BACKUP = "backup"
J_WIPE_INTENT = "wipe-intent"
J_WIPE_DONE = "wipe-done"
J_RESTORE_INTENT = "restore-intent"
J_RESTORE_DONE = "restore-done"
J_REDRIVE = "redrive"


def _journal_temp_files(ctx: FaultContext, volume: PgVolume) -> None:
    """Journal what a reprovision may write before it may write it (so `recover` removes it)."""
    for path in volume.temp_files():
        ctx.temp_file(path)


def volume_for(ctx: FaultContext) -> PgVolume:
    return pg_volume_of(ctx.target)


@dataclass(frozen=True)
class RollbackPlan:
    """What rollback must do, decided from the journal and what it finds (pure, unit-tested)."""

    reprovision: bool
    start: bool
    restore: bool
    let_app_in: bool
    redrive: bool


def plan_rollback(
    *,
    wiped: bool,
    restored: bool,
    redriven: bool,
    redrive_enabled: bool,
    initialised: bool,
    running: bool,
) -> RollbackPlan:
    """Undo whatever part of the fault is still in effect, and nothing more.

    A data directory without its PG_VERSION marker counts as wiped even when the journal has no
    `wipe-done` (the harness died mid-wipe: the wipe removes the marker first).
    """
    wiped = wiped or not initialised
    return RollbackPlan(
        reprovision=not initialised,
        start=not running or not initialised,
        restore=wiped and not restored,
        let_app_in=wiped,
        redrive=wiped and redrive_enabled and not redriven,
    )


@dataclass
class Outcome:
    """What the fault measured, filled in as it goes (so verify can report partial runs)."""

    backup: Backup | None = None
    captured: frozenset[str] = frozenset()
    accepting_at: float | None = None
    restore_seconds: float | None = None
    restored_at: float | None = None  # the application could log in again
    integrity_ok: bool | None = None
    integrity_detail: str = "no restore happened"
    missing: frozenset[str] = frozenset()
    first_write_at: float | None = None
    redrive: RedriveResult | None = None
    rpo_after: int | None = None
    # Seconds per restore step (harness clock): reprovision, start, bootstrap, pg_restore,
    # verify, swap_and_let_in.
    steps: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class PvcWipeRestore:
    kind = "pvc-wipe-restore"

    def __init__(self, events_after_backup_s: float, redrive: bool) -> None:
        self.events_after_backup_s = events_after_backup_s
        self.redrive = redrive
        self.outcome = Outcome()

    # --- plan / preflight -------------------------------------------------------------------

    def plan(self, ctx: FaultContext) -> list[str]:
        dump = ctx.run_dir / BACKUP_DIR / DUMP_NAME
        return [
            f"back up database {DATABASE} with pg_dump -Fc to {dump} and verify it "
            "(pg_restore --list, row count and md5 of event ids in the dump's snapshot)",
            f"let load run {self.events_after_backup_s:g} s "
            "so that events are committed after the backup",
            "fence writers briefly, record the events committed after the backup, halt PostgreSQL "
            "(immediate shutdown) and delete its data directory contents on "
            f"{ctx.target.describe()}",
            f"keep PostgreSQL down {DOWNTIME_FLOOR_S:g} s (simulated volume re-provisioning), "
            "initdb, start, restore the dump with the application role locked out, compare",
            "let the application in; measure RTO (wipe → first stored event) and RPO",
            (
                "re-drive the missing events from the RabbitMQ stream auditflow.archive"
                if self.redrive
                else "no re-drive (redrive: false): missing events stay missing"
            ),
            "rollback: initdb/start/restore from the backup file if the restore did not finish",
        ]

    def preflight(self, ctx: FaultContext) -> list[str]:
        reasons: list[str] = []
        try:
            volume = volume_for(ctx)
        except GenesisError as exc:
            return [str(exc)]
        for name in ("pg_dump", "pg_restore"):
            path = getattr(volume, name)
            if not Path(path).exists():
                reasons.append(f"{name} is missing ({path}); install postgresql-client-15")
        if not ctx.target.state(COMPONENT).ready:
            reasons.append("postgres is not running and ready")
            return reasons
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        try:
            with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
                if conn.execute("SELECT to_regclass('public.audit_events')").fetchone() == (None,):
                    reasons.append("database auditflow has no audit_events table yet")
        except psycopg.Error as exc:
            reasons.append(f"cannot read database {DATABASE}: {str(exc).strip()[:200]}")
        if volume.contains(ctx.run_dir):
            reasons.append("the run directory is inside the data directory that would be wiped")
        return reasons

    # --- inject ----------------------------------------------------------------------------

    def inject(self, ctx: FaultContext) -> Injection:
        volume = volume_for(ctx)
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        dump = ctx.run_dir / BACKUP_DIR / DUMP_NAME
        ctx.emit("fault", {"step": "backup", "path": str(dump)})
        taken = backups.take(volume.pg_dump, volume.pg_restore, server, dump)
        self.outcome.backup = taken
        ctx.journal.write(J_BACKUP, **taken.as_record())

        if ctx.stop.wait(self.events_after_backup_s):
            raise Interrupted("stopped after the backup, before the wipe: nothing was wiped")

        ctx.journal.write(
            J_WIPE_INTENT, data=volume.describe(), backup=taken.path, component=COMPONENT
        )
        since = taken.started_at - CAPTURE_MARGIN_S
        captured = self._fence_capture_and_halt(volume, server, since)
        self.outcome.captured = captured
        captured_file = ctx.run_dir / BACKUP_DIR / CAPTURED_NAME
        captured_file.write_text("".join(f"{i}\n" for i in sorted(captured)))
        removed = volume.wipe()
        at = time.time()
        ctx.journal.write(J_WIPE_DONE, at=at, removed_entries=removed, captured=len(captured))
        ctx.emit("fault", {"step": "wiped", "removed_entries": removed})
        return Injection(
            at,
            "harness clock: data directory wipe completed",
            {
                "backup": taken.path,
                "backup_rows": taken.fingerprint.rows,
                "captured_since": datetime.fromtimestamp(since, UTC).isoformat(),
                "captured_events": len(captured),
                "removed_entries": removed,
                "downtime_floor_s": DOWNTIME_FLOOR_S,
            },
        )

    def _fence_capture_and_halt(
        self, volume: PgVolume, server: PgServer, since: float
    ) -> frozenset[str]:
        """Capture the event ids stored since `since` while no writer can commit, then halt.

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
            volume.halt()
        except psycopg.Error as exc:
            raise TargetError(f"fencing writers before the wipe failed: {exc}") from exc
        finally:
            with contextlib.suppress(psycopg.Error):  # the server is gone, as intended
                conn.close()
        return captured

    # --- hold: downtime, restore, first write, re-drive ----------------------------------------

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        volume = volume_for(ctx)
        # A target that can build the new cluster while the volume is "re-provisioned" starts it
        # now (initdb on the local sandbox); the server itself stays down for the whole floor.
        early = volume if isinstance(volume, EarlyReprovision) else None
        if early is not None:
            _journal_temp_files(ctx, volume)
            early.begin_reprovision()
        try:
            self._hold(ctx, injection, volume)
        finally:
            if early is not None:
                with contextlib.suppress(GenesisError):  # rollback initialises what is missing
                    early.settle_reprovision()

    def _hold(self, ctx: FaultContext, injection: Injection, volume: PgVolume) -> None:
        if ctx.stop.wait(max(0.0, injection.at + DOWNTIME_FLOOR_S - time.time())):
            return
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        backup = self.outcome.backup or _journaled_backup(ctx.journal)
        if backup is None:
            raise TargetError("no backup recorded in the journal; cannot restore")
        self._restore(ctx, volume, server, backup, source="hold")
        if ctx.stop.is_set():
            return
        self.outcome.first_write_at = self._first_write_after(
            server, self.outcome.restored_at or time.time(), ctx
        )
        if self.redrive and not ctx.stop.is_set():
            self._redrive_missing(ctx, server, source="hold")

    def _restore(
        self,
        ctx: FaultContext,
        volume: PgVolume,
        server: PgServer,
        backup: Backup,
        source: str,
    ) -> None:
        ctx.journal.write(J_RESTORE_INTENT, backup=backup.path, source=source)
        dump = Path(backup.path)
        if not dump.is_file():
            raise TargetError(f"the backup file {dump} is missing; cannot restore")
        outcome = self.outcome
        mark = time.time()
        _journal_temp_files(ctx, volume)
        if volume.reprovision():
            ctx.emit("fault", {"step": "initdb"})
        outcome.steps["reprovision"], mark = _lap(mark)
        volume.start()
        outcome.accepting_at = volume.wait_accepting(READY_TIMEOUT_S)
        outcome.steps["start"], mark = _lap(mark)
        _lock_out_app(server)
        volume.bootstrap()  # password and database; the role stays NOLOGIN until verified
        outcome.steps["bootstrap"], mark = _lap(mark)
        # Into the scratch database; a failed pg_restore drops it and leaves `auditflow` as it was.
        outcome.restore_seconds = backups.restore(volume.pg_restore, server, dump)
        outcome.steps["pg_restore"], mark = _lap(mark)
        captured = outcome.captured or _read_captured(dump.parent / CAPTURED_NAME)
        outcome.captured = captured
        # Both read the scratch database, each on its own connection, at the same time.
        scratch = backups.SCRATCH_DATABASE
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
            present_job = pool.submit(_present, server, captured, scratch)
            after = backups.fingerprint_of(server, scratch, backup.fingerprint.method)
            present = present_job.result()
        expected = backup.fingerprint
        outcome.integrity_ok = after.matches(expected)
        outcome.integrity_detail = f"restored {after.describe()}; backup {expected.describe()}"
        outcome.steps["verify"], mark = _lap(mark)
        if outcome.integrity_ok:
            backups.put_in_place(server)
            outcome.missing = missing_ids(captured, present)
        else:  # never put in place: kept under its scratch name for inspection
            outcome.integrity_detail += f"; not put in place (left as database {scratch})"
            outcome.missing = captured
        _let_app_in(server)
        outcome.restored_at = time.time()
        outcome.steps["swap_and_let_in"], mark = _lap(mark)
        ctx.journal.write(
            J_RESTORE_DONE,
            at=outcome.restored_at,
            source=source,
            restore_seconds=round(outcome.restore_seconds, 3),
            integrity_ok=outcome.integrity_ok,
            rows=after.rows,
            missing=len(outcome.missing),
            steps={name: round(value, 3) for name, value in outcome.steps.items()},
        )
        try:  # the database swapped out (empty, or what a redone restore replaced); after RTO
            backups.drop_replaced(server)
        except TargetError as exc:  # harmless: the next swap drops it
            outcome.notes.append(str(exc))
        if not outcome.integrity_ok:
            raise TargetError(
                f"restored database differs from the backup: {outcome.integrity_detail}"
            )

    def _first_write_after(self, server: PgServer, after: float, ctx: FaultContext) -> float | None:
        """When the analysis service stored its first event after the restore (server clock)."""
        deadline = time.monotonic() + FIRST_WRITE_TIMEOUT_S
        while time.monotonic() < deadline and not ctx.stop.is_set():
            try:
                with psycopg.connect(server.conninfo(DATABASE), autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT extract(epoch FROM min(stored_at)) FROM audit_events "
                        "WHERE stored_at > to_timestamp(%s)",
                        (after,),
                    ).fetchone()
            except psycopg.Error as exc:
                raise TargetError(f"polling for the first write after restore: {exc}") from exc
            if row and row[0] is not None:
                return float(row[0])
            ctx.stop.wait(0.2)
        self.outcome.notes.append(
            f"no event was stored within {FIRST_WRITE_TIMEOUT_S:.0f} s of the restore"
        )
        return None

    # --- rollback ------------------------------------------------------------------------------

    def rollback(self, ctx: FaultContext) -> None:
        try:
            volume = volume_for(ctx)
        except TargetError:
            return  # nothing can have been injected on a target this fault refuses
        names = [str(r.get("event")) for r in ctx.journal.records()]
        last_wipe = _last(names, J_WIPE_DONE)
        last_restore = _last(names, J_RESTORE_DONE)
        try:
            plan = plan_rollback(
                wiped=last_wipe >= 0,
                restored=last_restore > last_wipe,
                redriven=_last(names, J_REDRIVE) > max(last_restore, last_wipe),
                redrive_enabled=self.redrive,
                initialised=volume.initialised(),
                running=volume.running(),
            )
            server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
            if plan.restore:
                self._restore_in_rollback(ctx, volume, server)
            elif plan.reprovision or plan.start or plan.let_app_in:
                if plan.reprovision:
                    _journal_temp_files(ctx, volume)
                    volume.reprovision()
                if plan.start:
                    volume.start()
                volume.wait_accepting(READY_TIMEOUT_S)
                if plan.let_app_in:
                    volume.bootstrap()
                    _let_app_in(server)
        except RollbackFailed:
            raise
        except GenesisError as exc:
            raise RollbackFailed(f"pvc-wipe-restore rollback failed: {exc}") from exc
        if plan.redrive:
            try:
                self._redrive_missing(ctx, server, source="rollback")
            except GenesisError as exc:  # the platform runs; the ledger will show what is lost
                self.outcome.notes.append(f"re-drive during rollback failed: {exc}")
                ctx.journal.write("redrive-error", error=str(exc)[:300], source="rollback")

    def _restore_in_rollback(self, ctx: FaultContext, volume: PgVolume, server: PgServer) -> None:
        backup = self.outcome.backup or _journaled_backup(ctx.journal)
        if backup is None or not Path(backup.path).is_file():
            _journal_temp_files(ctx, volume)
            volume.reprovision()
            volume.start()
            volume.wait_accepting(READY_TIMEOUT_S)
            volume.bootstrap()
            raise RollbackFailed(
                "PostgreSQL was wiped and no backup file is recorded or present: "
                "it runs again, empty"
            )
        try:
            self._restore(ctx, volume, server, backup, "rollback")
        except GenesisError as exc:
            _let_app_in_quietly(server)
            raise RollbackFailed(
                f"PostgreSQL was wiped and restoring {backup.path} failed: {exc}"
            ) from exc

    def _redrive_missing(self, ctx: FaultContext, server: PgServer, source: str) -> None:
        """Re-drive the events committed before the wipe that the restore did not bring back."""
        backup = self.outcome.backup or _journaled_backup(ctx.journal)
        if backup is None:
            raise TargetError("no backup recorded in the journal: the re-drive offset is unknown")
        captured = self.outcome.captured or _read_captured(Path(backup.path).parent / CAPTURED_NAME)
        missing = missing_ids(captured, _present(server, captured))
        if not missing:
            return
        wipe_at = _journaled_wipe_at(ctx.journal) or time.time()
        offset = datetime.fromtimestamp(backup.started_at - STREAM_SAFETY_S, UTC)
        ctx.emit("fault", {"step": "redrive", "missing": len(missing), "source": source})
        result = redrive(ctx.endpoints.amqp_url.reveal(), missing, offset, wipe_at)
        self.outcome.redrive = result
        ctx.journal.write(
            J_REDRIVE,
            source=source,
            offset=result.offset,
            scanned=result.scanned,
            redriven=result.redriven,
            not_found=result.not_found,
            stopped_because=result.stopped_because,
        )

    # --- verify --------------------------------------------------------------------------------

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        outcome = self.outcome
        still = outcome.missing
        if outcome.restored_at is not None and still:
            deadline = time.monotonic() + STORED_TIMEOUT_S
            while still and time.monotonic() < deadline and not ctx.stop.is_set():
                still = missing_ids(still, _present(server, still))
                if still:
                    ctx.stop.wait(0.5)
        outcome.rpo_after = len(still) if outcome.restored_at is not None else None
        backup = outcome.backup
        rto = (
            round(outcome.first_write_at - injection.at, 3)
            if outcome.first_write_at is not None
            else None
        )
        redriven = outcome.redrive
        figures: dict[str, float | int | str | None] = {
            "backup_rows": backup.fingerprint.rows if backup else None,
            "backup_bytes": backup.bytes if backup else None,
            "backup_seconds": round(backup.completed_at - backup.started_at, 3) if backup else None,
            "backup_age_at_wipe_s": round(injection.at - backup.completed_at, 3)
            if backup
            else None,
            "downtime_floor_s": DOWNTIME_FLOOR_S,
            "accepting_seconds": round(outcome.accepting_at - injection.at, 3)
            if outcome.accepting_at
            else None,
            "restore_seconds": round(outcome.restore_seconds, 3)
            if outcome.restore_seconds is not None
            else None,
            # Where the RTO goes: the restore's steps, then the application's first write.
            **{f"step_{name}_s": round(value, 3) for name, value in outcome.steps.items()},
            "app_let_in_s": round(outcome.restored_at - injection.at, 3)
            if outcome.restored_at is not None
            else None,
            "first_write_after_let_in_s": round(outcome.first_write_at - outcome.restored_at, 3)
            if outcome.first_write_at is not None and outcome.restored_at is not None
            else None,
            "rto_seconds": rto,
            "rto_source": "wipe (harness clock) → min(stored_at) after restore (PostgreSQL clock)",
            "integrity_ok": outcome.integrity_ok,
            "captured_before_wipe": len(outcome.captured),  # stored since backup - margin
            "rpo_before_redrive": len(outcome.missing) if outcome.restored_at else None,
            "rpo_after_redrive": outcome.rpo_after,
            "redriven": redriven.redriven if redriven else 0,
            "redrive_scanned": redriven.scanned if redriven else 0,
            "redrive_seconds": redriven.seconds if redriven else None,
            "redrive_source": (
                f"rabbitmq stream auditflow.archive from offset {redriven.offset} "
                f"(stopped: {redriven.stopped_because})"
                if redriven
                else ("disabled" if not self.redrive else "nothing to re-drive")
            ),
            "notes": "; ".join(outcome.notes) or None,
        }
        checks = (
            Check(
                "backup verified",
                backup is not None and backup.entries > 0,
                f"pg_restore --list read {backup.entries} entries; {backup.fingerprint.rows} rows"
                if backup
                else "no backup was taken",
            ),
            Check(
                "restore matches the backup", bool(outcome.integrity_ok), outcome.integrity_detail
            ),
            Check(
                "no committed event lost after re-drive",
                outcome.rpo_after == 0,
                f"{len(outcome.missing)} missing after restore, {outcome.rpo_after} after re-drive",
            ),
        )
        return FaultReport(figures=figures, checks=checks, ready_at=outcome.restored_at)


# --- SQL helpers -------------------------------------------------------------------------------


def _admin(server: PgServer, dbname: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(server.conninfo(dbname), autocommit=True)
    except psycopg.Error as exc:
        raise TargetError(f"cannot connect to {dbname} as {server.user}: {exc}") from exc


def _lap(mark: float) -> tuple[float, float]:
    """Seconds since `mark`, and the new mark (harness clock)."""
    now = time.time()
    return now - mark, now


def _lock_out_app(server: PgServer) -> None:
    """Make sure the application role exists but cannot log in, and holds no session.

    A session it still holds (a restore redone by the rollback) would otherwise go on writing
    into the database that the restored one is about to replace.
    """
    try:
        with _admin(server, "postgres") as conn:
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


def _let_app_in(server: PgServer) -> None:
    try:
        with _admin(server, "postgres") as conn:
            conn.execute(f"ALTER ROLE {APP_ROLE} LOGIN")
    except psycopg.Error as exc:
        raise TargetError(f"letting the application role log in failed: {exc}") from exc


def _let_app_in_quietly(server: PgServer) -> None:
    """Best effort, on a failed rollback: an empty database that works beats a locked one."""
    with contextlib.suppress(TargetError):
        _let_app_in(server)


def _present(server: PgServer, ids: frozenset[str], dbname: str = DATABASE) -> set[str]:
    if not ids:
        return set()
    try:
        with _admin(server, dbname) as conn:
            rows = conn.execute(
                "SELECT event_id::text FROM audit_events WHERE event_id = ANY(%s::uuid[])",
                (sorted(ids),),
            ).fetchall()
    except psycopg.Error as exc:
        raise TargetError(f"checking which events are present failed: {exc}") from exc
    return {str(row[0]) for row in rows}


def _last(names: list[str], event: str) -> int:
    """Index of the last journal record named `event`, -1 when there is none."""
    return max((i for i, name in enumerate(names) if name == event), default=-1)


def _journaled_wipe_at(journal: Journal) -> float | None:
    for record in reversed(journal.records()):
        if record.get("event") == J_WIPE_DONE and record.get("at") is not None:
            return float(record["at"])
    return None


def _journaled_backup(journal: Journal) -> Backup | None:
    for record in reversed(journal.records()):
        if record.get("event") == J_BACKUP:
            return Backup.from_record(record)
    return None


def _read_captured(path: Path) -> frozenset[str]:
    try:
        return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())
    except OSError:
        return frozenset()
