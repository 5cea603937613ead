"""Closing pvc-wipe-restore's RPO gap: re-drive what the restore missed from the archive stream.

Why: the backup misses every event committed after it (the RPO). Those were captured, exactly,
while writers were fenced before the wipe; the ones still absent after the restore are read back
from the broker's `auditflow.archive` stream (from just before the backup up to the wipe) and
published again (`drills.faults.redrive`). Run by the hold, and by a rollback that restored.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from drills.backup import PgServer
from drills.errors import TargetError
from drills.faults.base import FaultContext
from drills.faults.pvc_wipe_restore import sql
from drills.faults.pvc_wipe_restore.records import (
    J_REDRIVE,
    Findings,
    backup_of,
    captured_of,
    journaled_wipe_at,
)
from drills.faults.redrive import missing_ids, redrive

# The archive is read from this long before the backup (a stream timestamp offset is per chunk).
STREAM_SAFETY_S = 30.0


def redrive_missing(ctx: FaultContext, server: PgServer, findings: Findings, source: str) -> None:
    """Re-drive the events committed before the wipe that the restore did not bring back."""
    backup = backup_of(findings, ctx.journal)
    if backup is None:
        raise TargetError("no backup recorded in the journal: the re-drive offset is unknown")
    captured = captured_of(findings, backup)
    missing = missing_ids(captured, sql.present(server, captured))
    if not missing:
        return
    wipe_at = journaled_wipe_at(ctx.journal) or time.time()
    offset = datetime.fromtimestamp(backup.started_at - STREAM_SAFETY_S, UTC)
    ctx.emit("fault", {"step": "redrive", "missing": len(missing), "source": source})
    result = redrive(ctx.endpoints.amqp_url.reveal(), missing, offset, wipe_at)
    findings.redrive = result
    ctx.journal.write(
        J_REDRIVE,
        source=source,
        offset=result.offset,
        scanned=result.scanned,
        redriven=result.redriven,
        not_found=result.not_found,
        stopped_because=result.stopped_because,
    )
