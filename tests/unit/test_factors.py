"""Contributing-factor and near-limit rules: each finds its case, stays quiet without data, and
holds at its threshold (a share exactly at the line counts, just under it does not)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from drills.backlog_peaks import QUEUE_PEAK
from drills.postmortem import factors
from drills.results import FaultSummary, Phase
from tests.causal_support import T0, alerts, at, peak, phases, result
from tests.causal_support import step as causal_step


def rules(found: list[factors.Factor]) -> list[str]:
    return [f.rule for f in found]


@pytest.mark.parametrize(("share", "found"), [(0.25, True), (0.2499, False), (None, False)])
def test_budget_share_threshold(share, found):
    """A drill spending a quarter of the budget or more is a factor; less, or unmeasured, is not."""
    got = factors.budget_share(result(error_budget_consumed=share, error_budget_reason="r"))
    assert bool(got) is found
    if found:
        assert "25.00 %" in got[0].text


def stop(held: float, boot: float) -> FaultSummary:
    figures = {"held_down_seconds": held, "ready_seconds_after_start": boot}
    return FaultSummary("service-stop", {"mode": "kill"}, figures, ())


def test_startup_dominated_single_fault():
    """7.6 s of boot in the 9.6 s after a 20 s hold dominates; the component is named."""
    run = result(fault=stop(20.0, 7.6), recovered_at=at(29.6))
    (factor,) = factors.startup_dominated(run, "rabbitmq")
    assert "rabbitmq's start-up: 7.6 s" in factor.text and "of the 9.6 s" in factor.text


@pytest.mark.parametrize("recovered", [35.0, 19.0])
def test_startup_not_dominant_or_recovery_before_the_rollback(recovered):
    """Boot under half of the post-rollback time, or a 'recovery' before the rollback: no factor."""
    run = result(fault=stop(20.0, 7.0), recovered_at=at(recovered))
    assert factors.startup_dominated(run, "rabbitmq") == []


def test_startup_dominated_per_composite_step():
    """A composite step is judged from its own rollback; a step without a start-up figure is not."""
    step = causal_step()
    other = dataclasses.replace(step, name="lock", kind="table-lock", rolled_back_at=at(16.0))
    fault = FaultSummary("composite", {}, {"broker-down.ready_seconds_after_start": 9.0}, ())
    run = result(fault=fault, steps=(step, other), recovered_at=at(31.0))
    (factor,) = factors.startup_dominated(run)
    assert "rabbitmq's start-up: 9.0 s" in factor.text and "of the 16.0 s" in factor.text


def test_alert_after_breach_and_before_it():
    """An alert firing after the first breach is a factor; one before it (or no breach) is not."""
    late = result(phases=phases(breach=0.256), alerts=alerts(at(6.652)))
    (factor,) = factors.alert_after_breach(late)
    assert "only 6.4 s after the SLO was already breached (T+0.3 s)" in factor.text
    early = result(phases=phases(breach=3.0), alerts=alerts(at(2.0)))
    assert factors.alert_after_breach(early) == []
    assert (
        factors.alert_after_breach(result(phases=phases(breach=None), alerts=alerts(at(2.0)))) == []
    )


@pytest.mark.parametrize(
    ("firing", "found"), [(None, True), (2.5, True), (2.0, False), (1.0, False)]
)
def test_no_alert_before_recovery(firing, found):
    """No expected alert by the recovery (none at all, or only after it) is a factor."""
    run = result(alerts=alerts(None if firing is None else at(firing)), recovered_at=at(2.0))
    assert bool(factors.no_alert_before_recovery(run)) is found


def test_no_alert_factor_needs_a_recovery_and_expected_alerts():
    assert factors.no_alert_before_recovery(result(alerts=alerts(None))) == []
    assert factors.no_alert_before_recovery(result(recovered_at=at(2.0))) == []


def test_probes_blind_only_when_the_breach_phase_was_measured_empty():
    """A breach phase measured without a time is a blind spot; no phases, no claim."""
    assert rules(factors.probes_blind(result(phases=phases(breach=None)))) == ["probes-blind"]
    assert factors.probes_blind(result(phases=phases(breach=1.0))) == []
    assert factors.probes_blind(result()) == []
    assert factors.probes_blind(result(injected_at=None, phases=phases(breach=None))) == []


def test_restored_before_ready():
    """The steady state back before the component is ready: the TTR does not measure the fault."""
    run = result(phases=phases(ready=21.1, restored=11.1))
    (factor,) = factors.restored_before_ready(run)
    assert "(T+11.1 s)" in factor.text and "(T+21.1 s)" in factor.text
    assert factors.restored_before_ready(result(phases=phases(ready=1.2, restored=2.0))) == []
    assert factors.restored_before_ready(result(phases=phases(ready=None, restored=2.0))) == []


def labels(limits: list[factors.Limit], judged: bool) -> list[str]:
    return [limit.label for limit in limits if limit.judged is judged]


@pytest.mark.parametrize(("value", "found"), [(80_000, True), (79_999, False)])
def test_near_limit_generator_buffer_at_the_threshold(value, found):
    """Within 20 % of the buffer's 100,000 is luck; one event further is not. Either way the peak
    is stated against its limit, with its time and source; the queue, not measured, is named."""
    lucky, limits = factors.near_limit(result(backlog_peaks=(peak(value=value, offset=20.0),)))
    assert bool(lucky) is found
    assert labels(limits, judged=False) == ["the analysis queue's bound"]
    (judged,) = [limit for limit in limits if limit.judged]
    assert judged.text.startswith(f"the generator's buffer: {value:,} of 100,000 events (")
    assert " at T+20.0 s, from prometheus: the largest of 40 raw samples" in judged.text
    if found:
        assert "80,000 of the generator's buffer of 100,000 (80 %) at T+20.0 s" in lucky[0].text


def test_near_limit_queue_bound_and_small_shares():
    """The queue is judged against its recorded bound; a share under 10 % keeps a decimal."""
    queue, limits = factors.near_limit(
        result(backlog_peaks=(peak(QUEUE_PEAK, 27_000, limit=30_000), peak(value=400)))
    )
    assert queue and "of 30,000 (90 %)" in queue[0].text
    assert labels(limits, judged=True) == ["the generator's buffer", "the analysis queue's bound"]
    assert "400 of 100,000 events (0.4 %)" in limits[0].text
    _, tiny = factors.near_limit(result(backlog_peaks=(peak(QUEUE_PEAK, 6, limit=30_000),)))
    assert "6 of 30,000 messages ready (under 0.1 %)" in tiny[1].text


def test_near_limit_without_a_recorded_limit_uses_the_default_and_says_so():
    """A peak without its limit is judged against the default bound, and the line says so."""
    lucky, limits = factors.near_limit(result(backlog_peaks=(peak(value=85_000, limit=None),)))
    assert lucky and "of the generator's buffer of 100,000 (85 %)" in lucky[0].text
    assert "(the default: the run recorded no limit)" in limits[0].text


def test_near_limit_without_peaks_judges_nothing_and_says_why():
    """No peak in the result (recorded before they were measured), or one that could not be
    measured: no luck claimed, and each limit named as not judged with its reason."""
    lucky, limits = factors.near_limit(result())
    assert lucky == []
    assert labels(limits, judged=False) == ["the generator's buffer", "the analysis queue's bound"]
    assert {limit.why for limit in limits} == {factors.NO_PEAK}
    unmeasured = peak(value=None, offset=None, reason="no sample of g from the injection")
    lucky, limits = factors.near_limit(result(backlog_peaks=(unmeasured,)))
    assert lucky == [] and limits[0].why == "no sample of g from the injection"


def test_derive_orders_rules_and_skips_luck_when_not_injected():
    """derive keeps the rules' table order; a run that never injected judges no limit."""
    run = result(
        error_budget_consumed=0.86,
        error_budget_reason="r",
        phases=(*phases(breach=0.3), Phase("SLO restored", at(30.0), 30.0, "p")),
        alerts=alerts(at(6.0)),
        recovered_at=T0 + timedelta(seconds=30),
    )
    assert rules(list(factors.derive(run).contributing)) == ["budget-share", "alert-after-breach"]
    assert factors.derive(result(injected_at=None)).not_judged == ()
