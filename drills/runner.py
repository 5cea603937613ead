"""The drill lifecycle (DESIGN.md §5): preflight → baseline → inject → observe → rollback →
recover → verify → report.

The runner never prints: it emits `(kind, data)` events to listeners (the console reporter, the
pytest plugin). Rollback runs in a `finally` — on success, failure, abort, Ctrl-C and SIGTERM (the
CLI turns SIGTERM into KeyboardInterrupt) — and is journaled, so a run whose harness died can be
finished by `recover`. Measurements are computed afterwards from Prometheus range data, never from
what the runner happened to see while polling.

Each phase lives in its own module (drills.preflight, drills.live, drills.settle,
drills.measurement, drills.judging) and works on one `drills.run_state.RunState`; this module
holds the order of the phases, the rollback that always runs, and the run directory's bookends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from drills import client_probe, composite, live, slo
from drills.abort import AbortCheck
from drills.catalog import load_spec_or_name
from drills.clock import SYSTEM_CLOCK, Clock
from drills.errors import (
    Aborted,
    Interrupted,
    ObservationError,
    PreflightRefused,
    RollbackFailed,
    TargetError,
)
from drills.faults.base import Fault, FaultContext
from drills.faults.registry import build as build_fault
from drills.journal import (
    FaultVerified,
    Injected,
    InjectIntent,
    InternalError,
    Journal,
    Load,
    LoadRestored,
    PhaseStarted,
    RunEnd,
    RunStart,
    harness_process,
)
from drills.judging import judge
from drills.ledger import GeneratorClient
from drills.measurement import explain_unmeasured, measure_run, measure_safely
from drills.observe import Observer as PrometheusObserver
from drills.outcome import Outcome
from drills.preflight import preflight
from drills.results import DrillResult, utc
from drills.run_state import Listener, RunOptions, RunState, StepRun, quiet
from drills.seams import Generator, Observer
from drills.settle import PROMETHEUS_NOW, settle_ledger
from drills.spec import DrillSpec, Step
from drills.targets.base import Target
from drills.targets.logs import save as save_log_evidence

# Re-exported: callers name the run's options, listener type and drill lookup through the runner.
__all__ = ["Listener", "RunOptions", "load_spec_or_name", "plan", "run"]


def new_run_id(drill: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or SYSTEM_CLOCK.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{drill}"


def plan(spec: DrillSpec, target: Target) -> list[str]:
    """The resolved plan, for --dry-run: touches nothing."""
    ctx = _context(spec, target, Journal.__new__(Journal), Path("."), quiet)
    if spec.composite:
        fault_lines = []
        for number, run in enumerate(composite.build_runs(spec, ctx, _build), 1):
            step = run.step
            fault_lines += [
                f"step {number} {step.name}: {step.fault.kind} on {step.component}, "
                f"starts {step.describe_start()}; "
                f"expected alerts: {', '.join(step.expected_alerts) or 'none'}",
                *(f"  {line}" for line in run.fault.plan(run.ctx)),
            ]
        fault_lines.append("rollback: every step still in effect, in reverse order of injection")
    else:
        fault_lines = build_fault(spec.fault).plan(ctx)
    lines = [
        f"drill {spec.name}: {spec.description}",
        f"target: {target.describe()}",
        f"component: {spec.target}"
        if not spec.composite
        else f"components: {', '.join(dict.fromkeys(s.component for s in spec.steps))}",
        f"load: {spec.load.rate:g} events/s, baseline {spec.load.baseline_s:g} s",
        "steady state: "
        + "; ".join(f"{p.name} {p.tolerance.describe()}" for p in spec.steady_state),
        f"expected alerts: {', '.join(spec.expected_alerts) or 'none'}",
        *fault_lines,
        f"abort after {spec.abort.max_duration_s:g} s in total; rollback always runs",
    ]
    return lines


def _build(step: Step) -> Fault:
    return build_fault(step.fault)


def _steps(spec: DrillSpec, ctx: FaultContext, given: Mapping[str, Fault]) -> list[StepRun]:
    """A composite drill's steps, each with its fault (a test's, by step name, or built)."""
    return composite.build_runs(spec, ctx, lambda step: given.get(step.name) or _build(step))


def _context(
    spec: DrillSpec, target: Target, journal: Journal, run_dir: Path, emit: Listener
) -> FaultContext:
    return FaultContext(spec, target, target.endpoints(), journal, run_dir, emit)


def run(
    spec: DrillSpec,
    target: Target,
    options: RunOptions,
    listener: Listener = quiet,
    *,
    fault: Fault | None = None,
    observer: Observer | None = None,
    generator: Generator | None = None,
    clock: Clock = SYSTEM_CLOCK,
    prober: client_probe.ClientProber | None = None,
    step_faults: Mapping[str, Fault] | None = None,
) -> DrillResult:
    """Run one drill end to end and write its run directory.

    Every outcome, including an internal error, ends as a result with an outcome and a reason;
    rollback has run by the time this returns. `fault` (a composite drill's: `step_faults`, by
    step name), `observer`, `generator`, `clock` and `prober` are seams for tests; by default
    they are built from the spec and the target's endpoints. The client probe runs from the
    baseline to the end of recovery (its phase hook) and is stopped in the `finally` whatever
    happened.
    """
    slos = slo.load(options.slo_config)  # bad input: refused before anything is written
    started = clock.now()
    run_id = new_run_id(spec.name, started)
    run_dir = options.runs_dir / run_id
    journal = Journal(run_dir)
    ctx = _context(spec, target, journal, run_dir, listener)
    steps = _steps(spec, ctx, step_faults or {})
    # A composite drill acts through its steps' faults; `fault` is then its first step's.
    fault = fault or (steps[0].fault if steps else build_fault(spec.fault))
    result = DrillResult(
        run_id=run_id,
        drill=spec.name,
        target=target.name,
        outcome=Outcome.ERROR,
        reason="",
        started_at=utc(started),
        run_dir=str(run_dir),
    )
    state = RunState(started=started, result=result, clock=clock, steps=steps)
    endpoints = ctx.endpoints
    observer = observer or PrometheusObserver(endpoints.prometheus_url)
    token = endpoints.generator_token.reveal()
    generator = generator or GeneratorClient(endpoints.generator_url, token)
    deadline_s = options.max_duration_s or spec.abort.max_duration_s
    prober = prober or client_probe.for_run(spec, endpoints, deadline_s)
    journal.append(
        RunStart(
            drill=spec.name,
            target=target.name,
            target_identity=target.identity().to_json(),
            harness=harness_process(),
            spec=str(spec.path),
        )
    )
    (run_dir / "drill.yaml").write_text(spec.path.read_text())

    def phase(name: str) -> None:
        state.phase = name
        journal.append(PhaseStarted(phase=name))
        prober.on_phase(name)
        listener("phase", {"phase": name, "elapsed": clock.now() - started})

    try:
        _lifecycle(spec, target, fault, ctx, state, observer, generator, options, slos, phase)
    except PreflightRefused as exc:
        _ended(state, Outcome.PREFLIGHT_REFUSED, str(exc))
    except Aborted as exc:
        _ended(state, Outcome.ABORTED, str(exc))
        measure_safely(spec, observer, state, endpoints.notification_url, slos)
    except RollbackFailed as exc:
        _ended(state, Outcome.ROLLBACK_FAILED, str(exc))
    except (KeyboardInterrupt, Interrupted) as exc:
        # The phase the interrupt arrived in, not "rollback", which the finally entered since.
        where = state.interrupted_in or state.phase
        detail = f": {exc}" if isinstance(exc, Interrupted) and str(exc) else ""
        _ended(state, Outcome.INTERRUPTED, f"interrupted during {where}{detail}")
    except ObservationError as exc:
        _ended(state, Outcome.OBSERVATION_ERROR, str(exc))
    except TargetError as exc:
        _ended(state, Outcome.TARGET_ERROR, str(exc))
    except Exception as exc:  # a bug must still end as a result, after rollback
        journal.append(InternalError(error=f"{type(exc).__name__}: {exc}"))
        reason = f"internal error: {type(exc).__name__}: {exc} (see {journal.path})"
        _ended(state, Outcome.ERROR, reason)
    finally:
        client_probe.conclude(prober, state, run_dir)
        _finish(spec, state, generator, journal, run_dir, listener, target)
    return state.result


def _ended(state: RunState, outcome: Outcome, reason: str) -> None:
    state.result = replace(state.result, outcome=outcome, reason=reason)


def _lifecycle(
    spec: DrillSpec,
    target: Target,
    fault: Fault,
    ctx: FaultContext,
    state: RunState,
    observer: Observer,
    generator: Generator,
    options: RunOptions,
    slos: slo.SloConfig,
    phase: Callable[[str], None],
) -> None:
    journal, listener, started, clock = ctx.journal, ctx.emit, state.started, state.clock
    deadline = started + (options.max_duration_s or spec.abort.max_duration_s)
    rate = options.load_rate if options.load_rate is not None else spec.load.rate
    checker = AbortCheck(spec, slos, rate, started, deadline)
    schedule = composite.Schedule(spec, state.steps, journal, clock) if state.steps else None
    try:
        phase("preflight")
        preflight(spec, target, fault, ctx, observer, options, slos, clock, steps=state.steps)
        phase("baseline")
        state.original_rate = generator.mark().rate
        journal.append(Load(rate=rate, previous_rate=state.original_rate))
        generator.set_rate(rate)
        live.warm_imports()
        live.baseline(spec, observer, listener, started, deadline, clock)
        state.before = generator.mark()
        state.dead_lettered_since = observer.value(PROMETHEUS_NOW)
        phase("inject")
        if schedule is not None:
            _run_steps(schedule, state, observer, checker, ctx, phase)
        else:
            _inject_and_hold(fault, ctx, state, observer, checker, phase)
    except BaseException:
        state.interrupted_in = state.interrupted_in or state.phase
        raise
    finally:
        if schedule is not None:
            if any(run.active for run in state.steps):
                phase("rollback")
                _roll_back_steps(schedule, ctx, state)
        elif state.injection is not None or state.phase == "inject":
            phase("rollback")
            _rollback(fault, ctx, journal, state)
    assert state.injection is not None  # the schedule or the single fault injected: no exception
    t_inject = state.injection.at
    phase("recover")
    state.fault_report = (
        schedule.verify() if schedule is not None else fault.verify(ctx, state.injection)
    )
    journal.append(FaultVerified(figures=state.fault_report.figures))
    state.recovery_confirmed_at = live.await_recovery(spec, observer, ctx, checker, t_inject, clock)
    # Each step's alerts are awaited from that step's injection, with its own TTD objective.
    for view, at in [(r.ctx.spec, r.injection.at) for r in state.steps if r.injection] or [
        (spec, t_inject)
    ]:
        live.await_detection(view, observer, ctx, checker, at, clock)
    phase("verify")
    pg_dsn = ctx.endpoints.pg_dsn.reveal()
    ledger = settle_ledger(generator, state, pg_dsn, observer)
    phase("report")
    measure_run(spec, observer, state, ledger, ctx.endpoints.notification_url, slos, pg_dsn)
    judge(spec, state)


def _finish(
    spec: DrillSpec,
    state: RunState,
    generator: Generator,
    journal: Journal,
    run_dir: Path,
    listener: Listener,
    target: Target,
) -> None:
    """Always: restore the load, save the log evidence, write result.json, close the journal."""
    if state.original_rate is not None:
        try:
            generator.set_rate(state.original_rate)
            journal.append(LoadRestored(rate=state.original_rate))
        except TargetError as exc:
            state.notes.append(f"could not restore the generator rate: {exc}")
    generator.close()
    explain_unmeasured(state)
    finished = state.clock.now()
    if note := save_log_evidence(target, state.started, finished, run_dir):
        state.notes.append(note)
    report = state.fault_report
    result = state.result = replace(
        state.result,
        finished_at=utc(finished),
        wall_seconds=round(finished - state.started, 3),
        fault=None if report is None else composite.fault_summary(spec, report),
        reason="; ".join(filter(None, [state.result.reason, *state.notes])),
    )
    result.write(run_dir)
    journal.append(RunEnd(outcome=result.outcome))
    listener("result", {"outcome": result.outcome, "run_dir": str(run_dir)})


def _rollback(fault: Fault, ctx: FaultContext, journal: Journal, state: RunState) -> None:
    """Undo the fault, retrying only temporary failures (a 403 or 404 fails at once)."""
    try:
        state.rolled_back_at = composite.rollback(fault, ctx, journal, state.clock)
    except KeyboardInterrupt:
        state.interrupted_in = "rollback"
        raise


def _inject_and_hold(
    fault: Fault,
    ctx: FaultContext,
    state: RunState,
    observer: Observer,
    checker: AbortCheck,
    phase: Callable[[str], None],
) -> None:
    """A single-fault drill's inject and observe phases."""
    spec, journal = ctx.spec, ctx.journal
    journal.append(
        InjectIntent(kind=spec.fault.kind, component=spec.target, params=spec.fault.params)
    )
    injection = fault.inject(ctx)
    state.injection = injection
    journal.append(Injected(at=injection.at, source=injection.source, details=injection.details))
    ctx.emit("injected", {"at": injection.at})
    phase("observe")
    live.watch_while(
        lambda: fault.hold(ctx, injection), spec, observer, ctx, checker, injection.at, state.clock
    )


def _run_steps(
    schedule: composite.Schedule,
    state: RunState,
    observer: Observer,
    checker: AbortCheck,
    ctx: FaultContext,
    phase: Callable[[str], None],
) -> None:
    """A composite drill's inject and observe phases: the first injection is the drill's."""

    def injected(run: StepRun) -> None:
        assert run.injection is not None
        step = run.step
        ctx.emit("injected", {"at": run.injection.at, "step": step.name, "kind": step.fault.kind})
        if state.injection is None:
            state.injection = run.injection
            phase("observe")

    schedule.run(observer, checker, ctx, injected)


def _roll_back_steps(schedule: composite.Schedule, ctx: FaultContext, state: RunState) -> None:
    """Every step still in effect, in reverse order of injection."""
    try:
        schedule.roll_back_all()
    except KeyboardInterrupt:
        state.interrupted_in = "rollback"
        raise
    finally:
        done = [run.rolled_back_at for run in state.steps if run.rolled_back_at is not None]
        state.rolled_back_at = max(done, default=None)
