"""What pvc-wipe-restore remembers: its findings in memory, its files and journal records on disk.

Why one module: the fault's phases (inject, hold, rollback, verify) run as separate calls, and a
rollback may run in another process after the harness died (`recover`). Whatever one phase learns
is kept twice — in `Findings` for this process, in the run directory and the journal for the next
— and the readers here rebuild from disk what memory no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.backup import Backup
from drills.faults.base import FaultContext
from drills.faults.redrive import RedriveResult
from drills.journal import Journal
from drills.targets.pg_volume import PgVolume

COMPONENT = "postgres"

# Files under the run directory (the backup file is never deleted: rollback restores from it).
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


@dataclass
class Findings:
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


def journal_temp_files(ctx: FaultContext, volume: PgVolume) -> None:
    """Journal what a reprovision may write before it may write it (so `recover` removes it)."""
    for path in volume.temp_files():
        ctx.temp_file(path)


def backup_of(findings: Findings, journal: Journal) -> Backup | None:
    """The backup this run took: from memory, else from its journal record."""
    if findings.backup is not None:
        return findings.backup
    for record in reversed(journal.records()):
        if record.get("event") == J_BACKUP:
            return Backup.from_record(record)
    return None


def captured_of(findings: Findings, backup: Backup) -> frozenset[str]:
    """The event ids committed before the wipe: from memory, else from the file beside the dump."""
    return findings.captured or read_captured(Path(backup.path).parent / CAPTURED_NAME)


def read_captured(path: Path) -> frozenset[str]:
    try:
        return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())
    except OSError:
        return frozenset()


def journaled_wipe_at(journal: Journal) -> float | None:
    for record in reversed(journal.records()):
        if record.get("event") == J_WIPE_DONE and record.get("at") is not None:
            return float(record["at"])
    return None


def last_index(names: list[str], event: str) -> int:
    """Index of the last journal record named `event`, -1 when there is none."""
    return max((i for i, name in enumerate(names) if name == event), default=-1)
