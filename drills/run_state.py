"""What one drill run carries through its phases: the options it was started with, the mutable
bookkeeping between phases, and the few helpers every phase module shares.

The lifecycle (drills.runner) is split by phase — drills.preflight, drills.live (baseline, hold,
awaiting recovery), drills.settle (the ledger), drills.measurement, drills.judging — and each phase
reads and updates one `RunState`; the result on it is frozen and replaced as figures come in, so a
failure half-way keeps what was already measured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.clock import SYSTEM_CLOCK, Clock
from drills.faults.base import Fault, FaultContext, FaultReport, Injection
from drills.ledger import GeneratorMark
from drills.results import DrillResult
from drills.seams import Observer
from drills.spec import DrillSpec, Step

Listener = Callable[[str, Mapping[str, Any]], None]
STEP_S = 1.0  # live polling and range-query step: the sandbox scrapes and evaluates every second


@dataclass(frozen=True)
class RunOptions:
    runs_dir: Path
    load_rate: float | None = None
    max_duration_s: float | None = None
    dry_run: bool = False
    slo_config: Path | None = None  # None: GENESIS_SLO_CONFIG, else the packaged drills/slo.yaml


@dataclass
class StepRun:
    """One fault step of a composite drill while it runs (drills.composite): its fault, the
    context it acts in (whose spec is the step's view of the drill), and what happened to it."""

    step: Step
    fault: Fault
    ctx: FaultContext
    intended: bool = False  # its inject-intent is journaled: from here on it must be rolled back
    injection: Injection | None = None
    rolled_back_at: float | None = None
    ready_at: float | None = None  # its component ready again after the rollback (if awaited)
    report: FaultReport | None = None
    held: threading.Event = field(default_factory=threading.Event)  # its hold has returned
    errors: list[BaseException] = field(default_factory=list)  # raised by its hold
    worker: threading.Thread | None = None

    @property
    def active(self) -> bool:
        """Injected (or being injected: a partial injection is undone too), not rolled back."""
        return self.intended and self.rolled_back_at is None


@dataclass
class RunState:
    """Mutable bookkeeping of one run; `result` is replaced (frozen) as figures come in."""

    started: float
    result: DrillResult
    clock: Clock = SYSTEM_CLOCK
    injection: Injection | None = None
    rolled_back_at: float | None = None
    before: GeneratorMark | None = None
    dead_lettered_since: float | None = None  # Prometheus' clock at the ledger's first mark
    recovery_confirmed_at: float | None = None
    original_rate: float | None = None
    fault_report: FaultReport | None = None
    phase: str = "preflight"
    interrupted_in: str | None = None  # the phase an exception left (before rollback ran)
    notes: list[str] = field(default_factory=list)
    steps: list[StepRun] = field(default_factory=list)  # a composite drill's, in file order


def quiet(_kind: str, _data: Mapping[str, Any]) -> None:
    return None


def probe_values(spec: DrillSpec, observer: Observer) -> dict[str, float | None]:
    return {probe.name: observer.value(probe.query) for probe in spec.steady_state}


def holds(spec: DrillSpec, values: Mapping[str, float | None]) -> bool:
    return all(
        (value := values[probe.name]) is not None and probe.tolerance.holds(value)
        for probe in spec.steady_state
    )
