"""Backlog peaks over the fault window: the largest raw sample, when it was taken and how far
apart the samples were, for the generator's buffer and the analysis queue, with their limits."""

from __future__ import annotations

import pytest

from auditflow.topology import QUEUE_MAX_LENGTH
from drills import backlog_peaks
from drills.backlog_peaks import BUFFER_GAUGE, CAPACITY_GAUGE, QUEUE_GAUGE, peak_of
from drills.errors import ObservationError
from drills.observe import Series
from drills.results import utc
from tests.fakes import FakeObserver

T = 1_800_000_000.0
# A rabbitmq-outage's buffer, scraped every second (one scrape late by 0.4 s): it grows while the
# broker is down, peaks at +20.0 s, and drains once the broker is back.
BUFFER = [(T - 1.0, 9000.0), (T + 1.0, 300.0), (T + 2.0, 600.0), (T + 19.0, 5700.0)]
BUFFER += [(T + 20.0, 6000.0), (T + 21.4, 5990.0), (T + 22.0, 1200.0), (T + 23.0, 0.0)]


def test_the_peak_is_the_largest_sample_inside_the_window():
    """9,000 before the injection is an earlier backlog, not this fault's: the peak is 6,000 at
    +20.0 s; the widest spacing (17 s between +2 and +19) bounds how much higher it could be."""
    found = peak_of([BUFFER], T, T + 25.0)
    assert found is not None
    assert (found.value, found.at, found.samples) == (6000.0, T + 20.0, 7)
    assert found.resolution_s == 17.0


def test_resolution_counts_the_window_ends_and_ties_keep_the_first():
    """Two samples of the same height: the first is the peak's time. A window that ends 5 s
    after the last sample is 5 s unseen, and the resolution says so."""
    samples = [(T + 1.0, 10.0), (T + 2.0, 40.0), (T + 3.0, 40.0), (T + 4.0, 0.0)]
    found = peak_of([samples], T, T + 9.0)
    assert found is not None and (found.value, found.at, found.resolution_s) == (40.0, T + 2.0, 5.0)


def test_several_series_the_highest_one_with_its_own_spacing():
    """A generator restarted under a new label (two series): the peak is the higher series',
    and so is the resolution; no sample in the window is no peak."""
    before = [(T + 0.5, 100.0), (T + 1.0, 200.0)]
    after = [(T + 0.2, 0.0), (T + 1.2, 700.0), (T + 1.7, 50.0)]
    found = peak_of([before, after], T, T + 2.0)
    assert found is not None and (found.value, found.at, found.resolution_s) == (
        700.0,
        T + 1.2,
        1.0,
    )
    assert peak_of([[(T - 5.0, 1.0)], []], T, T + 2.0) is None


class RawObserver(FakeObserver):
    """Answers raw-sample reads per selector; a selector mapped to an exception raises it."""

    def __init__(self, raw: dict[str, list[list[tuple[float, float]]] | Exception]) -> None:
        super().__init__()
        self.by_selector = raw
        self.asked: list[tuple[str, float, float]] = []

    def raw_between(self, selector: str, start: float, end: float) -> list[Series]:
        self.asked.append((selector, start, end))
        answer = self.by_selector.get(selector, [])
        if isinstance(answer, Exception):
            raise answer
        return [Series(f"{selector}[1s]", {}, list(samples)) for samples in answer]


def test_measure_records_both_peaks_with_their_limits_and_sources():
    """The buffer against the generator's own capacity gauge (the tightest of two replicas),
    the queue against the policy's max-length; each source names the gauge, the window, the
    count and the spacing of the samples."""
    queue = [(T + 21.0, 0.0), (T + 22.0, 2113.0), (T + 23.0, 40.0)]
    observer = RawObserver(
        {
            BUFFER_GAUGE: [BUFFER],
            CAPACITY_GAUGE: [[(T + 1.0, 100_000.0)], [(T + 1.0, 50_000.0)]],
            QUEUE_GAUGE: [queue],
        }
    )
    buffer, queued = backlog_peaks.measure(observer, T, T + 25.0, recovered=True)
    assert (buffer.figure, buffer.peak, buffer.at) == (
        "generator_buffer_peak_events",
        6000.0,
        utc(T + 20.0),
    )
    assert (buffer.limit_figure, buffer.limit) == ("generator_buffer_capacity", 50_000.0)
    assert buffer.source == (
        "prometheus: the largest of 7 raw samples of generator_buffer_events from the injection "
        "to the recovery, at most 17 s apart"
    )
    assert buffer.resolution_s == 17.0 and buffer.reason == ""
    assert (queued.figure, queued.peak, queued.resolution_s) == (
        "analysis_queue_peak_messages",
        2113.0,
        21.0,
    )
    assert (queued.limit_figure, queued.limit) == ("analysis_queue_max_length", QUEUE_MAX_LENGTH)
    assert "QUEUE_MAX_LENGTH" in queued.limit_source
    assert {(s, a, b) for s, a, b in observer.asked} == {
        (BUFFER_GAUGE, T, T + 25.0),
        (CAPACITY_GAUGE, T, T + 25.0),
        (QUEUE_GAUGE, T, T + 25.0),
    }


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            [],
            "no sample of generator_buffer_events from the injection to the end of the "
            "observation window (no recovery)",
        ),
        (ObservationError("Prometheus at x: timeout"), "not measured: Prometheus at x: timeout"),
    ],
)
def test_an_unmeasured_peak_is_none_with_its_reason(answer, reason):
    """No sample, or a failed query: the peak is None and says why; the run goes on."""
    observer = RawObserver({BUFFER_GAUGE: answer, CAPACITY_GAUGE: ObservationError("down")})
    buffer, _ = backlog_peaks.measure(observer, T, T + 25.0, recovered=False)
    assert (buffer.peak, buffer.at, buffer.resolution_s, buffer.reason) == (
        None,
        None,
        None,
        reason,
    )
    assert buffer.limit is None and buffer.limit_source == "not read: down"


def test_a_single_sample_says_so():
    """One sample in the window (a broker scraped once after its restart) is "the only" one."""
    observer = RawObserver({QUEUE_GAUGE: [[(T + 24.0, 6.0)]]})
    _, queued = backlog_peaks.measure(observer, T, T + 25.0, recovered=True)
    assert queued.source.startswith("prometheus: the only raw sample of rabbitmq_queue_messages")
    assert (queued.peak, queued.resolution_s) == (6.0, 24.0)
