"""How close a drill's backlog came to its limits: the peak of the generator's buffer and of the
analysis queue over the fault window, read from Prometheus, each next to its limit.

Why: a backlog that came within 20 % of a bound is luck a post-mortem must name — a longer
outage would have filled the generator's buffer (generation pauses) or the analysis queue (the
broker nacks every new event). The post-mortem's near-limit factor and the causal chain read
these figures from `result.json` (`DrillResult.backlog_peaks`); without them they say the limits
were not judged, never "no risk".

Where each figure comes from, and how exact it is:

- the generator's buffer: its own gauge `generator_buffer_events` (auditflow.generator.metrics),
  set on every 20 ms tick to the events it holds until the broker confirms them. Its limit is the
  gauge `generator_buffer_capacity` (AUDITFLOW_BUFFER_MAX), read over the same window.
- the analysis queue: `rabbitmq_queue_messages_ready{queue="auditflow.analysis"}`, the ready
  messages — what the queue's `max-length` counts (RabbitMQ leaves unacknowledged deliveries
  out of it). The broker refreshes the gauge on its statistics interval (1 s on the sandbox, 5 s
  on Kubernetes) and exports nothing while it is down, so the widest spacing says how long it
  went unseen. Its limit is the broker policy the sandbox (drills.sandbox.rabbitmq_policy) and
  the manifests apply, `auditflow.topology.QUEUE_MAX_LENGTH`: rabbitmq_prometheus exports no
  policy, so it is the configured value, not one read back from the broker.

Both peaks are the largest of the gauge's *raw* samples (`Observer.raw_between`: each sample at
its scrape time), not of a `query_range` grid: a grid point repeats the latest sample at or before
it, so with scrape jitter two samples can fall between two grid points and the higher one — the
peak — is never shown. The largest raw sample is the highest value Prometheus saw; the gauge's
true high can lie between two scrapes and exceed it only by what the backlog grew in that time.
That bound is recorded as `resolution_s`, the widest spacing of the samples in the window (its
ends included): one scrape interval (1 s on the sandbox) when nothing was missed.

The window runs from the injection (a composite drill's first) to the recovery, or to the end of
the observation window when the drill did not recover: the backlog this fault caused, not one an
earlier drill left behind.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from auditflow.topology import QUEUE_MAX_LENGTH, QUEUE_POLICY_NAME
from drills.errors import ObservationError
from drills.measure import Sample
from drills.results import BacklogPeak, utc
from drills.seams import Observer

BUFFER_PEAK = "generator_buffer_peak_events"
BUFFER_CAPACITY = "generator_buffer_capacity"
QUEUE_PEAK = "analysis_queue_peak_messages"
QUEUE_MAX_LENGTH_FIGURE = "analysis_queue_max_length"

BUFFER_GAUGE = "generator_buffer_events"
CAPACITY_GAUGE = "generator_buffer_capacity"
QUEUE_GAUGE = 'rabbitmq_queue_messages_ready{queue="auditflow.analysis"}'
QUEUE_LIMIT_SOURCE = (
    f"auditflow.topology.QUEUE_MAX_LENGTH: max-length of the broker policy {QUEUE_POLICY_NAME} "
    "that the sandbox and the manifests apply (configured, not read back from the broker)"
)


@dataclass(frozen=True)
class Peak:
    """The largest sample of a window, when it was taken, how many samples there were, and the
    widest spacing between them (the window's ends included)."""

    value: float
    at: float
    samples: int
    resolution_s: float


def peak_of(series: Sequence[Sequence[Sample]], start: float, end: float) -> Peak | None:
    """The largest sample in [start, end] over every series (one per label set: a generator
    restarted under a new label, or several replicas), the first if several are as high; None
    without a sample in the window. The resolution is that of the series holding the peak."""
    best: Peak | None = None
    for samples in series:
        kept = sorted((t, v) for t, v in samples if start <= t <= end)
        if not kept:
            continue
        at, value = max(kept, key=lambda s: (s[1], -s[0]))
        times = [start, *(t for t, _ in kept), end]
        spacing = max(b - a for a, b in itertools.pairwise(times))
        if best is None or value > best.value or (value == best.value and at < best.at):
            best = Peak(value, at, len(kept), round(spacing, 3))
    return best


def smallest_last(series: Sequence[Sequence[Sample]]) -> float | None:
    """The smallest of the series' latest values: a limit that several replicas report is the
    tightest one; None when no series has a sample."""
    lasts = [max(samples)[1] for samples in series if samples]
    return min(lasts) if lasts else None


def _read(observer: Observer, selector: str, start: float, end: float) -> list[list[Sample]]:
    return [list(s.samples) for s in observer.raw_between(selector, start, end)]


def measure(
    observer: Observer, start: float, end: float, recovered: bool
) -> tuple[BacklogPeak, ...]:
    """The generator buffer's and the analysis queue's peaks over [start, end] with their limits;
    `recovered` says whether `end` is the recovery or only the end of the observation window.
    Best effort: a failed query leaves that peak `None` with the error as its reason."""
    until = "the recovery" if recovered else "the end of the observation window (no recovery)"
    window = f"from the injection to {until}"
    peaks = []
    for figure, selector, limit_figure in (
        (BUFFER_PEAK, BUFFER_GAUGE, BUFFER_CAPACITY),
        (QUEUE_PEAK, QUEUE_GAUGE, QUEUE_MAX_LENGTH_FIGURE),
    ):
        try:
            found = peak_of(_read(observer, selector, start, end), start, end)
            why = "" if found else f"no sample of {selector} {window}"
        except ObservationError as exc:
            found, why = None, f"not measured: {exc}"
        limit, limit_source = _limit(observer, limit_figure, start, end)
        peaks.append(
            BacklogPeak(
                figure=figure,
                peak=found.value if found else None,
                at=utc(found.at) if found else None,
                source=(
                    f"prometheus: {_which(found.samples)} of {selector} "
                    f"{window}, at most {found.resolution_s:g} s apart"
                    if found
                    else ""
                ),
                resolution_s=found.resolution_s if found else None,
                reason=why,
                limit_figure=limit_figure,
                limit=limit,
                limit_source=limit_source,
            )
        )
    return tuple(peaks)


def _which(count: int) -> str:
    return "the only raw sample" if count == 1 else f"the largest of {count} raw samples"


def _limit(observer: Observer, figure: str, start: float, end: float) -> tuple[float | None, str]:
    if figure == QUEUE_MAX_LENGTH_FIGURE:
        return float(QUEUE_MAX_LENGTH), QUEUE_LIMIT_SOURCE
    try:
        capacity = smallest_last(_read(observer, CAPACITY_GAUGE, start, end))
    except ObservationError as exc:
        return None, f"not read: {exc}"
    if capacity is None:
        return None, f"no sample of {CAPACITY_GAUGE} in the window"
    return capacity, f"prometheus: {CAPACITY_GAUGE} (the generator's own gauge of its bound)"
