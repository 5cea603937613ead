"""Undoing pvc-wipe-restore: decided from the journal and what the volume shows, then done.

Why its own module: the rollback must work after any partial injection and in another process
after a harness crash (`recover`), with nothing in memory. `plan_rollback` is the pure decision
(unit-tested case by case); `roll_back` carries it out through the volume capability: a missing
cluster is re-provisioned, a stopped server started, an unfinished restore redone from the backup
file (never deleted), the application role let in, and the gap re-driven.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drills.backup import PgServer
from drills.errors import GenesisError, RollbackFailed
from drills.faults.base import FaultContext
from drills.faults.pvc_wipe_restore import sql
from drills.faults.pvc_wipe_restore.records import (
    J_REDRIVE,
    J_RESTORE_DONE,
    J_WIPE_DONE,
    Findings,
    backup_of,
    journal_temp_files,
    last_index,
)
from drills.faults.pvc_wipe_restore.redrive_gap import redrive_missing
from drills.faults.pvc_wipe_restore.restore import READY_TIMEOUT_S, restore
from drills.targets.pg_volume import PgVolume


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


def roll_back(
    ctx: FaultContext, volume: PgVolume, findings: Findings, redrive_enabled: bool
) -> None:
    """Carry out the plan; RollbackFailed when the platform could not be made whole."""
    names = [str(r.get("event")) for r in ctx.journal.records()]
    last_wipe = last_index(names, J_WIPE_DONE)
    last_restore = last_index(names, J_RESTORE_DONE)
    try:
        plan = plan_rollback(
            wiped=last_wipe >= 0,
            restored=last_restore > last_wipe,
            redriven=last_index(names, J_REDRIVE) > max(last_restore, last_wipe),
            redrive_enabled=redrive_enabled,
            initialised=volume.initialised(),
            running=volume.running(),
        )
        server = PgServer.from_dsn(ctx.endpoints.pg_admin_dsn.reveal())
        if plan.restore:
            _restore_in_rollback(ctx, volume, server, findings)
        elif plan.reprovision or plan.start or plan.let_app_in:
            if plan.reprovision:
                journal_temp_files(ctx, volume)
                volume.reprovision()
            if plan.start:
                volume.start()
            volume.wait_accepting(READY_TIMEOUT_S)
            if plan.let_app_in:
                volume.bootstrap()
                sql.let_app_in(server)
    except RollbackFailed:
        raise
    except GenesisError as exc:
        raise RollbackFailed(f"pvc-wipe-restore rollback failed: {exc}") from exc
    if plan.redrive:
        try:
            redrive_missing(ctx, server, findings, source="rollback")
        except GenesisError as exc:  # the platform runs; the ledger will show what is lost
            findings.notes.append(f"re-drive during rollback failed: {exc}")
            ctx.journal.write("redrive-error", error=str(exc)[:300], source="rollback")


def _restore_in_rollback(
    ctx: FaultContext, volume: PgVolume, server: PgServer, findings: Findings
) -> None:
    backup = backup_of(findings, ctx.journal)
    if backup is None or not Path(backup.path).is_file():
        journal_temp_files(ctx, volume)
        volume.reprovision()
        volume.start()
        volume.wait_accepting(READY_TIMEOUT_S)
        volume.bootstrap()
        raise RollbackFailed(
            "PostgreSQL was wiped and no backup file is recorded or present: it runs again, empty"
        )
    try:
        restore(ctx, volume, server, backup, "rollback", findings)
    except GenesisError as exc:
        sql.let_app_in_quietly(server)
        raise RollbackFailed(
            f"PostgreSQL was wiped and restoring {backup.path} failed: {exc}"
        ) from exc
