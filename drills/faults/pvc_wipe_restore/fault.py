"""The pvc-wipe-restore fault's lifecycle: plan, preflight, inject, hold, rollback, verify.

Why this module is short: each phase says what it does in order and hands the work to the module
named after it — the SQL (`sql`), the restore (`restore`), the re-drive of the gap
(`redrive_gap`), the rollback (`rollback`), the report (`verify`) — and everything that touches
the server's storage goes through the target's `PgVolume` capability.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

from drills import backup as backups
from drills.backup import DATABASE, PgServer
from drills.errors import GenesisError, Interrupted, TargetError
from drills.faults.base import FaultContext, FaultReport, Injection
from drills.faults.pvc_wipe_restore import sql
from drills.faults.pvc_wipe_restore.records import (
    BACKUP_DIR,
    CAPTURED_NAME,
    COMPONENT,
    DUMP_NAME,
    J_BACKUP,
    J_WIPE_DONE,
    J_WIPE_INTENT,
    Findings,
    backup_of,
    journal_temp_files,
)
from drills.faults.pvc_wipe_restore.redrive_gap import redrive_missing
from drills.faults.pvc_wipe_restore.restore import first_write_after, restore
from drills.faults.pvc_wipe_restore.rollback import roll_back
from drills.faults.pvc_wipe_restore.verify import verify
from drills.faults.refusal_watch import RefusalWatch
from drills.targets.pg_volume import EarlyReprovision, PgVolume, pg_volume_of

# Simulated volume re-provisioning time; also long enough for PostgresDown (`for: 5s`) to fire.
DOWNTIME_FLOOR_S = 10.0
# Rows stored this long before the backup started are captured too: a batch's stored_at is taken
# before its commit, so a row committed just after the dump's snapshot may carry an earlier time.
CAPTURE_MARGIN_S = 60.0
# After the halt returns, how long the refusal watch may still take to see the closed port.
REFUSAL_WAIT_S = 2.0


def volume_for(ctx: FaultContext) -> PgVolume:
    """The run's target's volume (a TargetError when the target cannot lend one)."""
    return pg_volume_of(ctx.target)


class PvcWipeRestore:
    kind = "pvc-wipe-restore"

    def __init__(self, events_after_backup_s: float, redrive: bool) -> None:
        self.events_after_backup_s = events_after_backup_s
        self.redrive = redrive
        self.findings = Findings()

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
        for name, path in (("pg_dump", volume.pg_dump), ("pg_restore", volume.pg_restore)):
            if not Path(path).exists():
                reasons.append(f"{name} is missing ({path}); install postgresql-client-15")
        if not ctx.target.state(COMPONENT).ready:
            reasons.append("postgres is not running and ready")
            return reasons
        unready = sql.missing_table(PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal()))
        if unready is not None:
            reasons.append(unready)
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
        self.findings.backup = taken
        ctx.journal.write(J_BACKUP, **taken.as_record())

        if ctx.stop.wait(self.events_after_backup_s):
            raise Interrupted("stopped after the backup, before the wipe: nothing was wiped")

        ctx.journal.write(
            J_WIPE_INTENT, data=volume.describe(), backup=taken.path, component=COMPONENT
        )
        since = taken.started_at - CAPTURE_MARGIN_S
        # The fault takes effect when PostgreSQL stops accepting connections (the halt), seconds
        # before the wipe completes: that refusal is t_inject (DESIGN.md §4).
        with RefusalWatch(server.host, server.port) as watch:
            captured = sql.fence_capture_and_halt(server, since, volume.halt)
            refused_at = watch.wait(REFUSAL_WAIT_S)
        self.findings.captured = captured
        captured_file = ctx.run_dir / BACKUP_DIR / CAPTURED_NAME
        captured_file.write_text("".join(f"{i}\n" for i in sorted(captured)))
        removed = volume.wipe()
        wiped_at = time.time()
        at = min(refused_at, wiped_at) if refused_at is not None else wiped_at
        source = (
            watch.describe()
            if refused_at is not None
            else "harness clock: data directory wipe completed (the port never refused a probe)"
        )
        ctx.journal.write(
            J_WIPE_DONE, at=at, wiped_at=wiped_at, removed_entries=removed, captured=len(captured)
        )
        ctx.emit("fault", {"step": "wiped", "removed_entries": removed})
        return Injection(
            at,
            source,
            {
                "wipe_completed_after_s": round(wiped_at - at, 3),
                "backup": taken.path,
                "backup_rows": taken.fingerprint.rows,
                "captured_since": datetime.fromtimestamp(since, UTC).isoformat(),
                "captured_events": len(captured),
                "removed_entries": removed,
                "downtime_floor_s": DOWNTIME_FLOOR_S,
            },
        )

    # --- hold: downtime, restore, first write, re-drive ----------------------------------------

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        volume = volume_for(ctx)
        # A target that can build the new cluster while the volume is "re-provisioned" starts it
        # now (initdb on the local sandbox); the server itself stays down for the whole floor.
        early = volume if isinstance(volume, EarlyReprovision) else None
        if early is not None:
            journal_temp_files(ctx, volume)
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
        backup = backup_of(self.findings, ctx.journal)
        if backup is None:
            raise TargetError("no backup recorded in the journal; cannot restore")
        restore(ctx, volume, server, backup, "hold", self.findings)
        if ctx.stop.is_set():
            return
        self.findings.first_write_at = first_write_after(
            ctx, server, self.findings.restored_at or time.time(), self.findings
        )
        if self.redrive and not ctx.stop.is_set():
            redrive_missing(ctx, server, self.findings, source="hold")

    # --- rollback, verify --------------------------------------------------------------------

    def rollback(self, ctx: FaultContext) -> None:
        try:
            volume = volume_for(ctx)
        except TargetError:
            return  # nothing can have been injected on a target this fault refuses
        roll_back(ctx, volume, self.findings, self.redrive)

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        return verify(ctx, injection, self.findings, self.redrive, DOWNTIME_FLOOR_S)
