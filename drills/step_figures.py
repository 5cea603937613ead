"""A composite drill's figures per step (issue 14): each step's time to detect — the first
firing of *its* expected alerts after *its* injection (DESIGN.md §4's TTD, per step) — and the
drill's TTD, the slowest step's.

Pure functions over the alert samples drills.measurement has already read, so a step's alert
that fired during an earlier step (AuditAnalysisRestarted looks back two minutes) is judged the
way a single-fault drill judges one that was firing before its fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drills import measure
from drills.measure import AlertTimes, Sample
from drills.results import StepResult, utc
from drills.run_state import StepRun


def step_results(
    runs: Sequence[StepRun],
    alert_series: Mapping[tuple[str, str], list[Sample]],
    evaluation_interval: float | None,
) -> tuple[tuple[StepResult, ...], tuple[AlertTimes, ...]]:
    """Each step that was injected (in order of injection) with its detection, and the alert
    times of every step's expected alerts (an alert two steps expect: the first step's)."""
    injected = sorted((r for r in runs if r.injection is not None), key=_injected_at)
    results: list[StepResult] = []
    times: dict[str, AlertTimes] = {}
    for run in injected:
        step, t_inject = run.step, _injected_at(run)
        own = [
            measure.alert_times(
                name,
                alert_series.get((name, "pending"), []),
                alert_series.get((name, "firing"), []),
                t_inject,
                evaluation_interval,
            )
            for name in step.expected_alerts
        ]
        for alert in own:
            times.setdefault(alert.name, alert)
        ttd = measure.time_to_detect(own, t_inject)
        results.append(
            StepResult(
                name=step.name,
                kind=step.fault.kind,
                component=step.component,
                start=step.describe_start(),
                injected_at=utc(t_inject),
                rolled_back_at=utc(run.rolled_back_at),
                ready_at=utc(run.ready_at),
                expected_alerts=step.expected_alerts,
                detected_alerts=tuple(a.name for a in own if a.first_firing_at is not None),
                detected_at=None if ttd.seconds is None else utc(t_inject + ttd.seconds),
                ttd_seconds=ttd.seconds,
                ttd_source=ttd.source,
                ttd_reason=ttd.reason,
            )
        )
    return tuple(results), tuple(times.values())


def _injected_at(run: StepRun) -> float:
    assert run.injection is not None
    return run.injection.at


def slowest_detection(steps: Sequence[StepResult]) -> measure.Figure:
    """The drill's TTD: the slowest step's (every step must be detected for it to exist), so a
    drill-level objective or trend never hides a step that was detected late or not at all."""
    expecting = [s for s in steps if s.expected_alerts]
    if not expecting:
        return measure.Figure.missing("", "the drill expects no alert")
    undetected = [s for s in expecting if s.ttd_seconds is None]
    if undetected:
        return measure.Figure.missing(
            expecting[0].ttd_source,
            "; ".join(f"step {s.name}: {s.ttd_reason}" for s in undetected),
        )
    worst = max(expecting, key=lambda s: s.ttd_seconds or 0.0)
    return measure.Figure(
        worst.ttd_seconds, f"the slowest step's ({worst.name}): {worst.ttd_source}"
    )
