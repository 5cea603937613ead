"""The restore step of pvc-wipe-restore: a new cluster, the verified dump, the application let in.

Why a module of its own: both the hold and the rollback (also in a `recover` after a crash)
restore, and they must do it the same way: reprovision and start through the volume, lock the
application role out, `pg_restore` into a scratch database, compare it with the backup's
fingerprint, and only then swap it in for `auditflow` and let the application in. A restore that
does not match is never put in place (it stays under its scratch name for inspection). Each step
is timed into `Findings.steps`, so a report shows where the RTO went.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drills import backup as backups
from drills.backup import Backup, PgServer
from drills.errors import TargetError
from drills.faults.base import FaultContext
from drills.faults.pvc_wipe_restore import sql
from drills.faults.pvc_wipe_restore.records import (
    J_RESTORE_DONE,
    J_RESTORE_INTENT,
    Findings,
    captured_of,
    journal_temp_files,
)
from drills.faults.redrive import missing_ids
from drills.targets.pg_volume import PgVolume

READY_TIMEOUT_S = 60.0
FIRST_WRITE_TIMEOUT_S = 90.0


def restore(
    ctx: FaultContext,
    volume: PgVolume,
    server: PgServer,
    backup: Backup,
    source: str,
    findings: Findings,
) -> None:
    """Bring the backup back in place of whatever the volume holds; raise if it differs."""
    ctx.journal.write(J_RESTORE_INTENT, backup=backup.path, source=source)
    dump = Path(backup.path)
    if not dump.is_file():
        raise TargetError(f"the backup file {dump} is missing; cannot restore")
    mark = time.time()
    journal_temp_files(ctx, volume)
    if volume.reprovision():
        ctx.emit("fault", {"step": "initdb"})
    findings.steps["reprovision"], mark = _lap(mark)
    volume.start()
    findings.accepting_at = volume.wait_accepting(READY_TIMEOUT_S)
    findings.steps["start"], mark = _lap(mark)
    sql.lock_out_app(server)
    volume.bootstrap()  # password and database; the role stays NOLOGIN until verified
    findings.steps["bootstrap"], mark = _lap(mark)
    # Into the scratch database; a failed pg_restore drops it and leaves `auditflow` as it was.
    findings.restore_seconds = backups.restore(volume.pg_restore, server, dump)
    findings.steps["pg_restore"], mark = _lap(mark)
    captured = captured_of(findings, backup)
    findings.captured = captured
    # Both read the scratch database, each on its own connection, at the same time.
    scratch = backups.SCRATCH_DATABASE
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        present_job = pool.submit(sql.present, server, captured, scratch)
        after = backups.fingerprint_of(server, scratch, backup.fingerprint.method)
        present = present_job.result()
    expected = backup.fingerprint
    findings.integrity_ok = after.matches(expected)
    findings.integrity_detail = f"restored {after.describe()}; backup {expected.describe()}"
    findings.steps["verify"], mark = _lap(mark)
    if findings.integrity_ok:
        backups.put_in_place(server)
        findings.missing = missing_ids(captured, present)
    else:  # never put in place: kept under its scratch name for inspection
        findings.integrity_detail += f"; not put in place (left as database {scratch})"
        findings.missing = captured
    sql.let_app_in(server)
    findings.restored_at = time.time()
    findings.steps["swap_and_let_in"], mark = _lap(mark)
    ctx.journal.write(
        J_RESTORE_DONE,
        at=findings.restored_at,
        source=source,
        restore_seconds=round(findings.restore_seconds, 3),
        integrity_ok=findings.integrity_ok,
        rows=after.rows,
        missing=len(findings.missing),
        steps={name: round(value, 3) for name, value in findings.steps.items()},
    )
    try:  # the database swapped out (empty, or what a redone restore replaced); after RTO
        backups.drop_replaced(server)
    except TargetError as exc:  # harmless: the next swap drops it
        findings.notes.append(str(exc))
    if not findings.integrity_ok:
        raise TargetError(f"restored database differs from the backup: {findings.integrity_detail}")


def first_write_after(
    ctx: FaultContext, server: PgServer, after: float, findings: Findings
) -> float | None:
    """When the analysis service stored its first event after the restore (server clock)."""
    deadline = time.monotonic() + FIRST_WRITE_TIMEOUT_S
    while time.monotonic() < deadline and not ctx.stop.is_set():
        first = sql.first_stored_after(server, after)
        if first is not None:
            return first
        ctx.stop.wait(0.2)
    findings.notes.append(
        f"no event was stored within {FIRST_WRITE_TIMEOUT_S:.0f} s of the restore"
    )
    return None


def _lap(mark: float) -> tuple[float, float]:
    """Seconds since `mark`, and the new mark (harness clock)."""
    now = time.time()
    return now - mark, now
