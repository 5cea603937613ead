"""What pvc-wipe-restore reports: the backup, RTO and RPO figures and the three checks.

Why its own module: the figures are the drill's evidence (DESIGN §4) — a verified backup, the time
the platform could not write (RTO: the wipe → the first event stored after the restore, with the
restore's steps that make it up), and the committed events the restore missed (RPO), before and
after the re-drive. Built from `Findings` alone once the last missing events had their chance to
be stored, so a partial run still reports what it measured.
"""

from __future__ import annotations

import time

from drills.backup import PgServer
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.pvc_wipe_restore import sql
from drills.faults.pvc_wipe_restore.records import Findings
from drills.faults.redrive import missing_ids

STORED_TIMEOUT_S = 120.0


def verify(
    ctx: FaultContext,
    injection: Injection,
    findings: Findings,
    redrive_enabled: bool,
    downtime_floor_s: float,
) -> FaultReport:
    """Wait for re-driven events to be stored, then report figures and checks.

    The data is complete again — the moment recovery can be declared — when the last event the
    restore had missed was stored again (PostgreSQL's `stored_at`), or at the restore when it
    missed none; never while a committed event is still absent.
    """
    complete_at, complete_source, incomplete = None, "", ""
    if findings.restored_at is not None:
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        # Without a re-drive nothing will bring the missing events back: no point waiting.
        wait_s = STORED_TIMEOUT_S if redrive_enabled else 0.0
        still = _still_missing(ctx, server, findings.missing, wait_s)
        findings.rpo_after = len(still)
        if still:
            incomplete = (
                f"{len(still)} of {len(findings.missing)} events committed before the wipe are "
                + (
                    f"still missing {wait_s:g} s after the re-drive"
                    if redrive_enabled
                    else "missing (re-drive disabled)"
                )
            )
        elif findings.missing:
            complete_at = sql.last_stored_at(server, findings.missing)
            complete_source = "psql: max(stored_at) of the events the restore had missed"
        else:
            complete_at = findings.restored_at
            complete_source = "harness clock: the restore brought back every committed event"
    else:
        findings.rpo_after = None
        incomplete = "the database was never restored"
    return FaultReport(
        figures=figures(findings, injection, redrive_enabled, downtime_floor_s),
        checks=checks(findings),
        ready_at=findings.restored_at,
        complete_at=complete_at,
        complete_source=complete_source,
        incomplete=incomplete,
    )


def _still_missing(
    ctx: FaultContext, server: PgServer, missing: frozenset[str], wait_s: float
) -> frozenset[str]:
    """The missing events not stored within `wait_s` (the re-drive is asynchronous)."""
    still = missing_ids(missing, sql.present(server, missing))
    deadline = time.monotonic() + wait_s
    while still and time.monotonic() < deadline and not ctx.stop.is_set():
        ctx.stop.wait(0.5)
        still = missing_ids(still, sql.present(server, still))
    return still


def figures(
    found: Findings, injection: Injection, redrive_enabled: bool, downtime_floor_s: float
) -> dict[str, float | int | str | None]:
    """The measured figures, seconds relative to the fault taking effect (`injection.at`: the
    first refused connection when the probe saw one, else the wipe's end)."""
    backup, redriven, at = found.backup, found.redrive, injection.at
    restored_at, first_write = found.restored_at, found.first_write_at
    return {
        "backup_rows": backup.fingerprint.rows if backup else None,
        "backup_bytes": backup.bytes if backup else None,
        "backup_seconds": round(backup.completed_at - backup.started_at, 3) if backup else None,
        "backup_age_at_wipe_s": round(at - backup.completed_at, 3) if backup else None,
        "downtime_floor_s": downtime_floor_s,
        "accepting_seconds": round(found.accepting_at - at, 3) if found.accepting_at else None,
        "restore_seconds": round(found.restore_seconds, 3)
        if found.restore_seconds is not None
        else None,
        # Where the RTO goes: the restore's steps, then the application's first write.
        **{f"step_{name}_s": round(value, 3) for name, value in found.steps.items()},
        "app_let_in_s": round(restored_at - at, 3) if restored_at is not None else None,
        "first_write_after_let_in_s": round(first_write - restored_at, 3)
        if first_write is not None and restored_at is not None
        else None,
        "rto_seconds": round(first_write - at, 3) if first_write is not None else None,
        "rto_source": f"fault in effect ({injection.source}) → min(stored_at) after restore "
        "(PostgreSQL clock)",
        "integrity_ok": found.integrity_ok,
        "captured_before_wipe": len(found.captured),  # stored since backup - margin
        "rpo_before_redrive": len(found.missing) if restored_at else None,
        "rpo_after_redrive": found.rpo_after,
        "redriven": redriven.redriven if redriven else 0,
        "redrive_scanned": redriven.scanned if redriven else 0,
        "redrive_seconds": redriven.seconds if redriven else None,
        "redrive_source": (
            f"rabbitmq stream auditflow.archive from offset {redriven.offset} "
            f"(stopped: {redriven.stopped_because})"
            if redriven
            else ("disabled" if not redrive_enabled else "nothing to re-drive")
        ),
        "notes": "; ".join(found.notes) or None,
    }


def checks(found: Findings) -> tuple[Check, ...]:
    backup = found.backup
    return (
        Check(
            "backup verified",
            backup is not None and backup.entries > 0,
            f"pg_restore --list read {backup.entries} entries; {backup.fingerprint.rows} rows"
            if backup
            else "no backup was taken",
        ),
        Check("restore matches the backup", bool(found.integrity_ok), found.integrity_detail),
        Check(
            "no committed event lost after re-drive",
            found.rpo_after == 0,
            f"{len(found.missing)} missing after restore, {found.rpo_after} after re-drive",
        ),
    )
