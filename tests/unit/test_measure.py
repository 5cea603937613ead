"""TTD, TTR and phase maths over recorded Prometheus samples (drills.measure)."""

from __future__ import annotations

from drills import measure
from drills.faults.base import FaultReport
from drills.measurement import data_complete
from drills.spec import Tolerance

T0 = 1_000_000.0  # t_inject


def ones(start: float, end: float) -> list[tuple[float, float]]:
    return [(float(t), 1.0) for t in range(int(start), int(end) + 1)]


def test_ttd_is_first_firing_sample_after_inject():
    """TTD = first firing sample at or after t_inject minus t_inject; pending is recorded too."""
    times = measure.alert_times("A", ones(T0 + 2, T0 + 6), ones(T0 + 7, T0 + 30), T0)
    assert times.first_pending_at == T0 + 2
    assert times.first_firing_at == T0 + 7
    figure = measure.time_to_detect([times], T0)
    assert figure.seconds == 7.0
    assert "ALERTS" in figure.source


def test_ttd_takes_the_earliest_of_several_expected_alerts():
    """With two expected alerts, detection is the first of them to fire."""
    a = measure.alert_times("A", [], ones(T0 + 12, T0 + 20), T0)
    b = measure.alert_times("B", [], ones(T0 + 5, T0 + 20), T0)
    assert measure.time_to_detect([a, b], T0).seconds == 5.0


def test_ttd_missing_when_alert_never_fires():
    """An alert that never fires gives no TTD, with a reason instead of a number."""
    times = measure.alert_times("A", ones(T0 + 2, T0 + 4), [], T0)
    figure = measure.time_to_detect([times], T0)
    assert figure.seconds is None
    assert "no expected alert fired" in figure.reason


def test_alert_already_firing_before_inject_is_not_a_detection():
    """An alert firing continuously across the injection says nothing about this fault."""
    times = measure.alert_times("A", [], ones(T0 - 10, T0 + 20), T0)
    assert times.firing_before_inject
    figure = measure.time_to_detect([times], T0)
    assert figure.seconds is None
    assert "already firing" in figure.reason


def test_alert_that_resolved_before_inject_and_fires_again_counts():
    """A firing that ended well before the injection does not hide a new firing after it."""
    firing = [*ones(T0 - 60, T0 - 50), *ones(T0 + 8, T0 + 20)]
    times = measure.alert_times("A", [], firing, T0)
    assert not times.firing_before_inject
    assert measure.time_to_detect([times], T0).seconds == 8.0


def test_ttr_is_start_of_the_final_k_sample_run_after_the_breach():
    """TTR starts at the final in-tolerance run of K samples after the breach (DESIGN.md §4); a
    shorter blip of health does not count, and a recovery that broke again is not the recovery."""
    values = [(T0 + t, 100.0) for t in range(-5, 0)]
    values += [(T0 + t, 0.0) for t in range(0, 10)]  # breach for 10 s
    values += [(T0 + t, 100.0) for t in range(10, 13)]  # a short blip of health
    values += [(T0 + t, 0.0) for t in range(13, 15)]
    values += [(T0 + t, 100.0) for t in range(15, 22)]  # recovered for 7 samples ...
    values += [(T0 + t, 0.0) for t in range(22, 25)]  # ... broke again ...
    values += [(T0 + t, 100.0) for t in range(25, 40)]  # ... and recovered for good
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0 - 5, T0 + 39, 1.0
    )
    breach = measure.first_breach(timeline, T0)
    assert breach == T0
    figure, recovered = measure.time_to_recover(timeline, breach, T0, 5, None, False)
    assert figure.seconds == 25.0
    assert recovered == T0 + 25
    assert measure.flaps(timeline, breach, 5) == [measure.Flap(T0 + 15, T0 + 22)]


def test_no_flap_when_the_recovery_held():
    """A blip shorter than K samples is not a recovery, so it is not a flap either."""
    values = [(T0 + t, 0.0 if t < 10 or 12 <= t < 14 else 100.0) for t in range(0, 30)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0, T0 + 29, 1.0
    )
    figure, _ = measure.time_to_recover(timeline, T0, T0, 5, None, False)
    assert figure.seconds == 14.0
    assert measure.flaps(timeline, T0, 5) == []


def test_a_recovery_that_broke_at_the_end_of_the_window_is_a_flap():
    """Recovered, then out of tolerance again as the window ends: TTR is that last K-run's start
    (nothing later held for K samples) and the flap says it did not last."""
    values = [(T0 + t, 0.0 if t < 5 or t >= 27 else 100.0) for t in range(0, 30)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0, T0 + 29, 1.0
    )
    figure, _ = measure.time_to_recover(timeline, T0, T0, 5, None, False)
    assert figure.seconds == 5.0
    assert measure.flaps(timeline, T0, 5) == [measure.Flap(T0 + 5, T0 + 27)]


def test_ttr_missing_when_sli_never_recovers():
    """An SLI still out of tolerance at the end of the window gives no TTR, with a reason."""
    values = [(T0 + t, 0.0) for t in range(0, 30)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0, T0 + 29, 1.0
    )
    figure, recovered = measure.time_to_recover(timeline, T0, T0, 5, None, False)
    assert figure.seconds is None and recovered is None
    assert "did not hold" in figure.reason


def test_gaps_in_data_count_as_out_of_tolerance():
    """Missing samples (a scrape gap) are not health: a run across a gap is broken by it. The
    breach is when the last sample before the gap went stale (1.5 steps after it)."""
    values = [(T0 + t, 100.0) for t in range(0, 30) if not 10 <= t < 14]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0, T0 + 29, 1.0
    )
    in_gap = [ok for t, ok in timeline if T0 + 10 <= t < T0 + 14]
    assert in_gap and not any(in_gap)
    breach = measure.first_breach(timeline, T0)
    assert breach == T0 + 9 + 1.5
    figure, _ = measure.time_to_recover(timeline, breach, T0, 5, None, False)
    assert figure.seconds == 14.0


def test_every_sli_must_hold_at_once():
    """TTR waits for the slowest of several SLIs."""
    fast = [(T0 + t, 1.0 if t >= 3 else 0.0) for t in range(0, 30)]
    slow = [(T0 + t, 0.1 if t >= 9 else 0.9) for t in range(0, 30)]
    timeline = measure.in_tolerance_timeline(
        {"up": fast, "errors": slow},
        {"up": Tolerance(min=1), "errors": Tolerance(max=0.5)},
        T0,
        T0 + 29,
        1.0,
    )
    figure, _ = measure.time_to_recover(timeline, T0, T0, 5, None, False)
    assert figure.seconds == 9.0


def test_backlog_drain_delays_recovery_and_is_required_when_configured():
    """Recovery is not declared before the backlog is drained; a never-drained backlog means
    no TTR."""
    healthy = [(T0 + t, 100.0) for t in range(0, 60)]
    timeline = measure.in_tolerance_timeline(
        {"rate": healthy}, {"rate": Tolerance(min=50)}, T0, T0 + 59, 1.0
    )
    backlog = [(T0 + t, max(0.0, 5000.0 - 200.0 * t)) for t in range(0, 60)]
    drained = measure.drained_at(backlog, T0, threshold=50)
    assert drained == T0 + 25
    figure, _ = measure.time_to_recover(timeline, T0, T0, 5, drained, True)
    assert figure.seconds == 25.0
    never = measure.drained_at([(T0 + t, 5000.0) for t in range(60)], T0, threshold=50)
    figure, _ = measure.time_to_recover(timeline, T0, T0, 5, never, True)
    assert figure.seconds is None and "backlog" in figure.reason


def test_drained_at_ignores_a_dip_that_rises_again():
    """Drained means under the threshold for K samples in a row, not touching it once."""
    backlog = [(T0, 900.0), (T0 + 1, 10.0), (T0 + 2, 800.0), (T0 + 3, 20.0), (T0 + 4, 0.0)]
    assert measure.drained_at(backlog, T0, threshold=50, samples_needed=2) == T0 + 3
    assert measure.drained_at(backlog, T0, threshold=50, samples_needed=3) is None


def test_tolerance_rejects_nan():
    """NaN (no data) is never within tolerance."""
    assert not Tolerance(min=0).holds(float("nan"))
    assert Tolerance(min=1, max=2).holds(1.5)
    assert not Tolerance(max=2).holds(3)


def test_recovery_waits_for_every_confirmed_event_to_be_present_again():
    """pvc-wipe-restore: SLIs back at +30 s but the re-driven events were all stored only at
    +39.5 s — recovery is +39.5 s, and the source says why."""
    ttr = measure.Figure(30.0, "probes")
    report = FaultReport(complete_at=1039.5, complete_source="psql: max(stored_at)")
    figure, at = data_complete(ttr, 1030.0, report, 1000.0)
    assert figure.seconds == 39.5 and at == 1039.5
    assert "every confirmed event present again (psql: max(stored_at))" in figure.source
    # Data complete before the SLIs: the SLIs decide.
    early = FaultReport(complete_at=1010.0, complete_source="x")
    assert data_complete(ttr, 1030.0, early, 1000.0) == (ttr, 1030.0)


def test_events_that_never_came_back_mean_no_recovery():
    report = FaultReport(incomplete="3 of 40 events committed before the wipe are still missing")
    figure, at = data_complete(measure.Figure(30.0, "probes"), 1030.0, report, 1000.0)
    assert figure.seconds is None and at is None
    assert figure.reason.startswith("3 of 40 events")


def test_breach_and_recovery_are_at_the_samples_own_times():
    """SLI samples at x.37, the fault at x.2, the timeline from t_inject - 30: the first breach is
    the first bad sample (T+0.17 s) and recovery the first good one (T+10.17 s) — not snapped
    to a grid anchored at the window's start (T+0.0 and a whole-second 10.0 s)."""
    t_inject = T0 + 0.2
    values = [(T0 + k + 0.37, 0.0 if 0 <= k < 10 else 100.0) for k in range(-30, 30)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, t_inject - 30, T0 + 29.5, 1.0
    )
    breach = measure.first_breach(timeline, t_inject)
    assert breach == T0 + 0.37
    figure, recovered = measure.time_to_recover(timeline, breach, t_inject, 5, None, False)
    assert recovered == T0 + 10.37
    assert figure.seconds == 10.17


def test_a_steady_state_that_never_broke_recovers_at_the_injection():
    """No breach (malformed events at light load): TTR is the backlog's drain, or 0 — not the
    next sample after the injection (up to a scrape interval, 0.95 s on the sandbox)."""
    t_inject = T0 + 0.05
    values = [(T0 + k, 500.0) for k in range(-30, 30)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, t_inject - 30, T0 + 29, 1.0
    )
    assert measure.first_breach(timeline, t_inject) is None
    figure, at = measure.time_to_recover(timeline, t_inject, t_inject, 5, None, False)
    assert figure.seconds == 0.0 and at == t_inject
    drained, _ = measure.time_to_recover(timeline, t_inject, t_inject, 5, T0 + 2.5, True)
    assert drained.seconds == 2.45
    # Out of tolerance just before the injection: no claim that it held; the next run decides.
    broken = [(T0 - 1, 500.0), (T0, 0.0), *[(T0 + k, 500.0) for k in range(1, 30)]]
    timeline = measure.in_tolerance_timeline(
        {"rate": broken}, {"rate": Tolerance(min=50)}, t_inject - 30, T0 + 29, 1.0
    )
    figure, at = measure.time_to_recover(timeline, t_inject, t_inject, 5, None, False)
    assert at == T0 + 1


def test_recovery_is_refined_between_two_coarse_points():
    """The coarse timeline puts the recovery at the first good one-second point; re-read on a
    finer grid, it is where the fine points start holding, within the bracket before it."""
    values = [(T0 + t, 100.0) for t in range(-5, 0)]
    values += [(T0 + t, 0.0) for t in range(0, 4)]
    values += [(T0 + t, 100.0) for t in range(4, 15)]
    timeline = measure.in_tolerance_timeline(
        {"rate": values}, {"rate": Tolerance(min=50)}, T0 - 5, T0 + 14, 1.0
    )
    asked: list[tuple[float, float]] = []

    def refine(lower: float, upper: float) -> float:
        asked.append((lower, upper))
        fine = [(lower + i * 0.05, lower + i * 0.05 >= T0 + 3.3) for i in range(21)]
        return measure.refine_run_start(fine, lower, upper)

    figure, recovered = measure.time_to_recover(timeline, T0, T0, 5, None, False, refine)
    assert asked == [(T0 + 3, T0 + 4)]
    assert recovered is not None and abs(recovered - (T0 + 3.3)) < 1e-6
    assert figure.seconds == 3.3
    # A refinement that answers outside the bracket is ignored: the coarse point stands.
    _, coarse = measure.time_to_recover(timeline, T0, T0, 5, None, False, lambda lo, up: 0.0)
    assert coarse == T0 + 4


def test_refine_run_start_takes_the_last_failing_fine_point():
    """Only the good points after the last failing one count; a failing last point keeps the
    coarse start."""
    fine = [(1.0, True), (1.25, False), (1.5, True), (1.75, True), (2.0, True)]
    assert measure.refine_run_start(fine, 1.0, 2.0) == 1.5
    assert measure.refine_run_start([(1.5, True), (2.0, False)], 1.0, 2.0) == 2.0
    assert measure.refine_run_start([], 1.0, 2.0) == 2.0
