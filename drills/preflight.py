"""Preflight (DESIGN.md §5): what must hold before a fault may be injected.

A dead harness's leftovers on this platform are recovered first; then every component the drill
touches must be ready, Alertmanager and the notification service too when alerts are expected,
Prometheus must answer, the error budget must be above its floor, the fault's own checks must
pass, and the expected alerts must not already be firing (waited out, bounded). Every problem
is collected into one refusal, so a user fixes them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from drills import budget, slo
from drills.clock import SYSTEM_CLOCK, Clock
from drills.crash_recovery import recover
from drills.errors import ObservationError, PreflightRefused, TargetError
from drills.faults.base import Fault, FaultContext
from drills.journal import AlertsQuiet, Budget, RecoveredEarlierRun, UnfinishedRunLeftAlone
from drills.live import firing_now
from drills.run_state import STEP_S, RunOptions, StepRun
from drills.seams import Observer
from drills.spec import DrillSpec
from drills.targets.base import Target

ALERT_QUIET_WAIT_S = 180.0
PIPELINE_COMPONENTS = ("rabbitmq", "postgres", "audit-log-analysis", "audit-event-generator")
# What an expected alert travels through after Prometheus: without them TTN cannot be measured
# and a drill would "pass" detection nobody was told about.
ALERTING_COMPONENTS = ("alertmanager", "notification-service")


def preflight(
    spec: DrillSpec,
    target: Target,
    fault: Fault,
    ctx: FaultContext,
    observer: Observer,
    options: RunOptions,
    slos: slo.SloConfig,
    clock: Clock = SYSTEM_CLOCK,
    steps: Sequence[StepRun] = (),
) -> None:
    """Everything that must hold before a fault may be injected; every problem found is named
    in one refusal (exit 3), and nothing has been disturbed when it is raised. A composite
    drill (`steps`) checks every step's component and fault: a fault kind this target refuses
    refuses the whole drill before any step is injected."""
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
    touched = [run.ctx.spec.target for run in steps] or [spec.target]
    for component in dict.fromkeys((*PIPELINE_COMPONENTS, *touched)):
        # A target that cannot be asked at all (sandbox stopped) raises TargetError right here.
        if not target.state(component).ready:
            problems.append(f"{component} is not ready")
    if spec.expected_alerts:
        problems += [
            f"{problem} (the drill expects alerts: {', '.join(spec.expected_alerts)})"
            for component in ALERTING_COMPONENTS
            if (problem := alerting_problem(target, component, ctx))
        ]
    if not observer.ready():
        raise ObservationError(f"Prometheus at {observer.url} is not ready")
    problems += budget_floor_problems(observer, slos, ctx)
    if steps:
        for run in steps:
            problems += [f"step {run.step.name}: {p}" for p in run.fault.preflight(run.ctx)]
    else:
        problems += fault.preflight(ctx)
    firing = await_quiet_alerts(spec, observer, ctx, clock)
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


def alerting_problem(target: Target, component: str, ctx: FaultContext) -> str:
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


def budget_floor_problems(observer: Observer, slos: slo.SloConfig, ctx: FaultContext) -> list[str]:
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


def await_quiet_alerts(
    spec: DrillSpec, observer: Observer, ctx: FaultContext, clock: Clock = SYSTEM_CLOCK
) -> set[str]:
    """Wait (bounded) until none of the drill's expected alerts is firing.

    An alert still firing from an earlier disturbance (AuditAnalysisRestarted looks back two
    minutes) would not transition again, so its TTD could not be measured: better to wait a
    little than to refuse, as back-to-back drills and game days often need.
    """
    started = clock.monotonic()
    deadline = started + ALERT_QUIET_WAIT_S
    waited_for: set[str] = set()
    while True:
        firing = firing_now(observer, clock) & set(spec.expected_alerts)
        if not firing or clock.monotonic() > deadline:
            if waited_for:  # the wait is the platform's, not the harness's: say how long it was
                ctx.journal.append(
                    AlertsQuiet(
                        alerts=tuple(sorted(waited_for)),
                        waited_s=round(clock.monotonic() - started, 3),
                        still_firing=tuple(sorted(firing)),
                    )
                )
            return firing
        waited_for |= firing
        ctx.emit("waiting", {"for": f"{', '.join(sorted(firing))} to resolve"})
        clock.sleep(2 * STEP_S)
