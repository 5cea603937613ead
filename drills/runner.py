"""The drill lifecycle (DESIGN.md §5): preflight → baseline → inject → observe → rollback →
recover → verify → report.

The runner never prints: it emits `(kind, data)` events to listeners (the console reporter, the
pytest plugin). Rollback runs in a `finally` — on success, failure, abort, Ctrl-C and SIGTERM (the
CLI turns SIGTERM into KeyboardInterrupt) — and is journaled, so a run whose harness died can be
finished by `recover`. Measurements are computed afterwards from Prometheus range data, never from
what the runner happened to see while polling.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from drills import budget, measure, retry, slo
from drills.abort import AbortCheck, Trip
from drills.chart_queries import CHART_QUERIES
from drills.errors import (
    Aborted,
    GenesisError,
    Interrupted,
    InvalidInput,
    ObservationError,
    PreflightRefused,
    RollbackFailed,
    TargetError,
)
from drills.faults.base import Fault, FaultContext, FaultReport, Injection
from drills.faults.registry import build as build_fault
from drills.journal import (
    AlertsQuiet,
    Budget,
    FaultVerified,
    Injected,
    InjectIntent,
    InternalError,
    Journal,
    Load,
    LoadRestored,
    PhaseStarted,
    RecoveredEarlierRun,
    RollbackDone,
    RollbackError,
    RollbackIntent,
    RunEnd,
    RunStart,
    UnfinishedRunLeftAlone,
    harness_process,
)
from drills.ledger import GeneratorClient, GeneratorMark, Ledger, counter_increase, reconcile
from drills.observe import Observer
from drills.outcome import Outcome
from drills.recovery import recover
from drills.results import AlertSummary, DrillResult, FaultSummary, Objective, Phase, utc
from drills.spec import DrillSpec
from drills.targets.base import Target

Listener = Callable[[str, Mapping[str, Any]], None]
STEP_S = 1.0
PRE_INJECT_WINDOW_S = 30.0
ALERT_QUIET_WAIT_S = 180.0
DEAD_LETTERED = 'events_processed_total{result="dead_lettered"}'
DEAD_LETTERED_TOTAL = f"sum({DEAD_LETTERED})"
# Raw samples read back before the ledger's mark, so every series has its pre-drill value even
# with production scrape intervals (a counter is scraped whether or not it moved).
DEAD_LETTERED_MARGIN_S = 120.0
# When the analysis service was last scraped: its `stored` series exists as soon as it has stored
# anything, where the dead-lettered one has no series until the first dead letter.
ANALYSIS_SCRAPED_AT = "max(timestamp(events_processed_total))"
FRESH_POLL_S = 0.25
PROMETHEUS_NOW = "vector(time())"  # an instant vector: `time()` alone is a scalar result
PIPELINE_COMPONENTS = ("rabbitmq", "postgres", "audit-log-analysis", "audit-event-generator")
# What an expected alert travels through after Prometheus: without them TTN cannot be measured
# and a drill would "pass" detection nobody was told about.
ALERTING_COMPONENTS = ("alertmanager", "notification-service")

# PreflightRefused and Aborted live in drills.errors; imported above, so
# `from drills.runner import PreflightRefused` keeps working.
ROLLBACK_BACKOFF = retry.Backoff(attempts=3, first_s=1.0, max_s=4.0)


@dataclass(frozen=True)
class RunOptions:
    runs_dir: Path
    load_rate: float | None = None
    max_duration_s: float | None = None
    dry_run: bool = False
    slo_config: Path | None = None  # None: GENESIS_SLO_CONFIG, else the packaged drills/slo.yaml


@dataclass
class _State:
    """Mutable bookkeeping of one run; `result` is replaced (frozen) as figures come in."""

    started: float
    result: DrillResult
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


def new_run_id(drill: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{drill}"


def plan(spec: DrillSpec, target: Target) -> list[str]:
    """The resolved plan, for --dry-run: touches nothing."""
    fault = build_fault(spec.fault)
    ctx = _context(spec, target, Journal.__new__(Journal), Path("."), _quiet)
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


def _quiet(_kind: str, _data: Mapping[str, Any]) -> None:
    return None


def _context(
    spec: DrillSpec, target: Target, journal: Journal, run_dir: Path, emit: Listener
) -> FaultContext:
    return FaultContext(spec, target, target.endpoints(), journal, run_dir, emit)


def run(
    spec: DrillSpec,
    target: Target,
    options: RunOptions,
    listener: Listener = _quiet,
    *,
    fault: Fault | None = None,
    observer: Observer | None = None,
    generator: GeneratorClient | None = None,
) -> DrillResult:
    """Run one drill end to end and write its run directory.

    Every outcome, including an internal error, ends as a result with an outcome and a reason;
    rollback has run by the time this returns. `fault`, `observer` and `generator` are seams for
    tests; by default they are built from the spec and the target's endpoints.
    """
    slos = slo.load(options.slo_config)  # bad input: refused before anything is written
    started = time.time()
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
    state = _State(started=started, result=result)
    endpoints = ctx.endpoints
    observer = observer or Observer(endpoints.prometheus_url)
    token = endpoints.generator_token.reveal()
    generator = generator or GeneratorClient(endpoints.generator_url, token)
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
        listener("phase", {"phase": name, "elapsed": time.time() - started})

    try:
        _lifecycle(spec, target, fault, ctx, state, observer, generator, options, slos, phase)
    except PreflightRefused as exc:
        _ended(state, Outcome.PREFLIGHT_REFUSED, str(exc))
    except Aborted as exc:
        _ended(state, Outcome.ABORTED, str(exc))
        _measure_safely(spec, observer, state, endpoints.notification_url, slos)
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
        _finish(spec, state, generator, journal, run_dir, listener)
    return state.result


def _ended(state: _State, outcome: Outcome, reason: str) -> None:
    state.result = replace(state.result, outcome=outcome, reason=reason)


def _lifecycle(
    spec: DrillSpec,
    target: Target,
    fault: Fault,
    ctx: FaultContext,
    state: _State,
    observer: Observer,
    generator: GeneratorClient,
    options: RunOptions,
    slos: slo.SloConfig,
    phase: Callable[[str], None],
) -> None:
    journal, listener, started = ctx.journal, ctx.emit, state.started
    deadline = started + (options.max_duration_s or spec.abort.max_duration_s)
    rate = options.load_rate if options.load_rate is not None else spec.load.rate
    checker = AbortCheck(spec, slos, rate, started, deadline)
    try:
        phase("preflight")
        _preflight(spec, target, fault, ctx, observer, options, slos)
        phase("baseline")
        state.original_rate = generator.mark().rate
        journal.append(Load(rate=rate, previous_rate=state.original_rate))
        generator.set_rate(rate)
        _warm_imports()
        _baseline(spec, observer, listener, started, deadline)
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
        _watch_while(lambda: fault.hold(ctx, injection), spec, observer, ctx, checker, injection.at)
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
    state.recovery_confirmed_at = _await_recovery(spec, observer, ctx, checker, injection.at)
    phase("verify")
    ledger = _settle_ledger(spec, generator, state, ctx.endpoints.pg_dsn.reveal(), observer)
    phase("report")
    _measure(spec, observer, state, ledger, ctx.endpoints.notification_url, slos)
    _judge(spec, state)


def _finish(
    spec: DrillSpec,
    state: _State,
    generator: GeneratorClient,
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
    finished = time.time()
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


# --- phases ----------------------------------------------------------------------------------


def _preflight(
    spec: DrillSpec,
    target: Target,
    fault: Fault,
    ctx: FaultContext,
    observer: Observer,
    options: RunOptions,
    slos: slo.SloConfig,
) -> None:
    # A harness died mid-drill earlier: finish what it left (fault, load, temporary files) on
    # this platform before disturbing anything else; runs of other platforms are only named.
    recovery = recover(
        options.runs_dir,
        target,
        lambda message: ctx.emit("recover", {"message": message}),
        exclude=ctx.run_dir,
    )
    for item in recovery.recovered:
        ctx.journal.append(RecoveredEarlierRun(run=item.run_dir.name, kind=item.kind))
    for alone in recovery.left_alone:
        ctx.journal.append(UnfinishedRunLeftAlone(run=alone.run_dir.name, why=alone.why))
    problems = []
    for component in dict.fromkeys((*PIPELINE_COMPONENTS, spec.target)):
        # A target that cannot be asked at all (sandbox stopped) raises TargetError right here.
        if not target.state(component).ready:
            problems.append(f"{component} is not ready")
    if spec.expected_alerts:
        problems += [
            f"{problem} (the drill expects alerts: {', '.join(spec.expected_alerts)})"
            for component in ALERTING_COMPONENTS
            if (problem := _alerting_problem(target, component, ctx))
        ]
    if not observer.ready():
        raise ObservationError(f"Prometheus at {observer.url} is not ready")
    problems += _budget_floor_problems(observer, slos, ctx)
    problems += fault.preflight(ctx)
    firing = _await_quiet_alerts(spec, observer, ctx)
    if firing:
        problems.append(
            f"expected alert(s) still firing {ALERT_QUIET_WAIT_S:.0f} s before the fault: "
            f"{', '.join(sorted(firing))} (a detection time would be meaningless)"
        )
    if problems:
        raise PreflightRefused(
            "preflight failed: "
            + "; ".join(problems)
            + "".join(f"; a dead run may be the cause: {a.describe()}" for a in recovery.left_alone)
        )


def _alerting_problem(target: Target, component: str, ctx: FaultContext) -> str:
    """Why `component` cannot carry an alert to the notification service ("" when it can).

    The target's own view first (the local sandbox supervises Alertmanager, with credentials);
    a target that does not model it (Kubernetes: Alertmanager is not an AuditFlow workload) is
    asked over HTTP at its endpoint, where a 401 means "up, behind basic auth".
    """
    try:
        return "" if target.state(component).ready else f"{component} is not ready"
    except TargetError:
        if component != "alertmanager":
            raise
    url = ctx.endpoints.alertmanager_url
    try:
        response = httpx.get(f"{url}/-/ready", timeout=5, verify=url.lower().startswith("https://"))
    except httpx.HTTPError as exc:
        return f"alertmanager at {url} is not answering ({type(exc).__name__})"
    if response.status_code in (200, 401):
        return ""
    return f"alertmanager at {url} is not ready (HTTP {response.status_code} on /-/ready)"


def _budget_floor_problems(observer: Observer, slos: slo.SloConfig, ctx: FaultContext) -> list[str]:
    """DESIGN.md §5: the error budget must be above the floor before a fault is injected."""
    objective = slos.event_latency
    if slos.budget_floor is None:
        ctx.journal.append(Budget(remaining=None, floor=None, source=slos.source))
        return []
    ratio = observer.value(budget.good_ratio_query(objective, objective.window_s))
    if ratio is None:  # no traffic in the window: nothing has been spent
        ctx.journal.append(Budget(remaining=None, floor=slos.budget_floor, source=slos.source))
        return []
    left = budget.remaining(ratio, objective)
    ctx.journal.append(
        Budget(remaining=round(left, 4), floor=slos.budget_floor, source=slos.source)
    )
    if left > slos.budget_floor:
        return []
    return [
        f"error budget remaining {left:.1%} is not above the floor {slos.budget_floor:.1%} "
        f"({objective.describe()}; {slos.source}): wait until the slow events leave the "
        f"{objective.window_s:g} s window, or run with an SLO configuration (--slo-config) whose "
        "preflight.budget_floor is lower or null"
    ]


def _await_quiet_alerts(spec: DrillSpec, observer: Observer, ctx: FaultContext) -> set[str]:
    """Wait (bounded) until none of the drill's expected alerts is firing.

    An alert still firing from an earlier disturbance (AuditAnalysisRestarted looks back two
    minutes) would not transition again, so its TTD could not be measured: better to wait a
    little than to refuse, as back-to-back drills and game days often need.
    """
    started = time.monotonic()
    deadline = started + ALERT_QUIET_WAIT_S
    waited_for: set[str] = set()
    while True:
        firing = _firing_now(observer) & set(spec.expected_alerts)
        if not firing or time.monotonic() > deadline:
            if waited_for:  # the wait is the platform's, not the harness's: say how long it was
                ctx.journal.append(
                    AlertsQuiet(
                        alerts=tuple(sorted(waited_for)),
                        waited_s=round(time.monotonic() - started, 3),
                        still_firing=tuple(sorted(firing)),
                    )
                )
            return firing
        waited_for |= firing
        ctx.emit("waiting", {"for": f"{', '.join(sorted(firing))} to resolve"})
        time.sleep(2 * STEP_S)


def _firing_now(observer: Observer) -> set[str]:
    firing = set()
    for series in observer.range('ALERTS{alertstate="firing"}', time.time() - 2, time.time(), 1):
        if series.samples:
            firing.add(series.labels.get("alertname", "?"))
    return firing


def _probe_values(spec: DrillSpec, observer: Observer) -> dict[str, float | None]:
    return {probe.name: observer.value(probe.query) for probe in spec.steady_state}


def _holds(spec: DrillSpec, values: Mapping[str, float | None]) -> bool:
    return all(
        (value := values[probe.name]) is not None and probe.tolerance.holds(value)
        for probe in spec.steady_state
    )


# Imported by the ledger only at the end of a drill; not at start-up, where they were half of
# the harness's import time (psycopg ~0.3 s of CPU on the VM, seconds of wall on a busy one).
WARM_IMPORTS = ("psycopg",)


def _warm_imports() -> None:
    """Import the end-of-drill modules in the background while the baseline waits.

    The baseline is 8+ s of sleeping between Prometheus probes, so the import costs no wall time
    there; a failure is left for the real import to report where it happens.
    """

    def load() -> None:
        for name in WARM_IMPORTS:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="warm-imports", daemon=True).start()


def _baseline(
    spec: DrillSpec, observer: Observer, listener: Listener, started: float, deadline: float
) -> None:
    """Run load for the baseline period; the steady state must then hold K samples in a row."""
    baseline_end = time.time() + spec.load.baseline_s
    give_up = baseline_end + max(20.0, spec.load.baseline_s)
    streak = 0
    while True:
        values = _probe_values(spec, observer)
        listener("tick", {"elapsed": time.time() - started, "slis": values})
        streak = streak + 1 if _holds(spec, values) else 0
        now = time.time()
        if now >= baseline_end and streak >= spec.recovery_samples:
            return
        if now > give_up or now > deadline:
            broken = [
                f"{p.name}={values[p.name]} (wanted {p.tolerance.describe()})"
                for p in spec.steady_state
                if values[p.name] is None or not p.tolerance.holds(values[p.name] or math.nan)
            ]
            raise PreflightRefused(
                "the steady-state hypothesis does not hold under baseline load: "
                + "; ".join(broken or ["it did not hold for long enough"])
            )
        # The last probe falls on the end of the baseline, not up to a step after it.
        time.sleep(min(STEP_S, baseline_end - now) if now < baseline_end else STEP_S)


def _watch_while(
    action: Callable[[], None],
    spec: DrillSpec,
    observer: Observer,
    ctx: FaultContext,
    checker: AbortCheck,
    t_inject: float,
) -> None:
    """Run the fault's hold in a thread while ticking the live view; the first abort condition
    that trips stops the hold (and the caller's `finally` rolls back at once)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            action()
        except BaseException as exc:  # re-raised in the runner's thread
            errors.append(exc)

    worker = threading.Thread(target=target, name="fault-hold", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            values = _tick(spec, observer, ctx.emit, checker.started)
            trip = checker.check(observer, time.time(), t_inject, values)
            if trip is not None:
                ctx.stop.set()
                worker.join(10)
                raise _aborted(trip, ctx, "while holding the fault")
            worker.join(STEP_S)
    except KeyboardInterrupt:
        ctx.stop.set()
        worker.join(10)
        raise
    if errors:
        raise errors[0]


def _aborted(trip: Trip, ctx: FaultContext, where: str) -> Aborted:
    ctx.journal.append(trip.journal_record(phase=where))
    ctx.emit("abort", trip.record())
    return Aborted(f"{trip.describe()}, {where}")


def _tick(
    spec: DrillSpec, observer: Observer, listener: Listener, started: float
) -> dict[str, float | None]:
    try:
        values = _probe_values(spec, observer)
        firing = sorted(_firing_now(observer))
    except ObservationError:
        values, firing = {}, ["(Prometheus unreachable)"]
    listener("tick", {"elapsed": time.time() - started, "slis": values, "firing": firing})
    return values


def _rollback(fault: Fault, ctx: FaultContext, journal: Journal, state: _State) -> None:
    """Undo the fault, retrying only temporary failures (a 403 or 404 fails at once)."""
    journal.append(RollbackIntent(kind=ctx.spec.fault.kind))

    def failed(attempt: int, exc: Exception, will_retry: bool) -> None:
        journal.append(RollbackError(attempt=attempt, error=str(exc), retry=will_retry))

    try:
        retry.call(lambda: fault.rollback(ctx), ROLLBACK_BACKOFF, on_error=failed)
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
    state.rolled_back_at = time.time()
    journal.append(RollbackDone(at=state.rolled_back_at))


def _await_recovery(
    spec: DrillSpec,
    observer: Observer,
    ctx: FaultContext,
    checker: AbortCheck,
    t_inject: float,
) -> float | None:
    """Wait (live, bounded) until the steady state holds K samples and the backlog is drained;
    the abort conditions still apply. The figure itself is computed afterwards from range data."""
    limit = t_inject + (spec.objectives.max_ttr_s or 120.0) * 2 + 30
    streak = 0
    while time.time() < limit:
        values = _probe_values(spec, observer)
        backlog = observer.value(spec.backlog_query) if spec.backlog_query else 0.0
        drained = backlog is not None and backlog <= spec.backlog_max
        ctx.emit(
            "tick",
            {"elapsed": time.time() - checker.started, "slis": values, "backlog": backlog},
        )
        trip = checker.check(observer, time.time(), t_inject, values)
        if trip is not None:
            raise _aborted(trip, ctx, "while awaiting recovery")
        streak = streak + 1 if _holds(spec, values) and drained else 0
        if streak >= spec.recovery_samples:
            return time.time()
        time.sleep(STEP_S)
    return None


def _settle_ledger(
    spec: DrillSpec, generator: GeneratorClient, state: _State, dsn: str, observer: Observer
) -> Ledger | None:
    """Account for the canary range, then read how many messages were dead-lettered meanwhile.

    Stored rows first: once every confirmed event up to the final mark is in PostgreSQL, the
    analysis service has consumed everything published before them (one queue, in order), so the
    first scrape taken after that moment holds the final dead-letter count.
    """
    if state.before is None:
        return None
    after = generator.wait_drained(timeout=60)
    ledger = reconcile(dsn, state.before, after, 0)
    _fresh_counter(observer, DEAD_LETTERED_TOTAL, ANALYSIS_SCRAPED_AT)  # waits for that scrape
    return replace(ledger, dead_lettered=_dead_lettered_since(observer, state.dead_lettered_since))


def _dead_lettered_since(observer: Observer, since: float | None) -> int:
    """Dead letters since the ledger's mark, from the counter's raw samples.

    Summing increments across samples survives a consumer restart (the counter drops to 0 and
    counts again), as Prometheus's `increase()` does; the difference of two readings did not — a
    restarted consumer that dead-lettered as many as before the drill read as 0. Raw samples (a
    range selector in an instant query), not a `query_range` grid that could skip the reset.
    """
    now = observer.value(PROMETHEUS_NOW) or time.time()
    start = since if since is not None else now
    series = observer.raw_samples(DEAD_LETTERED, now - start + DEAD_LETTERED_MARGIN_S)
    return round(counter_increase([s.samples for s in series], start))


def _fresh_counter(
    observer: Observer,
    query: str,
    scraped_at_query: str,
    timeout: float = 15.0,
    poll_s: float = FRESH_POLL_S,
) -> float | None:
    """A counter's value from the first scrape taken after this call started.

    The exact difference of two counter readings, not `increase()`, whose extrapolation over a
    window gave 284 or 320 for 300 dead-lettered messages; and only from a scrape newer than the
    moment the work was done, since a busy service can miss a scrape or two. "Newer" is judged on
    Prometheus' own clock (PROMETHEUS_NOW), so a harness whose clock differs from the cluster's
    cannot take a stale scrape for a fresh one; and from `scraped_at_query` (the service's latest
    scrape time), not from the counter: a counter never incremented since the service (re)started
    has no series at all and reads 0 — judged by its own timestamp it made every drill without dead
    letters wait out the whole timeout. Polled faster than the scrape interval, so the answer comes
    within a scrape of the work being done.
    """
    deadline = time.monotonic() + timeout
    since = observer.value(PROMETHEUS_NOW)
    while True:
        scraped_at = observer.value(scraped_at_query)
        value = observer.value(query)
        if since is not None and scraped_at is not None and scraped_at >= since:
            return 0.0 if value is None else value
        if time.monotonic() > deadline:
            return value
        if since is None:
            since = observer.value(PROMETHEUS_NOW)
        time.sleep(poll_s)


# --- measurement -----------------------------------------------------------------------------


def _measure_safely(
    spec: DrillSpec,
    observer: Observer,
    state: _State,
    notify_url: str,
    slos: slo.SloConfig,
) -> None:
    try:
        _measure(spec, observer, state, None, notify_url, slos)
    except GenesisError as exc:
        state.notes.append(f"measurement after abort failed: {exc}")


def _range_end(recovery_confirmed_at: float | None) -> float:
    """End of the range queries: now, but at least two steps after the live-confirmed recovery,
    so Prometheus has recorded the last samples of the streak. The ledger check usually covers
    that wait already; the pause is only the part of it that is left."""
    now = time.time()
    if recovery_confirmed_at is None:
        return now
    wanted = recovery_confirmed_at + 2 * STEP_S
    if wanted > now:
        time.sleep(wanted - now)
        return wanted
    return now


def _measure(
    spec: DrillSpec,
    observer: Observer,
    state: _State,
    ledger: Ledger | None,
    notify_url: str,
    slos: slo.SloConfig,
) -> None:
    """The figures, from Prometheus range data; each part lands on the result as soon as it is
    known, so an observation error half-way keeps what was measured before it."""
    injection = state.injection
    if injection is None:
        return
    t_inject = injection.at
    start = t_inject - PRE_INJECT_WINDOW_S
    end = _range_end(state.recovery_confirmed_at)
    state.result = replace(state.result, injected_at=utc(t_inject), ledger=ledger)
    series_dump: dict[str, Any] = {"window": [start, end], "step": STEP_S, "queries": {}}

    # Detection.
    alert_series = observer.alert_series(start, end, STEP_S)
    for_durations = observer.rules_for()
    eval_interval = observer.evaluation_interval()
    times = [
        measure.alert_times(
            name,
            alert_series.get((name, "pending"), []),
            alert_series.get((name, "firing"), []),
            t_inject,
        )
        for name in spec.expected_alerts
    ]
    ttd = measure.time_to_detect(times, t_inject)
    state.result = replace(
        state.result, ttd_seconds=ttd.seconds, ttd_source=ttd.source, ttd_reason=ttd.reason
    )
    fired_after = {
        name
        for (name, alertstate), samples in alert_series.items()
        if alertstate == "firing" and any(t >= t_inject and v == 1 for t, v in samples)
    }
    firing_before = {
        name
        for (name, alertstate), samples in alert_series.items()
        if alertstate == "firing" and any(t < t_inject for t, _ in samples)
    }
    expected = spec.expected_alerts
    alerts = AlertSummary(
        expected=expected,
        fired=tuple(sorted(n for n in expected if n in fired_after)),
        missed=tuple(sorted(n for n in expected if n not in fired_after)),
        unexpected=tuple(sorted(fired_after - set(expected) - firing_before)),
        first_pending_at={a.name: utc(a.first_pending_at) for a in times},
        first_firing_at={a.name: utc(a.first_firing_at) for a in times},
        for_seconds={name: for_durations.get(name, 0.0) for name in expected},
        evaluation_interval_s=eval_interval,
    )
    detected_at = None if ttd.seconds is None else utc(t_inject + ttd.seconds)
    state.result = replace(state.result, alerts=alerts, detected_at=detected_at)
    series_dump["queries"]["ALERTS"] = {f"{k[0]}/{k[1]}": v for k, v in alert_series.items()}

    # Notification.
    ttn, ttn_source, ttn_reason = _time_to_notify(notify_url, spec.expected_alerts, t_inject)
    state.result = replace(
        state.result, ttn_seconds=ttn, ttn_source=ttn_source, ttn_reason=ttn_reason
    )

    # Recovery.
    # The steady state is judged over the observation window, which ends once recovery was
    # confirmed live: noise minutes later (the ledger and report phases) is not this fault's.
    sli_end = min(end, (state.recovery_confirmed_at or end) + 2 * STEP_S)
    sli_series = {
        p.name: observer.single_range(p.query, start, sli_end, STEP_S) for p in spec.steady_state
    }
    for probe in spec.steady_state:
        series_dump["queries"][probe.query] = sli_series[probe.name]
    timeline = measure.in_tolerance_timeline(
        sli_series, {p.name: p.tolerance for p in spec.steady_state}, start, sli_end, STEP_S
    )
    backlog: list[measure.Sample] = []
    if spec.backlog_query:
        backlog = observer.single_range(spec.backlog_query, start, sli_end, STEP_S)
        series_dump["queries"][spec.backlog_query] = backlog
    breach = measure.first_breach(timeline, t_inject)
    after = breach or t_inject
    drained = (
        measure.drained_at(backlog, after, spec.backlog_max, spec.recovery_samples)
        if backlog
        else None
    )
    ttr, recovered_at = measure.time_to_recover(
        timeline, after, t_inject, spec.recovery_samples, drained, bool(spec.backlog_query)
    )
    ready_at = state.fault_report.ready_at if state.fault_report else None
    firing_at = min((a.first_firing_at for a in times if a.first_firing_at), default=None)
    state.result = replace(
        state.result,
        ttr_seconds=ttr.seconds,
        ttr_source=ttr.source,
        ttr_reason=ttr.reason,
        recovered_at=utc(recovered_at),
        phases=(
            _phase("inject", t_inject, t_inject, "journal"),
            _phase("first SLO breach", breach, t_inject, "prometheus: steady-state probes"),
            _phase("alert firing", firing_at, t_inject, "prometheus: ALERTS"),
            _phase("component ready", ready_at, t_inject, f"target: {state.result.target}"),
            _phase("SLO restored", recovered_at, t_inject, "prometheus: steady-state probes"),
            _phase("backlog drained", drained, t_inject, f"prometheus: {spec.backlog_query}"),
            # A recovery that broke again (DESIGN.md §4): TTR is the final recovery, these say why.
            *(
                _phase("recovery broke again", flap.broke_at, t_inject, "prometheus: SLIs")
                for flap in measure.flaps(timeline, after, spec.recovery_samples)
            ),
        ),
    )

    _error_budget(spec, observer, state, t_inject, end, slos)
    _save_chart_series(observer, series_dump["queries"], start, end)
    run_dir = Path(state.result.run_dir)
    (run_dir / "series.json").write_text(json.dumps(series_dump))


def _save_chart_series(
    observer: Observer, queries: dict[str, Any], start: float, end: float
) -> None:
    """The post-mortem chart's SLIs, saved whatever the drill's own probes are (best effort)."""
    for query in CHART_QUERIES:
        if query not in queries:
            # A missing chart line must not fail the run; the chart says "no data" instead.
            with contextlib.suppress(ObservationError):
                queries[query] = observer.single_range(query, start, end, STEP_S)


def _error_budget(
    spec: DrillSpec,
    observer: Observer,
    state: _State,
    t_inject: float,
    end: float,
    slos: slo.SloConfig,
) -> None:
    """Share of the latency SLO's budget the drill consumed (drills.budget, drills/slo.yaml)."""
    objective = slos.event_latency
    bad = observer.value(budget.bad_events_query(objective, end - t_inject))
    used = None if bad is None else budget.consumed(bad, objective, spec.load.rate)
    if used is None:
        state.result = replace(state.result, error_budget_reason="no latency data in the window")
    else:
        state.result = replace(
            state.result,
            error_budget_consumed=used.share,
            error_budget_reason=used.describe(objective, spec.load.rate),
        )


def _phase(name: str, at: float | None, t_inject: float, source: str) -> Phase:
    return Phase(name, utc(at), None if at is None else round(at - t_inject, 3), source)


def _time_to_notify(
    notify_url: str, alerts: tuple[str, ...], t_inject: float
) -> tuple[float | None, str, str]:
    source = "notification-service: first_received_at of the Alertmanager webhook"
    if not alerts:
        return None, source, "the drill expects no alert"
    best: float | None = None
    try:
        for name in alerts:
            response = httpx.get(
                f"{notify_url}/api/v1/alerts",
                params={"name": name, "source": "alertmanager"},
                timeout=5,
                verify=notify_url.lower().startswith("https://"),  # no CA bundle for http
            )
            response.raise_for_status()
            for alert in response.json().get("alerts", []):
                received = datetime.fromisoformat(alert["first_received_at"]).timestamp()
                if received >= t_inject and (best is None or received < best):
                    best = received
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return None, source, f"notification service could not be read: {exc}"
    if best is None:
        return None, source, "no expected alert reached the notification service"
    return round(best - t_inject, 3), source, ""


def _judge(spec: DrillSpec, state: _State) -> None:
    result = state.result
    objectives: list[Objective] = []
    o = spec.objectives

    def add(name: str, target: str, measured: float | None, ok: bool, unit: str = "") -> None:
        shown = "n/a" if measured is None else f"{measured:g}{unit}"
        objectives.append(Objective(name, target, shown, ok))

    if o.max_ttd_s is not None:
        add(
            "time to detect",
            f"<= {o.max_ttd_s:g}s",
            result.ttd_seconds,
            result.ttd_seconds is not None and result.ttd_seconds <= o.max_ttd_s,
            "s",
        )
    if o.max_ttr_s is not None:
        add(
            "time to recover",
            f"<= {o.max_ttr_s:g}s",
            result.ttr_seconds,
            result.ttr_seconds is not None and result.ttr_seconds <= o.max_ttr_s,
            "s",
        )
    ledger = result.ledger
    if ledger is not None and not ledger.note:
        add("events lost", f"<= {o.max_lost}", ledger.lost, ledger.lost <= o.max_lost)
        add(
            "events duplicated",
            f"<= {o.max_duplicated}",
            ledger.duplicated,
            ledger.duplicated <= o.max_duplicated,
        )
    else:
        add("events lost", f"<= {o.max_lost}", None, False)
    if o.max_error_budget is not None:
        consumed = result.error_budget_consumed
        add(
            "error budget consumed",
            f"<= {o.max_error_budget:g}",
            consumed,
            consumed is not None and consumed <= o.max_error_budget,
        )
    if result.alerts is not None:
        objectives.append(
            Objective(
                "expected alerts fired",
                ", ".join(result.alerts.expected) or "none",
                ", ".join(result.alerts.fired) or "none",
                not result.alerts.missed,
            )
        )
    if state.fault_report is not None:
        for check in state.fault_report.checks:
            objectives.append(Objective(check.name, "yes", check.detail, check.passed))
    passed = all(obj.passed for obj in objectives)
    missed = [obj.name for obj in objectives if not obj.passed]
    state.result = replace(
        result,
        objectives=tuple(objectives),
        outcome=Outcome.PASSED if passed else Outcome.FAILED,
        reason="all objectives met" if passed else "missed: " + ", ".join(missed),
    )


def load_spec_or_name(value: str, catalog: Path) -> Path:
    """A drill argument is a path to a YAML file or the name of a catalog drill."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise InvalidInput(f"{value}: no such drill file")
        return path
    candidate = catalog / f"{value}.yaml"
    if not candidate.exists():
        known = ", ".join(sorted(p.stem for p in catalog.glob("*.yaml")))
        raise InvalidInput(f"unknown drill {value!r} (catalog: {known})")
    return candidate
