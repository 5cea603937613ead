"""Client-observed unavailability windows (drills.unavailability), from recorded request outcomes:
a timeout is a failure, a window may still be open at the end, and failures outside the fault
window are told apart from the fault's own."""

from __future__ import annotations

from pathlib import Path

from drills.results import DrillResult
from drills.unavailability import (
    TIMEOUT,
    UNREACHABLE,
    Attempt,
    FaultWindow,
    summarize,
    windows,
)

GOLDEN_RUN = (
    Path(__file__).resolve().parents[1] / "golden" / "runs" / ("20261127T062644Z-rabbitmq-outage")
)
T0 = 1_700_000_000.0
FAULT = FaultWindow(T0 + 10, T0 + 20)


def attempts(*pairs: tuple[float, int]) -> list[Attempt]:
    return [Attempt(T0 + t, 0.01, status) for t, status in pairs]


def test_a_timeout_counts_as_a_failure_until_the_next_success():
    found = windows(attempts((10.0, 200), (10.2, TIMEOUT), (10.4, TIMEOUT), (10.6, 200)), FAULT)
    assert len(found) == 1
    window = found[0]
    assert window.start.timestamp() == T0 + 10.2
    assert window.end is not None and window.end.timestamp() == T0 + 10.6
    assert window.seconds == 0.4
    assert (window.failed, window.timed_out) == (2, 2)
    assert not window.outside_fault


def test_every_non_2xx_answer_and_a_refused_connection_are_failures():
    found = windows(
        attempts((11, 200), (11.2, 503), (11.4, UNREACHABLE), (11.6, 404), (11.8, 204)), FAULT
    )
    assert [(w.seconds, w.failed, w.timed_out) for w in found] == [(0.6, 3, 0)]


def test_a_window_still_open_at_the_end_has_no_end_and_lasts_to_the_last_request():
    found = windows(attempts((12, 200), (12.5, UNREACHABLE), (13.0, TIMEOUT), (14.5, 503)), FAULT)
    assert len(found) == 1
    assert found[0].end is None
    assert found[0].seconds == 2.0
    assert found[0].failed == 3


def test_requests_are_ordered_by_when_they_were_sent_not_answered():
    """A timeout answers late; the success sent after it still closes the window."""
    recorded = [
        Attempt(T0 + 15.2, 0.01, 200),  # sent later, answered first
        Attempt(T0 + 15.0, 2.0, TIMEOUT),
        Attempt(T0 + 14.8, 0.01, 200),
    ]
    found = windows(recorded, FAULT)
    assert [(w.start.timestamp(), w.seconds) for w in found] == [(T0 + 15.0, 0.2)]


def test_failures_outside_the_fault_window_are_reported_as_such():
    api = summarize(
        "dashboard API",
        "http://127.0.0.1:1/api",
        attempts(
            (2.0, 200),
            (2.2, 503),  # during the baseline: outside
            (2.4, 200),
            (12.0, UNREACHABLE),  # the fault's own
            (12.2, 200),
            (19.8, 503),  # starts inside, lasts past recovery: overlaps, two requests after it
            (20.4, 503),
            (20.6, TIMEOUT),
            (21.0, 200),
            (30.0, 503),  # a second outage after recovery: outside, still open
        ),
        FAULT,
    )
    assert [(w.seconds, w.outside_fault) for w in api.windows] == [
        (0.2, True),
        (0.2, False),
        (1.2, False),
        (0.0, True),
    ]
    assert api.failed_outside_fault == 4  # 2.2, 20.4, 20.6 and 30.0
    assert (api.requests, api.failed, api.timed_out) == (10, 6, 1)
    assert api.unavailable_seconds == 1.6


def test_without_an_injection_every_window_is_outside_the_fault():
    found = windows(attempts((1, 200), (1.2, 503), (1.4, 200)), FaultWindow(None, None))
    assert [w.outside_fault for w in found] == [True]


def test_a_fault_never_ended_covers_everything_after_the_injection():
    found = windows(attempts((1, 503), (1.2, 200), (500, 503)), FaultWindow(T0 + 10, None))
    assert [w.outside_fault for w in found] == [True, False]


def test_no_failures_no_windows():
    api = summarize("notification API", "u", attempts((1, 200), (1.2, 200)), FAULT)
    assert api.windows == () and api.unavailable_seconds == 0.0 and api.failed == 0


def test_the_fault_window_lasts_until_the_component_is_ready_even_when_ttr_is_zero():
    """A dashboard killed leaves every SLI green (recovered at the injection, TTR 0), yet the
    component was gone until it was ready again: the fault window runs to the later of the two,
    so the client's failures in between are the fault's, not a second outage."""
    from dataclasses import replace

    from drills.client_probe import fault_window
    from drills.faults.base import FaultReport, Injection
    from drills.results import utc
    from drills.run_state import RunState

    golden = DrillResult.read(GOLDEN_RUN)
    state = RunState(started=T0, result=replace(golden, recovered_at=utc(T0 + 10)))
    state.injection = Injection(T0 + 10, "journal")
    state.fault_report = FaultReport(ready_at=T0 + 11)
    window = fault_window(state)
    assert (window.start, window.end) == (T0 + 10, T0 + 11)
    assert window.contains(T0 + 10.5)
    state.fault_report = FaultReport(ready_at=T0 + 9)  # ready before the SLIs: recovery ends it
    assert fault_window(state).end == T0 + 10
    state.result, state.fault_report = replace(golden, recovered_at=None), None
    state.rolled_back_at = T0 + 15
    assert fault_window(state).end == T0 + 15
