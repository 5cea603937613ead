"""Action-item rules: what each finding of a run turns into (type, priority, done condition)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from drills.ledger import Ledger
from drills.postmortem import actions
from drills.postmortem.context import AlertInfo, build

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"


def run_from(name: str, tmp_path: Path):
    shutil.copytree(GOLDEN / name, tmp_path / name)
    return build(tmp_path / name)


def by_rule(items):
    return {item.rule: item for item in items}


def test_passed_run_only_schedules_a_rerun(tmp_path):
    """A run that met every objective yields just the P2 process item to re-run it."""
    items = actions.derive(run_from("20261127T062541Z-pod-kill", tmp_path))
    assert [(i.rule, i.type, i.priority) for i in items] == [("rerun", "process", "P2")]


def test_missed_alert_is_a_p0_detect_item(tmp_path):
    """An expected alert that never fired → add/fix the rule, naming the alert."""
    items = by_rule(actions.derive(run_from("20261127T062644Z-rabbitmq-outage", tmp_path)))
    item = items["missed-alert"]
    assert (item.type, item.priority, item.subject) == ("detect", "P0", "RabbitMQDown")
    assert "RabbitMQDown" in item.title and "within 30 s" in item.done_when


def test_slow_detection_names_measured_and_wanted(tmp_path):
    """TTD over the objective → a detect item with both figures in it."""
    run = run_from("20261127T062541Z-pod-kill", tmp_path)
    slow = dataclasses.replace(run, ttd=dataclasses.replace(run.ttd, seconds=42.0))
    item = by_rule(actions.derive(slow))["ttd-over-objective"]
    assert item.type == "detect" and item.priority == "P1"
    assert "42.0 s" in item.title and "30 s" in item.title
    assert "AuditAnalysisRestarted" in item.title


def test_loss_is_a_p0_prevent_item(tmp_path):
    """Any lost event → prevent, P0, done when a re-run loses none."""
    run = run_from("20261127T062541Z-pod-kill", tmp_path)
    assert run.ledger is not None
    lossy = dataclasses.replace(
        run, ledger=dataclasses.replace(run.ledger, lost=3, missing_sample=(5, 6, 7))
    )
    item = by_rule(actions.derive(lossy))["events-lost"]
    assert (item.type, item.priority) == ("prevent", "P0")
    assert "0 events lost" in item.done_when and "seq 5, 6, 7" in item.evidence


def test_restart_loop_is_mitigate(tmp_path):
    """Consumer restarts during the drill → mitigate (P0 for a loop of several)."""
    run = dataclasses.replace(run_from("20261127T062541Z-pod-kill", tmp_path), consumer_restarts=4)
    item = by_rule(actions.derive(run))["consumer-restart-loop"]
    assert (item.type, item.priority) == ("mitigate", "P0")


def test_unexpected_alert_is_alert_noise(tmp_path):
    """An alert that fired without being expected → a P2 review of that alert."""
    run = dataclasses.replace(
        run_from("20261127T062541Z-pod-kill", tmp_path), unexpected_alerts=("QueueBacklogGrowing",)
    )
    item = by_rule(actions.derive(run))["unexpected-alert"]
    assert item.priority == "P2" and item.subject == "QueueBacklogGrowing"


def test_target_error_is_investigated(tmp_path):
    """A run that could not reach its target → an investigate item carrying the reason."""
    items = by_rule(actions.derive(run_from("20261127T062824Z-rabbitmq-outage", tmp_path)))
    item = items["outcome-target-error"]
    assert item.type == "investigate" and "supervisord" in item.evidence
    assert "missed-alert" not in items  # nothing was injected, so no alert was missed


def test_fingerprint_is_stable_and_specific():
    """Same drill+rule+subject → same fingerprint; any part changed → a different one."""
    base = actions.fingerprint("pod-kill", "missed-alert", "X")
    assert base == actions.fingerprint("pod-kill", "missed-alert", "X")
    assert base.startswith("gd-") and len(base) == 19
    assert base != actions.fingerprint("pod-kill", "missed-alert", "Y")
    assert base != actions.fingerprint("rabbitmq-outage", "missed-alert", "X")


def test_every_item_is_complete(tmp_path):
    """Every derived item has a known type, P0-P2, an owner placeholder and a done condition."""
    run = run_from("20261127T062644Z-rabbitmq-outage", tmp_path)
    run = dataclasses.replace(
        run,
        unexpected_alerts=("A",),
        consumer_restarts=1,
        ledger=Ledger("r", 1, 10, confirmed=10, stored=8, dead_lettered=0, lost=2, duplicated=1),
        alerts=(*run.alerts, AlertInfo("B", True, False, None, None, None)),
    )
    items = actions.derive(run)
    assert len(items) >= 6
    for item in items:
        assert item.type in actions.TYPES and item.priority in actions.PRIORITIES
        assert item.owner == actions.OWNER_PLACEHOLDER and item.done_when
    assert [i.priority for i in items] == sorted(i.priority for i in items)
