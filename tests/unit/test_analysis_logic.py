"""The analysis service's batching policy, ack planning, security rule and counter deltas."""

from __future__ import annotations

import pytest

from auditflow.analysis.acks import AckPlanner
from auditflow.analysis.batching import Batcher
from auditflow.analysis.counters import CounterDeltas
from auditflow.analysis.notify import failed_login_alert
from auditflow.analysis.security import FailedLoginRule


def test_batch_due_at_max_size() -> None:
    """A batch is due as soon as it holds max_size items, regardless of age."""
    batcher: Batcher[int] = Batcher(3, 0.05)
    assert not batcher.add(1, 0.0)
    assert not batcher.add(2, 0.0)
    assert batcher.add(3, 0.0)
    assert batcher.due(0.0)
    assert batcher.take() == [1, 2, 3]
    assert batcher.wait_time(0.0) is None


def test_batch_due_at_max_age() -> None:
    """A small batch is due once its oldest item has waited max_age."""
    batcher: Batcher[int] = Batcher(100, 0.05)
    batcher.add(1, 10.0)
    batcher.add(2, 10.04)
    assert batcher.wait_time(10.01) == pytest.approx(0.04)
    assert not batcher.due(10.049)
    assert batcher.due(10.05)


def test_take_keeps_overflow_in_order() -> None:
    """Items beyond max_size stay, in order, for the next batch (which is already due)."""
    batcher: Batcher[int] = Batcher(2, 1.0)
    for item in range(5):
        batcher.add(item, float(item))
    assert batcher.take() == [0, 1]
    assert batcher.take() == [2, 3]
    assert batcher.wait_time(4.0) == pytest.approx(1.0)
    assert batcher.take() == [4]


def test_clear_drops_everything() -> None:
    """After a channel loss the batch is dropped (the broker redelivers it)."""
    batcher: Batcher[int] = Batcher(10, 1.0)
    batcher.add(1, 0.0)
    assert batcher.clear() == [1]
    assert len(batcher) == 0


def test_ack_multiple_when_nothing_unsettled_below() -> None:
    """With no dead-letter in progress, one multiple ack of the highest tag settles the batch."""
    planner = AckPlanner()
    assert planner.plan([4, 5, 7]) == [(7, True)]


def test_ack_individually_around_pending_dead_letter() -> None:
    """A dead-letter in progress below the batch's top tag forces per-message acks."""
    planner = AckPlanner()
    planner.dead_letter_started(6)
    assert planner.plan([4, 5, 7]) == [(4, False), (5, False), (7, False)]
    planner.dead_letter_finished(6)
    assert planner.plan([8, 9]) == [(9, True)]


def test_dead_letter_above_batch_does_not_block_multiple_ack() -> None:
    """A pending dead-letter with a higher tag is not covered by the batch's multiple ack."""
    planner = AckPlanner()
    planner.dead_letter_started(10)
    assert planner.plan([4, 5]) == [(5, True)]


def test_security_rule_fires_at_threshold_within_window() -> None:
    """The rule fires on the threshold-th failure within the window, not before."""
    rule = FailedLoginRule(threshold=3, window_s=60)
    assert rule.observe("mallory", 0.0) == 0
    assert rule.observe("mallory", 10.0) == 0
    assert rule.observe("mallory", 20.0) == 3


def test_security_rule_ignores_failures_outside_window() -> None:
    """Failures spread wider than the window never add up to an alert."""
    rule = FailedLoginRule(threshold=3, window_s=10)
    assert [rule.observe("bob", t) for t in (0.0, 11.0, 22.0, 33.0)] == [0, 0, 0, 0]


def test_security_rule_counts_actors_separately() -> None:
    """Failures by different actors do not add up."""
    rule = FailedLoginRule(threshold=2, window_s=60)
    assert rule.observe("a", 0.0) == 0
    assert rule.observe("b", 1.0) == 0
    assert rule.observe("a", 2.0) == 2


def test_security_rule_fires_once_per_window() -> None:
    """A sustained attack raises one alert per actor per window, not one per failure."""
    rule = FailedLoginRule(threshold=2, window_s=60)
    fired = [rule.observe("eve", float(t)) for t in range(0, 200, 2)]
    assert sum(1 for count in fired if count) == 4  # at t=2, 62, 122, 182


def test_security_rule_handles_out_of_order_times() -> None:
    """Events arriving out of order are still counted by event time."""
    rule = FailedLoginRule(threshold=3, window_s=10)
    assert rule.observe("x", 5.0) == 0
    assert rule.observe("x", 1.0) == 0
    assert rule.observe("x", 3.0) == 3


def test_security_rule_applies_only_to_failed_logins() -> None:
    """Only action login with outcome failure counts."""
    assert FailedLoginRule.applies("login", "failure")
    assert not FailedLoginRule.applies("login", "success")
    assert not FailedLoginRule.applies("read", "failure")


def test_alert_payload_shape() -> None:
    """The alert body carries the fingerprint, actor label and correlation id."""
    alert = failed_login_alert("mallory", 5, 60, "cid-1")
    assert alert["source"] == "audit-log-analysis"
    assert alert["name"] == "RepeatedFailedLogins"
    assert alert["fingerprint"] == "RepeatedFailedLogins:mallory"
    assert alert["labels"] == {"actor": "mallory"}
    assert alert["correlation_id"] == "cid-1"


def test_counter_deltas_survive_a_failed_push() -> None:
    """Deltas taken for a push that failed are merged back, so Redis catches up later."""
    deltas = CounterDeltas()
    deltas.add("login", "failure")
    deltas.add("read", "success")
    taken = deltas.take()
    deltas.add("read", "success")
    deltas.merge(taken)
    assert deltas.total == 3
    assert deltas.actions == {"login": 1, "read": 2}
    assert deltas.outcomes == {"failure": 1, "success": 2}
