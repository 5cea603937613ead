"""Time to detect, time to recover and the recovery phases, computed from Prometheus samples.

Pure functions over recorded series (DESIGN.md §4), so the maths is unit-tested against recorded
responses, including the awkward cases: an alert that never fires, one already firing before the
fault, an SLI that never recovers, gaps in the data. A figure that cannot be computed is `None`
with a reason — never a guess.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from drills.spec import Tolerance

Sample = tuple[float, float]  # (unix seconds, value), as Prometheus returns them


@dataclass(frozen=True)
class Figure:
    """A measured duration in seconds, or None with the reason it could not be measured."""

    seconds: float | None
    source: str
    reason: str = ""

    @classmethod
    def missing(cls, source: str, reason: str) -> Figure:
        return cls(None, source, reason)


@dataclass(frozen=True)
class AlertTimes:
    """When an alert was first pending and first firing after the injection."""

    name: str
    first_pending_at: float | None
    first_firing_at: float | None
    firing_before_inject: bool


def alert_times(
    name: str,
    pending: Sequence[Sample],
    firing: Sequence[Sample],
    t_inject: float,
    interval: float | None = None,
) -> AlertTimes:
    """First `ALERTS{alertstate=pending|firing}` samples at or after `t_inject`.

    The samples are the rule evaluations' raw ones (`Observer.alert_series`), so the times are
    when Prometheus decided, not the next point of a query grid (late by the group's phase).
    An alert whose firing series has a sample just before the injection was already firing: its
    "detection" says nothing about this fault. `interval` is the rule evaluation interval
    (Prometheus's config); without it, it is guessed from the samples' spacing.
    """
    before = [t for t, v in firing if t < t_inject and v == 1]
    first = _first_at_or_after(firing, t_inject)
    # Firing *continuously* into the injection: the last pre-inject sample and the first one
    # after it are consecutive evaluations (raw samples of one firing are an evaluation interval
    # apart; one missed evaluation is tolerated). A firing that resolved before the injection
    # and fired anew after it (a `for:` later) leaves a longer gap: that one is a detection.
    step = interval or _step(firing)
    firing_before = bool(before) and first is not None and first - max(before) < 2.5 * step
    return AlertTimes(
        name=name,
        first_pending_at=_first_at_or_after(pending, t_inject),
        first_firing_at=None if firing_before else first,
        firing_before_inject=firing_before,
    )


def _first_at_or_after(samples: Sequence[Sample], t0: float) -> float | None:
    for t, value in samples:
        if t >= t0 and value == 1:
            return t
    return None


def _step(samples: Sequence[Sample]) -> float:
    """The evaluation interval seen in the samples: their median gap. Several series of one
    alert (one per instance) share the evaluation times, so a time counts once."""
    times = sorted({t for t, _ in samples})
    if len(times) < 2:
        return 1.0
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    return gaps[len(gaps) // 2] or 1.0


def time_to_detect(times: Sequence[AlertTimes], t_inject: float) -> Figure:
    """TTD: the earliest firing of any expected alert, minus t_inject."""
    source = 'prometheus: ALERTS{alertstate="firing"} raw samples (rule evaluation times)'
    if not times:
        return Figure.missing(source, "the drill expects no alert")
    fired = [a.first_firing_at for a in times if a.first_firing_at is not None]
    if not fired:
        if any(a.firing_before_inject for a in times):
            return Figure.missing(source, "the expected alert was already firing before the fault")
        return Figure.missing(source, "no expected alert fired during the observation window")
    return Figure(round(min(fired) - t_inject, 3), source)


MAX_SAMPLE_AGE_STEPS = 1.5  # an SLI sample older than this many steps no longer speaks for it


def in_tolerance_timeline(
    series: Mapping[str, Sequence[Sample]],
    tolerances: Mapping[str, Tolerance],
    start: float,
    end: float,
    step: float,
) -> list[tuple[float, bool]]:
    """When every SLI was within tolerance, at the samples' own times in [start, end].

    The points are `start`, every SLI sample's time, and the moment each sample went stale (its
    time plus 1.5 steps, when no newer sample of that SLI came before). At each point an SLI's
    value is its latest sample at or before it, if that is younger than 1.5 steps: a missing or
    stale sample (a gap: the exporter was down, the query returned nothing) is *not* within
    tolerance — silence is not health. Times are kept as they are, never snapped to a grid
    anchored at `start`: that shifted the first breach and the recovery by up to half a step.
    SLIs read by range queries over one window share their timestamps, so K consecutive points
    are K samples.
    """
    max_age = MAX_SAMPLE_AGE_STEPS * step
    ordered = {name: sorted(series.get(name, ())) for name in tolerances}
    points = {start}
    for samples in ordered.values():
        for (t, _), following in itertools.zip_longest(samples, samples[1:]):
            points.add(t)
            if following is None or following[0] >= t + max_age:
                points.add(t + max_age)  # silence from here on
    times = {name: [t for t, _ in samples] for name, samples in ordered.items()}

    def ok_at(t: float) -> bool:
        for name, tolerance in tolerances.items():
            index = bisect.bisect_right(times[name], t) - 1
            if index < 0 or t - times[name][index] >= max_age:
                return False  # no sample yet, or the last one is stale
            if not tolerance.holds(ordered[name][index][1]):
                return False
        return True

    return [(t, ok_at(t)) for t in sorted(points) if start <= t <= end]


def first_breach(timeline: Sequence[tuple[float, bool]], t_inject: float) -> float | None:
    for t, ok in timeline:
        if t >= t_inject and not ok:
            return t
    return None


def time_to_recover(
    timeline: Sequence[tuple[float, bool]],
    after: float,
    t_inject: float,
    samples_needed: int,
    drained_at: float | None,
    backlog_required: bool,
    refine: Callable[[float, float], float] | None = None,
) -> tuple[Figure, float | None]:
    """TTR (DESIGN.md §4): the start of the *final* run, at or after `after` (the first SLO
    breach, or t_inject when nothing breached) and within the observation window, of
    `samples_needed` consecutive samples in which every SLI holds — or the moment the backlog
    drained, if that is later. Returns the figure and the absolute recovery time.

    The final run, not the first: a platform that recovered and broke again has not recovered at
    the first run's start. `flaps` reports each recovery that broke again, so the report can say
    so. The runner's observation window ends shortly after it confirmed recovery live, so a stray
    failed scrape minutes later never reaches this timeline.

    `refine(lower, start)` narrows the run's start between the timeline's last failing point
    before it and the start itself (the SLIs re-read on a finer grid, `refine_run_start`): the
    timeline's points are a step apart, so its run start is late by up to one step on top of
    the scrape's own lag.
    """
    source = "prometheus: steady-state probes (final run of K consecutive samples) + backlog"
    runs = _runs(((t, ok) for t, ok in timeline if t >= after), samples_needed)
    if not runs:
        return Figure.missing(
            source,
            f"the steady state did not hold for {samples_needed} consecutive samples "
            "before the observation window ended",
        ), None
    recovered = runs[-1][0]
    before = [t for t, _ in timeline if t < recovered]
    if refine is not None and before and before[-1] >= after:
        refined = refine(before[-1], recovered)
        if before[-1] < refined <= recovered:  # an answer outside the bracket is ignored
            recovered = refined
    window = [ok for t, ok in timeline if t >= after]
    held_before = [ok for t, ok in timeline if t < after][-1:] == [True]
    if after == t_inject and held_before and all(window):
        # The steady state never broke: it "recovered" at the injection, not at whichever
        # sample came next (up to a scrape interval later); only the backlog can add to it.
        recovered = t_inject
    if backlog_required:
        if drained_at is None:
            return Figure.missing(source, "the backlog never drained"), None
        recovered = max(recovered, drained_at)
    return Figure(round(recovered - t_inject, 3), source), recovered


def refine_run_start(fine: Sequence[tuple[float, bool]], lower: float, start: float) -> float:
    """The earliest point of `fine` in (lower, start] from which every point up to `start`
    holds: where, between two coarse points, the steady state came back. `start` itself when
    the fine points say nothing new (none in the bracket, or the last one fails)."""
    earliest = start
    for t, ok in sorted((p for p in fine if lower < p[0] <= start), reverse=True):
        if not ok:
            break
        earliest = t
    return earliest


@dataclass(frozen=True)
class Flap:
    """A recovery that broke again: the steady state held from `recovered_at` for at least K
    samples, then a sample at `broke_at` was out of tolerance (or missing)."""

    recovered_at: float
    broke_at: float


def flaps(timeline: Sequence[tuple[float, bool]], after: float, samples_needed: int) -> list[Flap]:
    """Every K-sample recovery at or after `after` that was followed by a breach."""
    runs = _runs(((t, ok) for t, ok in timeline if t >= after), samples_needed)
    return [Flap(start, broke) for start, broke in runs if broke is not None]


def _runs(points: Iterable[tuple[float, bool]], length: int) -> list[tuple[float, float | None]]:
    """The runs of at least `length` consecutive True points: (start, first False after it, or
    None when the run lasts to the end)."""
    runs: list[tuple[float, float | None]] = []
    run_start: float | None = None
    run_length = 0
    for t, ok in points:
        if not ok:
            if run_start is not None and run_length >= length:
                runs.append((run_start, t))
            run_start, run_length = None, 0
            continue
        if run_start is None:
            run_start = t
        run_length += 1
    if run_start is not None and run_length >= length:
        runs.append((run_start, None))
    return runs


def drained_at(
    backlog: Sequence[Sample],
    after: float,
    threshold: float,
    samples_needed: int = 1,
    *,
    ready_at: float | None = None,
    hold_s: float = 0.0,
) -> float | None:
    """When the backlog drained (DESIGN.md §4): the first sample from which it stays at or under
    `threshold` for `samples_needed` consecutive samples and, with `hold_s`, for at least that
    long (a series finer than the scrape: the exact backlog, drills.backlog) or to the end of the
    data — no earlier than the component is ready again (`ready_at`) and, when the backlog rose
    above `threshold` after `after`, no earlier than its peak.

    Both bounds are needed because a broker gauge refreshes on its own interval: a depth read
    before the kill (55 while 1,832 waited) made K samples "under the threshold" at +1.8 s in a
    run whose consumer came back at +7.3 s, and the first refresh after the consumer's return can
    still be the peak. A backlog cannot have drained before anything could drain it, nor before
    it stopped growing. A peak at or under the threshold is no backlog at all: it bounds nothing.
    """
    window = [(t, v) for t, v in backlog if t >= after]
    if not window:
        return None
    not_before = max(after, ready_at if ready_at is not None else after)
    peak_at, peak = max(window, key=lambda s: (s[1], -s[0]))  # the first sample of the maximum
    if peak > threshold:
        not_before = max(not_before, peak_at)
    for start, last, count, open_ended in _quiet_runs(
        [(t, v <= threshold) for t, v in window if t >= not_before]
    ):
        if count >= samples_needed and (last - start >= hold_s or open_ended):
            return start
    return None


def _quiet_runs(points: Sequence[tuple[float, bool]]) -> list[tuple[float, float, int, bool]]:
    """The runs of consecutive True points: (first time, last time, points, reaches the end)."""
    runs: list[tuple[float, float, int, bool]] = []
    first: float | None = None
    last, count = 0.0, 0
    for t, ok in points:
        if ok:
            first = t if first is None else first
            last, count = t, count + 1
        elif first is not None:
            runs.append((first, last, count, False))
            first, count = None, 0
    if first is not None:
        runs.append((first, last, count, True))
    return runs
