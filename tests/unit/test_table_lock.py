"""table-lock: its parameter checks, and the rules by which a dead run's lock holder is ended.

The SQL itself runs against the sandbox's PostgreSQL in tests/integration (test_drills_more's
db-lock-stall drill and its recover test); here the pure parts: which journaled sessions count,
which live backend may be terminated, and what the fault reports from its evidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.crash_recovery import leftovers
from drills.errors import SpecError
from drills.faults import lock_session
from drills.faults.base import FaultContext, Injection
from drills.faults.lock_session import (
    APP_NAME_PREFIX,
    J_SESSION,
    NAMEDATALEN,
    Backend,
    Decision,
    decide,
    journaled_sessions,
)
from drills.faults.registry import build
from drills.faults.table_lock import TableLock, report
from drills.journal import InjectIntent, Journal
from drills.spec import load
from drills.targets.fake import FakeTarget
from tests import REPO_ROOT

DRILL = """\
name: lock
description: a lock
target:
  component: postgres
fault:
  kind: table-lock
  params:
    duration_s: 25
steady_state:
  - name: up
    query: min(up{job="audit-log-analysis"})
    tolerance: {min: 1}
expected_alerts: [QueueBacklogGrowing]
objectives:
  max_ttd_s: 30
  max_lost: 0
"""
OURS = Backend(4242, APP_NAME_PREFIX + "20261203T131500Z-db-lock-stall", 1_764_767_700_123_456)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_the_catalog_drill_builds_a_table_lock_of_its_hold():
    spec = load(REPO_ROOT / "drills" / "catalog" / "db-lock-stall.yaml")
    fault = build(spec.fault)
    assert isinstance(fault, TableLock)
    assert fault.duration_s == spec.fault.params["duration_s"] == 40.0
    assert spec.expected_alerts == ("QueueBacklogGrowing",)
    # the hold must outlast the objective: the alert can only fire while the lock holds
    assert spec.objectives.max_ttd_s is not None
    assert fault.duration_s >= spec.objectives.max_ttd_s


def test_duration_defaults_when_omitted(tmp_path):
    text = DRILL.replace("  params:\n    duration_s: 25\n", "")
    assert load(write(tmp_path, text)).fault.params == {"duration_s": 30.0, "mode": "exclusive"}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", ">= 1"),
        ("-5", ">= 1"),
        ("3601", "<= 3600"),
        (".nan", "finite"),
        (".inf", "finite"),
        ("soon", "number"),
        ("true", "number"),
    ],
)
def test_duration_is_bounded_and_finite(tmp_path, value, why):
    """A hold of nothing proves nothing; a hold past an hour is an outage; NaN is no bound."""
    path = write(tmp_path, DRILL.replace("duration_s: 25", f"duration_s: {value}"))
    with pytest.raises(SpecError) as info:
        load(path)
    assert info.value.field_path == "fault.params.duration_s", str(info.value)
    assert info.value.line == 8
    assert why in info.value.why


def test_an_unknown_parameter_is_named(tmp_path):
    path = write(tmp_path, DRILL.replace("duration_s: 25", "table: users"))
    with pytest.raises(SpecError) as info:
        load(path)
    assert info.value.field_path == "fault.params.table"
    assert "unknown field" in info.value.why


def test_app_name_names_the_run_and_fits_postgres_limit():
    assert lock_session.app_name("run-1") == "genesis-drill lock run-1"
    long = lock_session.app_name("x" * 100)
    assert len(long.encode()) == NAMEDATALEN and long.startswith(APP_NAME_PREFIX)


def test_journaled_sessions_reads_only_well_formed_records_of_this_fault():
    records = [
        {"event": "inject-intent", "pid": 1},
        {"event": J_SESSION, **OURS.as_record()},
        {"event": J_SESSION, **OURS.as_record()},  # written twice: one session
        {"event": J_SESSION, "pid": "4242", "application_name": OURS.application_name,
         "started_us": 1},
        {"event": J_SESSION, "pid": True, "application_name": OURS.application_name,
         "started_us": 1},
        {"event": J_SESSION, "pid": 0, "application_name": OURS.application_name,
         "started_us": 1},
        {"event": J_SESSION, "pid": 7, "application_name": OURS.application_name},
        # not a name this fault writes: a foreign or edited journal never terminates psql
        {"event": J_SESSION, "pid": 8, "application_name": "psql", "started_us": 1},
        {"event": J_SESSION, "pid": 9, "application_name": APP_NAME_PREFIX + "b",
         "started_us": 2},
    ]  # fmt: skip
    assert journaled_sessions(records) == [OURS, Backend(9, APP_NAME_PREFIX + "b", 2)]


@pytest.mark.parametrize(
    ("live", "decision"),
    [
        (None, Decision.GONE),
        (OURS, Decision.TERMINATE),
        # the PID was reused by another client, or by another lock run
        (Backend(OURS.pid, "audit-log-analysis", OURS.started_us), Decision.NOT_OURS),
        (Backend(OURS.pid, APP_NAME_PREFIX + "other-run", OURS.started_us), Decision.NOT_OURS),
        # same name, started later: the server restarted and a new session took the PID
        (Backend(OURS.pid, OURS.application_name, OURS.started_us + 1), Decision.NOT_OURS),
        (Backend(OURS.pid + 1, OURS.application_name, OURS.started_us), Decision.GONE),
    ],
)
def test_only_the_journaled_backend_itself_is_terminated(live, decision):
    assert decide(OURS, live) is decision


def fake_context(tmp_path: Path) -> FaultContext:
    spec = load(REPO_ROOT / "drills" / "catalog" / "db-lock-stall.yaml")
    target = FakeTarget()
    return FaultContext(
        spec, target, target.endpoints(), Journal(tmp_path), tmp_path, lambda _k, _d: None
    )


def test_rollback_without_a_journaled_session_touches_no_server(tmp_path):
    """A run that died before its session was journaled left no lock: rollback (and recover)
    succeed without connecting — the fake target's PostgreSQL port refuses everything."""
    ctx = fake_context(tmp_path)
    ctx.journal.append(InjectIntent(kind="table-lock", component="postgres", params={}))
    fault = TableLock(30)
    fault.rollback(ctx)
    fault.rollback(ctx)  # idempotent
    assert fault.ended == []
    assert "lock-released" not in [r["event"] for r in ctx.journal.records()]


def test_rollback_with_a_journaled_session_fails_loudly_when_it_cannot_check(tmp_path):
    """Unreachable PostgreSQL: the lock may still be held, so the rollback is not done."""
    from drills.errors import TargetError

    ctx = fake_context(tmp_path)
    ctx.journal.write(J_SESSION, **OURS.as_record())
    with pytest.raises(TargetError, match="check the lock session"):
        TableLock(30).rollback(ctx)


def test_a_dead_run_holding_the_lock_is_a_leftover(tmp_path):
    ctx = fake_context(tmp_path)
    ctx.journal.append(InjectIntent(kind="table-lock", component="postgres", params={}))
    ctx.journal.write(J_SESSION, **OURS.as_record())
    assert leftovers(tmp_path).fault == ("table-lock", "postgres")


def test_report_checks_the_lock_the_blocked_writer_and_the_release():
    fault = TableLock(30)
    fault.released_at = 1030.5
    fault.ended = ["backend 4242 ('genesis-drill lock r'): gone"]
    injection = Injection(1000.0, "harness clock", {"pid": 4242})
    evidence = {"held": True, "blocked": {"audit-log-analysis": 1}, "stored_during_hold": 0}
    result = report(injection, 30, evidence, "", fault)
    assert all(check.passed for check in result.checks), result.checks
    assert result.figures["held_seconds"] == 30.5
    assert result.figures["blocked_writer_sessions"] == 1
    assert result.ready_at == 1030.5


def test_report_fails_when_the_session_was_lost_or_a_pid_was_left_alone():
    fault = TableLock(30)
    fault.ended = ["backend 4242 ('x'): its PID now belongs to another session; left alone"]
    injection = Injection(1000.0, "harness clock", {"pid": 4242})
    result = report(injection, 30, None, "the lock session was lost during the hold: gone", fault)
    failed = {check.name for check in result.checks if not check.passed}
    assert failed == {
        "audit_events locked EXCLUSIVE for the whole hold",
        "audit-log-analysis's writes waited on the lock",
        "nothing stored while the lock was held",
        "no lock session left after rollback",
    }
    assert "lost during the hold" in result.checks[0].detail


def test_the_mode_parameter_names_exactly_the_lock_modes_the_session_knows():
    from drills.fault_params import FAULT_PARAMS

    assert set(FAULT_PARAMS["table-lock"]["mode"].choices) == set(lock_session.LOCK_MODES)
    assert FAULT_PARAMS["table-lock"]["mode"].default == lock_session.DEFAULT_MODE


def test_migration_lock_takes_access_exclusive_and_says_reads_wait(tmp_path):
    spec = load(REPO_ROOT / "drills" / "catalog" / "migration-lock.yaml")
    fault = build(spec.fault)
    assert isinstance(fault, TableLock)
    assert (fault.mode.sql, fault.mode.pg) == ("ACCESS EXCLUSIVE", "AccessExclusiveLock")
    target = FakeTarget()
    ctx = FaultContext(
        spec, target, target.endpoints(), Journal(tmp_path), tmp_path, lambda _k, _d: None
    )
    plan = "\n".join(fault.plan(ctx))
    assert "LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE" in plan
    assert "INSERTs and SELECTs wait" in plan
    # the default stays the silent stall: writes wait, reads run
    stall = build(load(REPO_ROOT / "drills" / "catalog" / "db-lock-stall.yaml").fault)
    assert isinstance(stall, TableLock) and stall.mode.sql == "EXCLUSIVE"
    assert "INSERTs wait, SELECTs run" in "\n".join(stall.plan(ctx))


def test_an_unknown_lock_mode_is_refused_naming_the_field(tmp_path):
    bad = DRILL.replace("    duration_s: 25\n", "    duration_s: 25\n    mode: share\n")
    with pytest.raises(SpecError) as caught:
        load(write(tmp_path, bad))
    message = str(caught.value)
    assert "mode" in message and "access-exclusive" in message, message
