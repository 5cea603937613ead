"""Finding and finishing runs whose harness died with a fault still in effect.

A run is *unfinished* when its journal records an `inject-intent` but no `rollback-done`. The
drill file is copied into every run directory, so the fault can be rebuilt exactly as it was and
its (idempotent) rollback run again — by `genesis-drill recover`, and refused-until-recovered by
the next run's preflight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drills import spec as spec_module
from drills.errors import RollbackFailed, TargetError
from drills.faults.base import FaultContext
from drills.faults.registry import build as build_fault
from drills.journal import JOURNAL_NAME, Journal, read
from drills.targets.base import Target


def is_unfinished(run_dir: Path) -> bool:
    events = [record.get("event") for record in read(run_dir / JOURNAL_NAME)]
    return "inject-intent" in events and "rollback-done" not in events


def unfinished_runs(runs_dir: Path, exclude: Path | None = None) -> list[Path]:
    if not runs_dir.is_dir():
        return []
    return sorted(
        path
        for path in runs_dir.iterdir()
        if path.is_dir() and path != exclude and is_unfinished(path)
    )


@dataclass(frozen=True)
class Recovered:
    run_dir: Path
    kind: str
    component: str


def recover(
    runs_dir: Path,
    target: Target,
    progress: Callable[[str], None] = lambda _m: None,
    exclude: Path | None = None,
) -> list[Recovered]:
    """Roll back every unfinished run (oldest first); raise RollbackFailed naming any that fail."""
    done: list[Recovered] = []
    for run_dir in unfinished_runs(runs_dir, exclude):
        spec = spec_module.load(run_dir / "drill.yaml")
        fault = build_fault(spec.fault)
        journal = Journal(run_dir)
        ctx = FaultContext(spec, target, target.endpoints(), journal, run_dir, lambda _k, _d: None)
        progress(f"{run_dir.name}: rolling back {spec.fault.kind} on {spec.target}")
        journal.write("recover-start")
        try:
            fault.rollback(ctx)
        except (TargetError, OSError) as exc:
            journal.write("rollback-error", error=str(exc), by="recover")
            raise RollbackFailed(f"{run_dir.name}: rollback failed: {exc}") from exc
        journal.write("rollback-done", by="recover")
        done.append(Recovered(run_dir, spec.fault.kind, spec.target))
    return done
