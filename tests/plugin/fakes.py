"""Fakes the plugin tests' inner pytest sessions import: a scripted runner and a fault; the
observer and generator are the shared ones of tests/fakes.py."""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

from drills import runner
from drills.client_probe import ClientProber
from drills.faults.base import FaultReport, Injection
from drills.outcome import Outcome
from drills.results import DrillResult, Objective, utc
from drills.targets.fake import FakeTarget
from tests.fakes import FakeGenerator, FakeObserver

TARGET = FakeTarget()


def scripted_result(spec, target, options, listener, ttd=5.0, outcome="passed") -> DrillResult:
    """A result like the real runner's (run directory, result.json), without any platform."""
    run_dir = options.runs_dir / runner.new_run_id(spec.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    listener("phase", {"phase": "observe", "elapsed": 0.0})
    result = DrillResult(
        run_id=run_dir.name,
        drill=spec.name,
        target=target.name,
        outcome=Outcome(outcome),
        reason="all objectives met",
        started_at=utc(now),
        injected_at=utc(now),
        ttd_seconds=ttd,
        ttn_seconds=6.0,
        ttr_seconds=21.5,
        error_budget_consumed=0.02,
        run_dir=str(run_dir),
        wall_seconds=30.0,
        objectives=(Objective("time to detect", "<= 30s", f"{ttd:g}s", ttd <= 30),),
    )
    result.write(run_dir)
    return result


@dataclasses.dataclass
class Fault:
    """Stops the component; `hold_error` is raised while held, `rollback_error` on the first
    rollback (a harness interrupted inside its own rollback)."""

    hold_error: BaseException | None = None
    kind: str = "service-stop"
    rollback_error: BaseException | None = None

    def plan(self, ctx):
        return ["fake"]

    def preflight(self, ctx):
        return []

    def inject(self, ctx):
        ctx.target.stop(ctx.spec.target)
        return Injection(time.time(), "test")

    def hold(self, ctx, injection):
        if self.hold_error is not None:
            raise self.hold_error

    def rollback(self, ctx):
        error, self.rollback_error = self.rollback_error, None
        if error is not None:
            raise error
        ctx.target.start(ctx.spec.target)

    def verify(self, ctx, injection):
        return FaultReport()


def real_runner(fault: Fault):
    """`drills.runner.run` itself, with a fake fault, observer and generator and no baseline."""

    def run(spec, target, options, listener):
        quick = dataclasses.replace(
            spec, load=dataclasses.replace(spec.load, baseline_s=0.0), recovery_samples=1
        )
        return runner.run(
            quick,
            target,
            options,
            listener,
            fault=fault,
            observer=FakeObserver(),
            generator=FakeGenerator(),
            # No client probe: these sessions run in-process under pytester, whose restore of
            # sys.modules would drop the httpcore that httpx loads lazily on a first request,
            # while httpx's exception map kept its classes — and later tests' ConnectErrors
            # would escape unmapped. The probe itself is tested in tests/unit.
            prober=ClientProber((), enabled=False),
        )

    return run


def journal_events(runs_dir: Path) -> list[dict[str, Any]]:
    from drills.journal import read

    return [r for path in sorted(runs_dir.glob("*/journal.jsonl")) for r in read(path)]


scripted = functools.partial(scripted_result)
