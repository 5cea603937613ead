"""The figures of a run, computed after the fact from Prometheus range data (DESIGN.md §4): TTD
and the alerts, TTN, TTR with its phases and flaps, the backlog's peaks against its limits, the
error budget consumed, and the series saved for the post-mortem's chart. Each part lands on the
result as soon as it is known.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from drills import backlog, backlog_peaks, budget, measure, slo
from drills.chart_queries import CHART_QUERIES
from drills.clock import SYSTEM_CLOCK, Clock
from drills.errors import GenesisError, ObservationError
from drills.faults.base import FaultReport
from drills.ledger import Ledger
from drills.outcome import Outcome
from drills.results import AlertSummary, Phase, utc
from drills.run_state import STEP_S, RunState
from drills.seams import Observer
from drills.spec import DrillSpec
from drills.step_figures import slowest_detection, step_results
from drills.time_to_notify import time_to_notify

PRE_INJECT_WINDOW_S = 30.0


def measure_safely(
    spec: DrillSpec,
    observer: Observer,
    state: RunState,
    notify_url: str,
    slos: slo.SloConfig,
) -> None:
    """After an abort: measure what can be measured; a failure is a note, not a second error."""
    try:
        measure_run(spec, observer, state, None, notify_url, slos)
    except GenesisError as exc:
        state.notes.append(f"measurement after abort failed: {exc}")


def range_end(recovery_confirmed_at: float | None, clock: Clock = SYSTEM_CLOCK) -> float:
    """End of the range queries: now, but at least two steps after the live-confirmed recovery,
    so Prometheus has recorded the last samples of the streak. The ledger check usually covers
    that wait already; the pause is only the part of it that is left."""
    now = clock.now()
    if recovery_confirmed_at is None:
        return now
    wanted = recovery_confirmed_at + 2 * STEP_S
    if wanted > now:
        clock.sleep(wanted - now)
        return wanted
    return now


def measure_run(
    spec: DrillSpec,
    observer: Observer,
    state: RunState,
    ledger: Ledger | None,
    notify_url: str,
    slos: slo.SloConfig,
    pg_dsn: str | None = None,
) -> None:
    """The figures, from Prometheus range data (and the exact backlog from PostgreSQL, `pg_dsn`);
    each part lands on the result as soon as it is known, so an observation error half-way keeps
    what was measured before it."""
    injection = state.injection
    if injection is None:
        return
    t_inject = injection.at
    start = t_inject - PRE_INJECT_WINDOW_S
    end = range_end(state.recovery_confirmed_at, state.clock)
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
            eval_interval,
        )
        for name in spec.expected_alerts
    ]
    ttd = measure.time_to_detect(times, t_inject)
    fired_after = {
        name
        for (name, alertstate), samples in alert_series.items()
        if alertstate == "firing" and any(t >= t_inject and v == 1 for t, v in samples)
    }
    if state.steps:
        times, ttd, fired_after = _step_detection(spec, state, alert_series, eval_interval)
    state.result = replace(
        state.result, ttd_seconds=ttd.seconds, ttd_source=ttd.source, ttd_reason=ttd.reason
    )
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
    ttn, ttn_source, ttn_reason = time_to_notify(
        notify_url, spec.expected_alerts, t_inject, {a.name: a.first_firing_at for a in times}
    )
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
    breach = measure.first_breach(timeline, t_inject)
    after = breach or t_inject
    if state.steps and state.rolled_back_at is not None:
        # A composite drill recovers after its last rollback: a recovery between two steps is
        # neither the drill's recovery nor a flap of it.
        after = max(after, state.rolled_back_at)
    ready_at = state.fault_report.ready_at if state.fault_report else None
    drain = backlog.drainage(
        spec,
        observer,
        ledger,
        pg_dsn,
        backlog.Window(start, t_inject, after, sli_end, end, ready_at, STEP_S),
    )
    series_dump["queries"].update(drain.series)
    ttr, recovered_at = measure.time_to_recover(
        timeline,
        after,
        t_inject,
        spec.recovery_samples,
        drain.at,
        bool(spec.backlog_source),
        refine=lambda lower, upper: refined_recovery(observer, spec, lower, upper),
    )
    if ttr.seconds is None and drain.at is None and drain.missing:
        ttr = measure.Figure.missing(ttr.source, drain.missing)
    ttr, recovered_at = data_complete(ttr, recovered_at, state.fault_report, t_inject)
    complete_at = state.fault_report.complete_at if state.fault_report else None
    firing_at = min((a.first_firing_at for a in times if a.first_firing_at), default=None)
    state.result = replace(
        state.result,
        ttr_seconds=ttr.seconds,
        ttr_source=ttr.source,
        ttr_reason=ttr.reason,
        recovered_at=utc(recovered_at),
        phases=(
            phase("inject", t_inject, t_inject, "journal"),
            phase("first SLO breach", breach, t_inject, "prometheus: steady-state probes"),
            phase("alert firing", firing_at, t_inject, "prometheus: ALERTS"),
            phase("component ready", ready_at, t_inject, f"target: {state.result.target}"),
            phase("SLO restored", recovered_at, t_inject, "prometheus: steady-state probes"),
            phase("backlog drained", drain.at, t_inject, drain.source),
            *(
                [phase("data complete", complete_at, t_inject, state.fault_report.complete_source)]
                if state.fault_report is not None and complete_at is not None
                else []
            ),
            # A recovery that broke again (DESIGN.md §4): TTR is the final recovery, these say why.
            *(
                phase("recovery broke again", flap.broke_at, t_inject, "prometheus: SLIs")
                for flap in measure.flaps(timeline, after, spec.recovery_samples)
            ),
        ),
    )

    # How close the backlog came to its limits, over what the fault caused: injection → recovery.
    peaks = backlog_peaks.measure(
        observer, t_inject, recovered_at or sli_end, recovered=recovered_at is not None
    )
    state.result = replace(state.result, backlog_peaks=peaks)

    error_budget(spec, observer, state, t_inject, end, slos)
    save_chart_series(observer, series_dump["queries"], start, end)
    run_dir = Path(state.result.run_dir)
    (run_dir / "series.json").write_text(json.dumps(series_dump))


def _step_detection(
    spec: DrillSpec,
    state: RunState,
    alert_series: dict[tuple[str, str], list[measure.Sample]],
    eval_interval: float,
) -> tuple[list[measure.AlertTimes], measure.Figure, set[str]]:
    """A composite drill's detection: each step's alerts after its own injection (the steps
    land on the result), the drill's TTD the slowest step's, and the alerts that fired after
    the first injection — an expected one only when it fired in its own step."""
    t_inject = state.injection.at if state.injection else 0.0
    steps, step_times = step_results(state.steps, alert_series, eval_interval)
    state.result = replace(state.result, steps=steps)
    fired_after = {
        name
        for (name, alertstate), samples in alert_series.items()
        if alertstate == "firing"
        and name not in spec.expected_alerts
        and any(t >= t_inject and v == 1 for t, v in samples)
    }
    detected = {name for step in steps for name in step.detected_alerts}
    return list(step_times), slowest_detection(steps), fired_after | detected


FINE_STEP_S = 0.05  # the grid SLIs are re-read on between two one-second points


def refined_recovery(observer: Observer, spec: DrillSpec, lower: float, upper: float) -> float:
    """Where, between the timeline's last failing point `lower` and the recovery point `upper`
    a step later, the steady state came back: the SLIs re-read on a 50 ms grid, so the figure
    is late only by the scrape's lag, not by the query grid's phase as well. Best effort: a
    failed query keeps `upper`, the coarse answer."""
    try:
        fine = {
            p.name: observer.fine_range(p.query, lower, upper, FINE_STEP_S)
            for p in spec.steady_state
        }
    except ObservationError:
        return upper
    timeline = measure.in_tolerance_timeline(
        fine, {p.name: p.tolerance for p in spec.steady_state}, lower, upper, STEP_S
    )
    return measure.refine_run_start(timeline, lower, upper)


def data_complete(
    ttr: measure.Figure, recovered_at: float | None, report: FaultReport | None, t_inject: float
) -> tuple[measure.Figure, float | None]:
    """For a fault that destroys data, recovery is no earlier than the moment every confirmed
    event is present again (DESIGN.md §4): SLIs back while re-driven events are still missing
    is not a recovered platform. Events that never came back mean no recovery at all."""
    if report is None or ttr.seconds is None or recovered_at is None:
        return ttr, recovered_at
    if report.incomplete:
        return measure.Figure.missing(ttr.source, report.incomplete), None
    if report.complete_at is None or report.complete_at <= recovered_at:
        return ttr, recovered_at
    at = report.complete_at
    source = f"{ttr.source} + every confirmed event present again ({report.complete_source})"
    return measure.Figure(round(at - t_inject, 3), source), at


def save_chart_series(
    observer: Observer, queries: dict[str, Any], start: float, end: float
) -> None:
    """The post-mortem chart's SLIs, saved whatever the drill's own probes are (best effort)."""
    for query in CHART_QUERIES:
        if query not in queries:
            # A missing chart line must not fail the run; the chart says "no data" instead.
            with contextlib.suppress(ObservationError):
                queries[query] = observer.single_range(query, start, end, STEP_S)


def error_budget(
    spec: DrillSpec,
    observer: Observer,
    state: RunState,
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


def phase(name: str, at: float | None, t_inject: float, source: str) -> Phase:
    """A phase of the recovery at an absolute time, with its offset from the injection."""
    return Phase(name, utc(at), None if at is None else round(at - t_inject, 3), source)


def explain_unmeasured(state: RunState) -> None:
    """Give each figure that was never computed the reason why, so no report prints an empty
    one ("time to detect n/a ()"): a refused run never injected the fault; a run that ended
    early (an error, an interrupt, a failed rollback) stopped before it was measured."""
    outcome = state.result.outcome
    if state.injection is None:
        why = (
            "the fault was never injected: preflight refused"
            if outcome == Outcome.PREFLIGHT_REFUSED
            else f"the fault was never injected: the run ended ({outcome}) before the injection"
        )
    else:
        why = f"not measured: the run ended ({outcome}) before the figures were computed"
    result = state.result
    state.result = replace(
        result,
        ttd_reason=result.ttd_reason or ("" if result.ttd_seconds is not None else why),
        ttn_reason=result.ttn_reason or ("" if result.ttn_seconds is not None else why),
        ttr_reason=result.ttr_reason or ("" if result.ttr_seconds is not None else why),
    )
