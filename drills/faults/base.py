"""The fault protocol and what a fault is given to act with.

A fault plans (dry run), checks its own preconditions, injects, holds, rolls back and finally
reports what it found. `rollback` must be idempotent and safe after a partial or absent injection:
the runner calls it on success, failure, Ctrl-C and SIGTERM, and `recover` calls it for a run whose
harness died — rebuilt from the journal's `inject-intent` record, so faults keep everything they
need to undo themselves in `params` and the record's `details`, and journal every temporary file
they create (`FaultContext.temp_file`) so that `recover` can remove it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drills import results
from drills.journal import Journal, TempFile
from drills.spec import DrillSpec
from drills.targets.base import Endpoints, Target

Emit = Callable[[str, Mapping[str, Any]], None]


@dataclass
class FaultContext:
    """What a fault may use. `stop` is set when the run must end early (abort, Ctrl-C)."""

    spec: DrillSpec
    target: Target
    endpoints: Endpoints
    journal: Journal
    run_dir: Path
    emit: Emit
    stop: threading.Event = field(default_factory=threading.Event)

    def temp_file(self, path: Path) -> Path:
        """Journal a temporary file before it is created (by the fault or what it drives).

        A harness that dies before the file is removed leaves it on disk — a password file,
        say; `recover` removes every journaled one of a run that never reached its end.
        """
        path = path.absolute()
        self.journal.append(TempFile(path=str(path)))
        return path


@dataclass(frozen=True)
class Injection:
    """When the fault took effect and what was done (JSON-able details, no secrets)."""

    at: float
    source: str
    details: dict[str, Any] = field(default_factory=dict)


# A fault-specific verification: what was checked, whether it passed, the evidence. It goes into
# the result as it is, so it is the result's own type.
Check = results.Check


@dataclass(frozen=True)
class FaultReport:
    """Fault-specific figures (seconds, counts) and checks, merged into the drill result."""

    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    ready_at: float | None = None  # when the disturbed component was ready again (phase)
    # For a fault that destroys data: when every confirmed event was present again (a restore
    # plus its re-drive), and the source of that time. Recovery is no earlier (DESIGN.md §4).
    complete_at: float | None = None
    complete_source: str = ""
    # Why the data never became complete (e.g. events still missing after the re-drive): the
    # platform has not recovered, whatever its SLIs say.
    incomplete: str = ""


class Fault(Protocol):
    """One kind of failure."""

    kind: str

    def plan(self, ctx: FaultContext) -> list[str]:
        """Human lines describing exactly what inject and rollback will do (for --dry-run)."""
        ...

    def preflight(self, ctx: FaultContext) -> list[str]:
        """Reasons not to inject (empty: go). Nothing is changed here."""
        ...

    def inject(self, ctx: FaultContext) -> Injection: ...

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        """Keep the fault in effect for its duration (return early when ctx.stop is set)."""
        ...

    def rollback(self, ctx: FaultContext) -> None:
        """Undo the fault; idempotent; safe after a partial or absent injection."""
        ...

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        """After recovery: fault-specific findings (restart seen, DLQ reasons, RTO/RPO...)."""
        ...
