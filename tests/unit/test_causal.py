"""Causal-chain rules, one at a time: a link with its figure when the result holds the figure,
nothing when it does not, and the edge values (zero, negative, missing parts) worded truthfully."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from drills.backlog_peaks import QUEUE_PEAK
from drills.delay import Delay
from drills.ledger import Ledger
from drills.postmortem import causal, causal_kinds
from drills.postmortem.causal_model import Scope
from drills.results import FaultSummary, Phase
from drills.unavailability import ApiUnavailability, ClientUnavailability, Window
from tests.causal_support import T0, alerts, at, peak, phases, result, step

NO_RESULT = result()


def scope(
    kind: str, figures: Mapping[str, object], params: Mapping[str, object] | None = None, **kw: Any
) -> Scope:
    values: dict[str, Any] = {
        "kind": kind,
        "component": "rabbitmq",
        "params": params or {},
        "figures": figures,
        "injected_at": T0,
        "ready_at": at(21.0),
        "ready_offset_s": 21.0,
        "step": "",
        "prefix": "fault.figures.",
    }
    values.update(kw)
    return Scope(**values)


# --- per fault kind ---------------------------------------------------------------------------


def test_service_stopped_states_the_hold_and_its_source():
    """A service-stop link carries the hold, the injection time and the figure's field."""
    link = causal_kinds.service_stopped(
        scope("service-stop", {"held_down_seconds": 20.041}, {"mode": "kill"}), NO_RESULT
    )
    assert link is not None
    assert (link.figure, link.at) == ("held 20.0 s", T0)
    assert "mode kill" in link.text
    assert link.source == "result.json: fault.figures.held_down_seconds"


def test_service_links_are_left_out_without_their_figures():
    """No figure, no link: neither the stop nor the start-up is invented."""
    empty = scope("service-stop", {})
    assert causal_kinds.service_stopped(empty, NO_RESULT) is None
    assert causal_kinds.service_back(empty, NO_RESULT) is None


def test_service_back_names_start_up_and_offset_only_when_known():
    """The start-up is the figure; the ready offset is said only when the phase has one."""
    figures = {"ready_seconds_after_start": 7.61}
    link = causal_kinds.service_back(scope("service-stop", figures), NO_RESULT)
    assert link is not None and link.figure == "start-up 7.6 s"
    assert "T+21.0 s" in link.text and link.at == at(21.0)
    bare = causal_kinds.service_back(scope("service-stop", figures, ready_offset_s=None), NO_RESULT)
    assert bare is not None and "T+" not in bare.text


def test_process_kill_with_a_restart_delay():
    """A restart after the kill is stated with its delay and the new pid."""
    figures = {"restart_pid": "15002", "restart_seconds": 0.032}
    link = causal_kinds.process_killed(
        scope("process-kill", figures, {"signal": "KILL"}), NO_RESULT
    )
    assert link is not None
    assert link.figure == "restart after 0.032 s"
    assert "SIGKILL" in link.text and "pid 15002" in link.text


def test_process_kill_restart_recorded_before_the_kill_is_not_a_delay():
    """A negative restart time (whole-second start times) is named, never shown as a delay."""
    figures = {"restart_pid": "15099", "restart_seconds": -0.532}
    link = causal_kinds.process_killed(scope("process-kill", figures), NO_RESULT)
    assert link is not None
    assert link.figure == "pid 15099"
    assert "no restart delay measured" in link.text and "-0.532" in link.text


def test_process_kill_without_pid_or_restart_time_is_left_out():
    """A kill link needs both the new pid and the restart time; ready needs its figure."""
    assert (
        causal_kinds.process_killed(scope("process-kill", {"restart_seconds": 1.0}), NO_RESULT)
        is None
    )
    assert (
        causal_kinds.process_killed(scope("process-kill", {"restart_pid": "1"}), NO_RESULT) is None
    )
    assert causal_kinds.process_ready(scope("process-kill", {}), NO_RESULT) is None
    ready = causal_kinds.process_ready(scope("process-kill", {"ready_seconds": 1.196}), NO_RESULT)
    assert ready is not None and ready.figure == "ready 1.2 s after the kill"


def test_process_freeze_links():
    """Frozen for the hold (with the kernel's looks), continued with the same pid."""
    figures = {
        "frozen_pid": "42",
        "pid_after": "42",
        "held_frozen_seconds": 15.02,
        "stopped_looks": "14/14",
        "ready_seconds_after_thaw": 0.31,
    }
    frozen = causal_kinds.process_frozen(scope("process-freeze", figures), NO_RESULT)
    thawed = causal_kinds.process_thawed(scope("process-freeze", figures), NO_RESULT)
    assert frozen is not None and frozen.figure == "frozen 15.0 s" and "14/14" in frozen.text
    assert thawed is not None and thawed.figure == "ready 0.3 s after the thaw"
    assert "still pid 42" in thawed.text
    # A freeze never thawed has no hold and no thaw figure.
    unthawed = scope("process-freeze", {"held_frozen_seconds": None, "frozen_pid": "42"})
    assert causal_kinds.process_frozen(unthawed, NO_RESULT) is None
    assert causal_kinds.process_thawed(unthawed, NO_RESULT) is None


@pytest.mark.parametrize(("mode", "reads"), [("access-exclusive", True), ("", False)])
def test_table_lock_says_when_reads_wait_too(mode, reads):
    """The migration's lock (access-exclusive) is named as one that stops reads as well."""
    params = {"mode": mode} if mode else {}
    link = causal_kinds.table_locked(scope("table-lock", {"held_seconds": 40.0}, params), NO_RESULT)
    assert link is not None and link.figure == "held 40.0 s"
    assert ("reads wait too" in link.text) is reads


def test_table_lock_blocked_and_zero_stored_is_a_figure():
    """Zero stored during the hold is a measured figure, not a missing one."""
    figures = {"blocked_backends": 3, "blocked_writer_sessions": 2, "stored_during_hold": 0}
    blocked = causal_kinds.writers_blocked(scope("table-lock", figures), NO_RESULT)
    stored = causal_kinds.stored_during_hold(scope("table-lock", figures), NO_RESULT)
    assert blocked is not None and blocked.figure == "3 blocked" and "2 writer" in blocked.text
    assert stored is not None and stored.figure == "0 stored"
    assert (
        causal_kinds.stored_during_hold(
            scope("table-lock", {"stored_during_hold": None}), NO_RESULT
        )
        is None
    )


def test_malformed_events_links():
    """Published, dead-lettered (with missing and wrong reasons), and the consumer's restarts."""
    figures = {
        "malformed_published": 40,
        "malformed_dead_lettered": 39,
        "malformed_missing": 1,
        "wrong_reason": 0,
        "kinds": "bad-json=20, missing-field=20",
        "consumer_restarts": 0,
    }
    s = scope("malformed-events", figures, component="audit-log-analysis")
    published = causal_kinds.malformed_published(s, NO_RESULT)
    dead = causal_kinds.malformed_dead_lettered(s, NO_RESULT)
    restarts = causal_kinds.consumer_restarts(s, NO_RESULT)
    assert (
        published is not None and published.figure == "40 sent" and "bad-json=20" in published.text
    )
    assert dead is not None and dead.figure == "39 dead-lettered" and "1 missing" in dead.text
    assert (
        restarts is not None and restarts.figure == "0 restarts" and "kept running" in restarts.text
    )
    crashed = causal_kinds.consumer_restarts(
        scope("malformed-events", {"consumer_restarts": 1}), NO_RESULT
    )
    assert crashed is not None and crashed.text == "consumer crashed"


def test_pvc_wipe_restore_links():
    """Backup age at the wipe, the restore, the RTO and the RPO before and after re-drive."""
    figures = {
        "backup_age_at_wipe_s": 12.5,
        "backup_rows": 1000,
        "restore_seconds": 3.25,
        "rto_seconds": 9.75,
        "rpo_before_redrive": 120,
        "rpo_after_redrive": 0,
        "redriven": 120,
    }
    s = scope("pvc-wipe-restore", figures, component="postgresql")
    wiped = causal_kinds.volume_wiped(s, NO_RESULT)
    assert wiped is not None and wiped.figure == "backup 12.5 s old" and "1,000 rows" in wiped.text
    assert causal_kinds.restored(s, NO_RESULT).figure == "restore 3.2 s"  # type: ignore[union-attr]
    assert causal_kinds.first_write(s, NO_RESULT).figure == "RTO 9.8 s"  # type: ignore[union-attr]
    redrive = causal_kinds.redrive(s, NO_RESULT)
    assert redrive is not None and redrive.figure == "RPO 0 events after re-drive"
    assert "120 confirmed events missing" in redrive.text and "120 re-driven" in redrive.text
    # Never restored: no RPO before re-drive, so no RPO link at all.
    unrestored = scope("pvc-wipe-restore", {**figures, "rpo_before_redrive": None})
    assert causal_kinds.redrive(unrestored, NO_RESULT) is None


def test_a_boolean_figure_is_never_a_number():
    """integrity_ok-style booleans do not pass for a figure (True is not 1 s)."""
    assert (
        causal_kinds.restored(scope("pvc-wipe-restore", {"restore_seconds": True}), NO_RESULT)
        is None
    )


# --- shared links -----------------------------------------------------------------------------


def test_slo_breach_present_absent_and_never():
    """A breach at its offset; a breach phase without a time is "no breach"; no phase, no link."""
    s = scope("service-stop", {})
    breached = causal.slo_breach(s, result(phases=phases(breach=0.256)))
    assert breached is not None and breached.figure == "T+0.3 s" and breached.at == at(0.256)
    never = causal.slo_breach(s, result(phases=phases(breach=None)))
    assert never is not None and never.figure == "no breach" and never.at is None
    assert causal.slo_breach(s, NO_RESULT) is None


def test_detection_fired_missed_and_unexpected_nothing():
    """The first firing with TTD; a missed alert by name; no expected alerts, no link."""
    s = scope("service-stop", {})
    fired = causal.detection(s, result(alerts=alerts(at(6.652)), ttd_seconds=6.652))
    assert fired is not None and fired.figure == "TTD 6.7 s" and fired.at == at(6.652)
    missed = causal.detection(s, result(alerts=alerts(None)))
    assert (
        missed is not None
        and missed.figure == "none fired"
        and "RabbitMQDown missed" in missed.text
    )
    assert causal.detection(s, NO_RESULT) is None


@pytest.mark.parametrize(
    ("breach", "words"),
    [
        (1.0, ", after the steady state was already breached"),
        (9.0, ", before the steady state was breached"),
        (None, ""),
    ],
)
def test_detection_says_whether_it_came_before_or_after_the_breach(breach, words):
    """The alert against the first SLO breach; no breach time, nothing said."""
    s = scope("service-stop", {})
    run = result(alerts=alerts(at(6.0)), ttd_seconds=6.0, phases=phases(breach=breach))
    link = causal.detection(s, run)
    assert link is not None and link.text == f"RabbitMQDown firing{words}"


def test_latency_budget_parses_the_harness_reason():
    """Bad events, budget and window come from error_budget_reason; the share is the figure."""
    s = scope("service-stop", {})
    reason = "9290 events slower than 0.5 s / budget of 10800 (1.00% of 300 events/s over 3600 s)"
    link = causal.latency_budget(
        s, result(error_budget_consumed=0.8602, error_budget_reason=reason)
    )
    assert link is not None and link.figure == "86.02 % of the budget"
    assert link.text.startswith("9,290 events slower than 0.5 s") and "over 3600 s" in link.text
    odd = causal.latency_budget(s, result(error_budget_consumed=0.1, error_budget_reason="other"))
    assert odd is not None and odd.text == "latency error budget consumed"
    assert causal.latency_budget(s, result(error_budget_reason="no latency data")) is None


def test_user_delay_needs_measured_events():
    """Occurred → stored p99 and max when events were measured; otherwise no link."""
    s = scope("service-stop", {})
    delay = Delay(11513, 10.377, 24.334, 24.65, 2664, 0.033, 1.42, 4.508, 4.51, "pg")
    link = causal.user_delay(s, result(delay=delay))
    assert link is not None and link.figure == "p99 24.334 s" and "max 24.650 s" in link.text
    none = dataclasses.replace(delay, events=0, p99_s=None, max_s=None, reason="no events")
    assert causal.user_delay(s, result(delay=none)) is None
    assert causal.user_delay(s, NO_RESULT) is None


def api(
    name: str, failed: int = 0, seconds: float = 0.0, note: str = "", windows=()
) -> ApiUnavailability:
    return ApiUnavailability(name, "http://x", 100, failed, 0, seconds, 0, tuple(windows), note)


def probe(*apis: ApiUnavailability) -> ClientUnavailability:
    return ClientUnavailability(5.0, 2.0, at(-5), at(40), T0, at(30), apis)


def test_client_unavailability_worst_api_none_and_unprobed():
    """The worst API's unavailable time from its first window; all fine is '0 failed'."""
    s = scope("service-stop", {})
    window = Window(at(2.0), at(9.5), 7.5, 37, 3, False)
    worst = causal.client_unavailability(
        s,
        result(
            client_unavailability=probe(
                api("dashboard API", 37, 7.5, windows=[window]), api("page")
            )
        ),
    )
    assert worst is not None and worst.figure == "7.5 s" and worst.at == at(2.0)
    assert worst.text.startswith("dashboard API unavailable") and "37 failed" in worst.text
    fine = causal.client_unavailability(s, result(client_unavailability=probe(api("page"))))
    assert fine is not None and fine.figure == "0 failed"
    unprobed = probe(api("page", note="not probed"))
    assert causal.client_unavailability(s, result(client_unavailability=unprobed)) is None
    assert causal.client_unavailability(s, NO_RESULT) is None


def test_ledger_link_and_a_ledger_with_a_note_is_not_a_figure():
    """The ledger closes the chain with the loss count; a ledger with a note measured nothing."""
    s = scope("service-stop", {})
    ledger = Ledger("run", 1, 100, 100, 100, 0, 0, 0)
    link = causal.ledger(s, result(ledger=ledger))
    assert link is not None and link.figure == "0 lost" and "100 events confirmed" in link.text
    noted = dataclasses.replace(ledger, note="no canary events in range")
    assert causal.ledger(s, result(ledger=noted)) is None


def test_backlog_peak_links_with_share_time_and_source():
    """Each recorded peak is a link: its figure against its limit, its time, where it came from;
    an unmeasured or absent peak gives no link, a zero peak says no backlog built up."""
    s = scope("service-stop", {})
    link = causal.buffer_peak(s, result(backlog_peaks=(peak(),)))
    assert link is not None
    assert (link.text, link.figure) == (
        "the generator buffered the backlog",
        "peak 5,880 events (5.9 % of its 100,000)",
    )
    assert link.at == at(19.9)
    assert link.source.startswith("result.json: backlog_peaks[generator_buffer_peak_events] (")
    assert "raw samples of g, at most 1 s apart" in link.source
    queue = causal.queue_peak(s, result(backlog_peaks=(peak(QUEUE_PEAK, 0, limit=30_000),)))
    assert queue is not None and queue.text == "the analysis queue held no backlog"
    assert queue.figure == "peak 0 messages ready (0.0 % of its 30,000)"
    unmeasured = peak(value=None, offset=None, reason="no sample")
    assert causal.buffer_peak(s, result(backlog_peaks=(unmeasured,))) is None
    assert causal.buffer_peak(s, NO_RESULT) is None
    assert causal.queue_peak(s, result(backlog_peaks=(peak(),))) is None


def test_a_composite_peak_names_the_step_in_effect():
    """In a composite drill the peak is the drill's; the link says during which step it came."""
    first = step(start="")
    second = dataclasses.replace(first, name="kill-analysis", injected_at=at(30.0))
    run = result(steps=(first, second), backlog_peaks=(peak(offset=16.0),))
    link = causal.buffer_peak(scope("service-stop", {}), run)
    assert (
        link is not None
        and link.text == "the generator buffered the backlog, during step broker-down"
    )
    later = dataclasses.replace(run, backlog_peaks=(peak(offset=31.0),))
    link = causal.buffer_peak(scope("service-stop", {}), later)
    assert link is not None and link.text.endswith("during step kill-analysis")


# --- the chain --------------------------------------------------------------------------------


def test_no_chain_when_nothing_was_injected():
    """A run that never injected has nothing to explain: no chain at all."""
    assert causal.build(result(injected_at=None)) is None


def test_a_link_without_its_figure_is_named_as_left_out():
    """Dropping a figure drops its link, and the segment names the link it left out."""
    fault = FaultSummary("service-stop", {"mode": "kill"}, {"ready_seconds_after_start": 1.0}, ())
    chain = causal.build(result(fault=fault), component="rabbitmq")
    assert chain is not None
    first = chain.segments[0]
    assert first.title == "service-stop on rabbitmq"
    assert "component stopped" in first.missing
    assert all("stopped" not in link.text for link in first.links)


def test_unknown_fault_kind_says_it_has_no_rules():
    """A fault kind without rules is named as left out, not silently given an empty chain."""
    chain = causal.build(result(fault=FaultSummary("brand-new", {}, {}, ())))
    assert chain is not None and chain.segments[0].missing[0] == "links of fault kind brand-new"


def test_links_in_time_order_untimed_links_follow_their_cause():
    """A link without a time stays after the link before it; timed links sort by time."""
    fault = FaultSummary(
        "process-kill", {}, {"restart_pid": "2", "restart_seconds": 0.1, "ready_seconds": 1.2}, ()
    )
    chain = causal.build(
        result(
            fault=fault,
            phases=(*phases(breach=1.0), Phase("component ready", at(1.2), 1.2, "target: local")),
            alerts=alerts(at(2.5)),
            ttd_seconds=2.5,
        ),
        component="audit-log-analysis",
    )
    assert chain is not None
    figures = [link.figure for link in chain.segments[0].links]
    assert figures == [
        "restart after 0.100 s",
        "T+1.0 s",
        "ready 1.2 s after the kill",
        "TTD 2.5 s",
    ]
