"""The fault steps of a composite drill (issue 14): each step injected when its start rule says,
held for its duration, and rolled back in reverse order of injection — always, also on a failed
hold, an abort, Ctrl-C or SIGTERM. A step that starts `after` another counts its delay from the
other's component being ready again once rolled back (journaled `step-ready`).

The schedule runs on the runner's thread; each step's hold runs in a thread of its own (as
drills.live.watch_while does for a drill with one fault) while the live view ticks and the abort
conditions are checked about once a second. A step started `with` another is nested in it: the
other is rolled back only after it. Each step journals its own inject-intent, injected,
rollback-intent and rollback-done records with its name, so `genesis-drill recover` can undo
every step a dead harness left in effect, in reverse (drills.crash_recovery).

`rollback` (one fault, retried on temporary errors) is shared with the single-fault lifecycle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drills import live, retry
from drills.abort import AbortCheck
from drills.clock import Clock
from drills.errors import RollbackFailed, TargetError
from drills.faults.base import Fault, FaultContext, FaultReport, Injection
from drills.journal import (
    Injected,
    InjectIntent,
    Journal,
    RollbackDone,
    RollbackError,
    RollbackIntent,
    StepReady,
)
from drills.results import FaultSummary
from drills.run_state import STEP_S, StepRun
from drills.seams import Observer
from drills.spec import DrillSpec, Step

ROLLBACK_BACKOFF = retry.Backoff(attempts=3, first_s=1.0, max_s=4.0)
# How long a rolled-back step's component may take to be ready again before a step that starts
# `after` it is given up on (a broker restarting under load took 8 s on the 2-core sandbox).
READY_TIMEOUT_S = 90.0
HOLD_JOIN_S = 10.0  # how long a hold told to stop may take to return before rollback goes ahead


def rollback(
    fault: Fault, ctx: FaultContext, journal: Journal, clock: Clock, step: str | None = None
) -> float:
    """Undo one fault, retrying only temporary failures (a 403 or 404 fails at once); journaled
    before and after. Returns when the rollback completed."""
    kind, component = ctx.spec.fault.kind, ctx.spec.target
    journal.append(RollbackIntent(kind=kind, step=step))

    def failed(attempt: int, exc: Exception, will_retry: bool) -> None:
        journal.append(RollbackError(attempt=attempt, error=str(exc), retry=will_retry, step=step))

    try:
        retry.call(
            lambda: fault.rollback(ctx), ROLLBACK_BACKOFF, on_error=failed, sleep=clock.sleep
        )
    except (TargetError, OSError) as exc:
        severity = "temporary" if retry.is_temporary(exc) else "permanent"
        of = f"step {step} ({kind} on {component})" if step else f"{kind} on {component}"
        raise RollbackFailed(
            f"rollback of {of} failed ({severity} error): {exc}. The platform may be broken: "
            "run `genesis-drill recover` and check `genesis-drill platform status`."
        ) from exc
    at = clock.now()
    journal.append(RollbackDone(at=at, step=step))
    return at


def build_runs(
    spec: DrillSpec,
    ctx: FaultContext,
    faults: Callable[[Step], Fault],
) -> list[StepRun]:
    """One StepRun per step, in file order, each acting in a context of its own: the step's view
    of the drill (its target, fault and alerts) and its own stop event."""
    runs = []
    for step in spec.steps:
        view = spec.step_view(step)
        step_ctx = FaultContext(view, ctx.target, ctx.endpoints, ctx.journal, ctx.run_dir, ctx.emit)
        runs.append(StepRun(step, faults(step), step_ctx))
    return runs


class Schedule:
    """Injects, holds and rolls back a composite drill's steps (`runs`, in file order)."""

    def __init__(
        self, spec: DrillSpec, runs: list[StepRun], journal: Journal, clock: Clock
    ) -> None:
        self.spec, self.runs, self.journal, self.clock = spec, runs, journal, clock
        self.by_name = {run.step.name: run for run in runs}
        self.pending = list(runs)  # not injected yet
        self.stack: list[StepRun] = []  # injected and not rolled back, in order of injection
        self.wake = threading.Event()  # set when a hold returns: ends the tick's wait early
        self.began: float | None = None

    def due_at(self, run: StepRun) -> float | None:
        """When `run` is due (None: not yet known — its reference step has not got that far)."""
        start = run.step.start
        if start is None:
            return self.began
        ref = self.by_name[start.step]
        if start.rule == "after":
            return None if ref.ready_at is None else ref.ready_at + start.delay_s
        return None if ref.injection is None else ref.injection.at + start.delay_s

    def may_roll_back(self, run: StepRun) -> bool:
        """The top of the stack, its hold over, and no step still to start `with` it."""
        waiting = any(
            p.step.start is not None
            and p.step.start.rule == "with"
            and p.step.start.step == run.step.name
            for p in self.pending
        )
        return run.held.is_set() and not waiting

    def run(
        self,
        observer: Observer,
        checker: AbortCheck,
        emit_ctx: FaultContext,
        on_injected: Callable[[StepRun], None],
    ) -> None:
        """Until every step has been injected and every hold is over; the steps still in effect
        then are left to `roll_back_all` (the runner's rollback phase, which always runs)."""
        self.began = self.clock.now()
        try:
            while True:
                self.wake.clear()
                self._inject_due(on_injected)
                for run in self.stack:
                    if run.errors:
                        raise run.errors[0]
                self._roll_back_finished()
                if not self.pending and all(run.held.is_set() for run in self.stack):
                    return
                first = self.runs[0].injection
                t_inject = first.at if first is not None else self.clock.now()
                values = live.tick(self.spec, observer, emit_ctx.emit, checker.started, self.clock)
                trip = checker.check(observer, self.clock.now(), t_inject, values)
                if trip is not None:
                    raise live.aborted(trip, emit_ctx, "while holding the fault steps")
                self.clock.wait(self._wait_s(), self.wake)
        except BaseException:
            self.stop()
            raise

    def _wait_s(self) -> float:
        now = self.clock.now()
        dues = [due - now for run in self.pending if (due := self.due_at(run)) is not None]
        return max(0.0, min([STEP_S, *dues]))

    def _inject_due(self, on_injected: Callable[[StepRun], None]) -> None:
        for run in list(self.pending):
            due = self.due_at(run)
            if due is None or self.clock.now() < due:
                continue
            self.pending.remove(run)
            self._inject(run)
            on_injected(run)

    def _inject(self, run: StepRun) -> None:
        step, fault = run.step, run.step.fault
        self.journal.append(
            InjectIntent(
                kind=fault.kind, component=step.component, params=fault.params, step=step.name
            )
        )
        run.intended = True
        self.stack.append(run)  # from here on it is rolled back, even after a partial injection
        injection = run.fault.inject(run.ctx)
        run.injection = injection
        self.journal.append(
            Injected(
                at=injection.at, source=injection.source, details=injection.details, step=step.name
            )
        )
        run.worker = threading.Thread(
            target=self._hold, args=(run, injection), name=f"fault-hold-{step.name}", daemon=True
        )
        run.worker.start()

    def _hold(self, run: StepRun, injection: Injection) -> None:
        try:
            run.fault.hold(run.ctx, injection)
        except BaseException as exc:  # re-raised in the schedule's thread
            run.errors.append(exc)
        finally:
            run.held.set()
            self.wake.set()

    def _roll_back_finished(self) -> None:
        """Roll back the most recent step while its hold is over — except the last ones in
        effect once nothing is left to start: those are the rollback phase's."""
        while self.stack and self.may_roll_back(self.stack[-1]):
            below = self.stack[:-1]
            if not self.pending and all(run.held.is_set() for run in below):
                return
            self._roll_back(self.stack.pop())

    def _roll_back(self, run: StepRun, *, during: bool = True) -> None:
        """Roll one step back. During the schedule (`during`), a step rolled back with nothing
        else in effect is verified at once, as a single-fault drill's fault is after its
        rollback: its figures (when the component was ready again) are then its own, not read
        after the later steps — a broker's readiness read at the end of the drill came out 3 s
        late. A step that starts `after` it counts from its component being ready again."""
        run.rolled_back_at = rollback(
            run.fault, run.ctx, self.journal, self.clock, step=run.step.name
        )
        if not during:
            return
        ready = None
        if not self.stack and run.injection is not None:
            run.report = run.fault.verify(run.ctx, run.injection)
            ready = run.report.ready_at
        if any(
            p.step.start is not None
            and p.step.start.rule == "after"
            and p.step.start.step == run.step.name
            for p in self.pending
        ):
            self._await_ready(run, run.rolled_back_at, ready)

    def _await_ready(self, run: StepRun, rolled_back_at: float, ready: float | None) -> None:
        """A step that starts `after` this one counts from its component being back, not from
        the rollback's command: a restarted broker refused connections for 10 s more, and a
        "kill during the drain" 3 s after the start command killed while nothing drained."""
        component = run.step.component
        if ready is None:
            ready = run.ctx.target.wait_ready(component, READY_TIMEOUT_S)
        run.ready_at = max(rolled_back_at, ready)
        self.journal.append(StepReady(step=run.step.name, component=component, at=run.ready_at))

    def stop(self) -> None:
        """Tell every hold in effect to return, and give each a moment to do so."""
        for run in self.stack:
            run.ctx.stop.set()
        for run in self.stack:
            if run.worker is not None:
                run.worker.join(HOLD_JOIN_S)

    def roll_back_all(self) -> None:
        """Every step still in effect, in reverse order of injection; each is tried even when
        one before it failed, and every failure is named in the one RollbackFailed raised."""
        self.stop()
        failures: list[str] = []
        while self.stack:
            run = self.stack.pop()
            try:
                self._roll_back(run, during=False)
            except RollbackFailed as exc:
                failures.append(str(exc))
        if failures:
            raise RollbackFailed("; ".join(failures))

    def verify(self) -> FaultReport:
        """After recovery: each injected step's own findings, merged into one report — figures
        and checks named by step, the component ready when the last one was. A step already
        verified at its rollback keeps that report."""
        figures: dict[str, float | int | str | None] = {}
        checks = []
        ready: list[float] = []
        complete: list[float] = []
        incomplete = []
        for run in self.runs:
            if run.injection is None:
                continue
            # Verified at its rollback when nothing else was in effect (`_roll_back`), else now.
            report = run.report = run.report or run.fault.verify(run.ctx, run.injection)
            name = run.step.name
            figures.update({f"{name}.{key}": value for key, value in report.figures.items()})
            checks += [
                type(check)(f"{name}: {check.name}", check.passed, check.detail)
                for check in report.checks
            ]
            if report.ready_at is not None:
                ready.append(report.ready_at)
            if report.complete_at is not None:
                complete.append(report.complete_at)
            if report.incomplete:
                incomplete.append(f"{name}: {report.incomplete}")
        return FaultReport(
            figures=figures,
            checks=tuple(checks),
            ready_at=max(ready, default=None),
            complete_at=max(complete, default=None),
            complete_source="the last step's restore" if complete else "",
            incomplete="; ".join(incomplete),
        )


def fault_summary(spec: DrillSpec, report: FaultReport) -> FaultSummary:
    """What the fault reported, for the result; a composite drill's kind is "composite", its
    parameters every step's (named `<step>.kind`, `<step>.<param>`), its figures and checks
    named by step."""
    if not spec.steps:
        return FaultSummary(spec.fault.kind, spec.fault.params, report.figures, report.checks)
    params: dict[str, object] = {}
    for step in spec.steps:
        params[f"{step.name}.kind"] = step.fault.kind
        params[f"{step.name}.component"] = step.component
        params.update({f"{step.name}.{k}": v for k, v in step.fault.params.items()})
    return FaultSummary("composite", params, report.figures, report.checks)
