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

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from drills import client_probe, live, retry, slo
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
    RollbackDone,
    RollbackError,
    RollbackIntent,
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
from drills.results import DrillResult, FaultSummary, utc
from drills.run_state import Listener, RunOptions, RunState, quiet
from drills.seams import Generator, Observer
from drills.settle import PROMETHEUS_NOW, settle_ledger
from drills.spec import DrillSpec
from drills.targets.base import Target

# Re-exported: callers name the run's options, listener type and drill lookup through the runner.
__all__ = ["Listener", "RunOptions", "load_spec_or_name", "plan", "run"]

ROLLBACK_BACKOFF = retry.Backoff(attempts=3, first_s=1.0, max_s=4.0)


def new_run_id(drill: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or SYSTEM_CLOCK.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{drill}"


def plan(spec: DrillSpec, target: Target) -> list[str]:
    """The resolved plan, for --dry-run: touches nothing."""
    fault = build_fault(spec.fault)
    ctx = _context(spec, target, Journal.__new__(Journal), Path("."), quiet)
    lines = [
        f"drill {spec.name}: {spec.description}",
        f"target: {target.describe()}",
        f"component: {spec.target}",
        f"load: {spec.load.rate:g} events/s, baseline {spec.load.baseline_s:g} s",
        "steady state: "
        + "; ".join(f"{p.name} {p.tolerance.describe()}" for p in spec.steady_state),
        f"expected alerts: {', '.join(spec.expected_alerts) or 'none'}",
        *fault.plan(ctx),
        f"abort after {spec.abort.max_duration_s:g} s in total; rollback always runs",
    ]
    return lines


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
) -> DrillResult:
    """Run one drill end to end and write its run directory.

    Every outcome, including an internal error, ends as a result with an outcome and a reason;
    rollback has run by the time this returns. `fault`, `observer`, `generator`, `clock` and
    `prober` are seams for tests; by default they are built from the spec and the target's
    endpoints. The client probe runs from the baseline to the end of recovery (its phase hook)
    and is stopped in the `finally` whatever happened.
    """
    slos = slo.load(options.slo_config)  # bad input: refused before anything is written
    started = clock.now()
    run_id = new_run_id(spec.name, started)
    run_dir = options.runs_dir / run_id
    journal = Journal(run_dir)
    ctx = _context(spec, target, journal, run_dir, listener)
    fault = fault or build_fault(spec.fault)
    result = DrillResult(
        run_id=run_id,
        drill=spec.name,
        target=target.name,
        outcome=Outcome.ERROR,
        reason="",
        started_at=utc(started),
        run_dir=str(run_dir),
    )
    state = RunState(started=started, result=result, clock=clock)
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
        _finish(spec, state, generator, journal, run_dir, listener)
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
    try:
        phase("preflight")
        preflight(spec, target, fault, ctx, observer, options, slos, clock)
        phase("baseline")
        state.original_rate = generator.mark().rate
        journal.append(Load(rate=rate, previous_rate=state.original_rate))
        generator.set_rate(rate)
        live.warm_imports()
        live.baseline(spec, observer, listener, started, deadline, clock)
        state.before = generator.mark()
        state.dead_lettered_since = observer.value(PROMETHEUS_NOW)
        phase("inject")
        journal.append(
            InjectIntent(kind=spec.fault.kind, component=spec.target, params=spec.fault.params)
        )
        injection = fault.inject(ctx)
        state.injection = injection
        journal.append(
            Injected(at=injection.at, source=injection.source, details=injection.details)
        )
        listener("injected", {"at": injection.at})
        phase("observe")
        live.watch_while(
            lambda: fault.hold(ctx, injection), spec, observer, ctx, checker, injection.at, clock
        )
    except BaseException:
        state.interrupted_in = state.interrupted_in or state.phase
        raise
    finally:
        if state.injection is not None or state.phase == "inject":
            phase("rollback")
            _rollback(fault, ctx, journal, state)
    phase("recover")
    state.fault_report = fault.verify(ctx, injection)
    journal.append(FaultVerified(figures=state.fault_report.figures))
    state.recovery_confirmed_at = live.await_recovery(
        spec, observer, ctx, checker, injection.at, clock
    )
    live.await_detection(spec, observer, ctx, checker, injection.at, clock)
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
) -> None:
    """Always: restore the load, write result.json and close the journal."""
    if state.original_rate is not None:
        try:
            generator.set_rate(state.original_rate)
            journal.append(LoadRestored(rate=state.original_rate))
        except TargetError as exc:
            state.notes.append(f"could not restore the generator rate: {exc}")
    generator.close()
    explain_unmeasured(state)
    finished = state.clock.now()
    report = state.fault_report
    result = state.result = replace(
        state.result,
        finished_at=utc(finished),
        wall_seconds=round(finished - state.started, 3),
        fault=None
        if report is None
        else FaultSummary(spec.fault.kind, spec.fault.params, report.figures, report.checks),
        reason="; ".join(filter(None, [state.result.reason, *state.notes])),
    )
    result.write(run_dir)
    journal.append(RunEnd(outcome=result.outcome))
    listener("result", {"outcome": result.outcome, "run_dir": str(run_dir)})


def _rollback(fault: Fault, ctx: FaultContext, journal: Journal, state: RunState) -> None:
    """Undo the fault, retrying only temporary failures (a 403 or 404 fails at once)."""
    journal.append(RollbackIntent(kind=ctx.spec.fault.kind))

    def failed(attempt: int, exc: Exception, will_retry: bool) -> None:
        journal.append(RollbackError(attempt=attempt, error=str(exc), retry=will_retry))

    try:
        retry.call(
            lambda: fault.rollback(ctx), ROLLBACK_BACKOFF, on_error=failed, sleep=state.clock.sleep
        )
    except (TargetError, OSError) as exc:
        kind = "temporary" if retry.is_temporary(exc) else "permanent"
        raise RollbackFailed(
            f"rollback of {ctx.spec.fault.kind} on {ctx.spec.target} failed ({kind} error): "
            f"{exc}. The platform may be broken: run `genesis-drill recover` and check "
            "`genesis-drill platform status`."
        ) from exc
    except KeyboardInterrupt:
        state.interrupted_in = "rollback"
        raise
    state.rolled_back_at = state.clock.now()
    journal.append(RollbackDone(at=state.rolled_back_at))
