"""The analysis service's batch-wide work after a commit gives what per-event work gave."""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from auditflow.analysis.counters import CounterDeltas
from auditflow.analysis.metrics import PROCESSING_DURATION, observe_many
from auditflow.analysis.pipeline import Pending, Pipeline
from auditflow.analysis.security import FailedLoginRule

BUCKETS = PROCESSING_DURATION._upper_bounds[:-1]  # the contract's buckets (without +Inf)


def _samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def _histogram() -> Histogram:
    return Histogram(
        "event_processing_duration_seconds",
        "t",
        ["service"],
        buckets=BUCKETS,
        registry=CollectorRegistry(),
    )


@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=100, allow_nan=False),
            st.sampled_from([0.0, *BUCKETS]),  # exactly on a bound: that bucket (le is <=)
        ),
        max_size=60,
    )
)
def test_observe_many_exposes_what_observe_one_by_one_does(amounts: list[float]) -> None:
    one, many = _histogram(), _histogram()
    child = one.labels("s")
    for amount in amounts:
        child.observe(amount)
    observe_many(many.labels("s"), amounts)
    expected, actual = _samples(one), _samples(many)
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value), key


def test_observe_many_puts_the_slo_edge_in_the_half_second_bucket() -> None:
    histogram = _histogram()
    observe_many(histogram.labels("s"), [0.5, 0.5000001, 0.49])
    samples = _samples(histogram)
    assert samples[("event_processing_duration_seconds_bucket", "0.5")] == 2
    assert samples[("event_processing_duration_seconds_bucket", "1.0")] == 3
    assert samples[("event_processing_duration_seconds_count", "")] == 3


def test_observe_many_falls_back_to_observe_when_the_internals_differ() -> None:
    """A prometheus_client whose histogram child lacks what the fast path uses still gets every
    amount, through its public observe()."""

    class PublicOnly:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, amount: float) -> None:
            self.seen.append(amount)

    child = PublicOnly()
    observe_many(child, [0.1, 0.7])
    assert child.seen == [0.1, 0.7]


def test_observe_many_refuses_a_labelled_parent_like_observe() -> None:
    with pytest.raises(ValueError, match="missing label values"):
        _histogram().observe(0.1)
    with pytest.raises(ValueError, match="missing label values"):
        observe_many(_histogram(), [0.1])


def test_counter_deltas_add_many_equals_add() -> None:
    pairs = [("login", "failure"), ("read", "success"), ("login", "success"), ("read", "success")]
    one, many = CounterDeltas(), CounterDeltas()
    for action, outcome in pairs:
        one.add(action, outcome)
    many.add_many([a for a, _ in pairs], [o for _, o in pairs], len(pairs))
    assert (one.actions, one.outcomes, one.total) == (many.actions, many.outcomes, many.total)


class ReferenceRule:
    """The rule as it was: the densest window scanned on every failure."""

    def __init__(self, threshold: int, window_s: float) -> None:
        self.threshold, self.window_s = threshold, window_s
        self._failures: dict[str, list[float]] = {}
        self._fired_at: dict[str, float] = {}

    def observe(self, actor: str, at: float) -> int:
        times = self._failures.setdefault(actor, [])
        bisect.insort(times, at)
        cut = bisect.bisect_left(times, times[-1] - self.window_s)
        del times[:cut]
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] > self.window_s:
                start += 1
            best = max(best, end - start + 1)
        if best < self.threshold:
            return 0
        fired = self._fired_at.get(actor)
        if fired is not None and abs(at - fired) < self.window_s:
            return 0
        self._fired_at[actor] = at
        self._failures.pop(actor, None)
        return best


@given(
    threshold=st.integers(min_value=1, max_value=6),
    window=st.sampled_from([0.1, 1.0, 3.0, 60.0]),
    failures=st.lists(
        st.tuples(
            st.sampled_from(["mallory", "eve"]),
            st.one_of(
                st.floats(min_value=0, max_value=20, allow_nan=False),
                st.integers(min_value=0, max_value=20).map(float),
            ),
        ),
        max_size=80,
    ),
)
def test_security_rule_matches_the_full_scan(
    threshold: int, window: float, failures: list[tuple[str, float]]
) -> None:
    rule, reference = FailedLoginRule(threshold, window), ReferenceRule(threshold, window)
    for actor, at in failures:
        assert rule.observe(actor, at) == reference.observe(actor, at)


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, alert: dict[str, Any]) -> None:
        self.sent.append(alert)


def _pending(seq: int, action: str, outcome: str, actor: str, published_ts: float) -> Pending:
    stamp = datetime.fromtimestamp(published_ts, UTC)
    event_id = f"00000000-0000-0000-0000-{seq:012d}"
    row = (event_id, "r", seq, stamp, stamp, actor, action, "doc/1", outcome, "10.0.0.1", "c" * 32)
    return Pending(seq, 1, row, published_ts, published_ts, None)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "audit-log-analysis", **labels}) or 0.0


def test_after_commit_counts_new_events_once_and_runs_the_rule() -> None:
    deltas, notifier = CounterDeltas(), FakeNotifier()
    # No store (_after_commit never reaches it) and a fake notifier: Pipeline takes concrete types.
    pipeline = Pipeline(None, deltas, FailedLoginRule(3, 60.0), notifier, 100, 0.05)  # type: ignore[arg-type]
    committed = 1000.0
    batch = [
        _pending(1, "login", "failure", "mallory", committed - 0.1),
        _pending(2, "login", "failure", "mallory", committed - 0.2),
        _pending(3, "read", "success", "user-001", committed - 0.7),  # beyond the SLO edge
        _pending(4, "login", "failure", "mallory", committed - 0.3),
        _pending(5, "login", "failure", "eve", committed + 0.1),  # clock skew: observed as 0
        _pending(6, "read", "success", "user-002", committed - 0.1),  # a redelivered duplicate
    ]
    batch.append(batch[0])  # the same event twice within the batch counts once
    inserted = {p.event_id for p in batch[:5]}
    samples: list[tuple[str, tuple[tuple[str, str], ...]]] = [
        ("events_processed_total", (("result", "stored"),)),
        ("events_processed_total", (("result", "duplicate"),)),
        ("event_processing_duration_seconds_bucket", (("le", "0.5"),)),
        ("event_processing_duration_seconds_bucket", (("le", "1.0"),)),
        ("event_processing_duration_seconds_bucket", (("le", "0.01"),)),
        ("event_processing_duration_seconds_count", ()),
    ]
    before = {(name, labels): _value(name, **dict(labels)) for name, labels in samples}
    pipeline._after_commit(batch, inserted, committed)
    after = {(name, labels): _value(name, **dict(labels)) for name, labels in samples}
    change = {
        name + str(labels): after[name, labels] - before[name, labels] for name, labels in samples
    }
    assert change == {
        "events_processed_total(('result', 'stored'),)": 5,
        "events_processed_total(('result', 'duplicate'),)": 2,
        "event_processing_duration_seconds_bucket(('le', '0.5'),)": 4,
        "event_processing_duration_seconds_bucket(('le', '1.0'),)": 5,
        "event_processing_duration_seconds_bucket(('le', '0.01'),)": 1,
        "event_processing_duration_seconds_count()": 5,
    }
    assert deltas.total == 5
    assert deltas.actions == Counter({"login": 4, "read": 1})
    assert deltas.outcomes == Counter({"failure": 4, "success": 1})
    assert [alert for alert in notifier.sent if "mallory" in str(alert)]  # 3 failures: fired
    assert len(notifier.sent) == 1
