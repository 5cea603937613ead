"""process-freeze without a sandbox: its parameters, and that rollback — in the run or from
`recover` after a crash, rebuilt from the journal — continues exactly the process it stopped.

The frozen process is a real one (`sleep`, its own process group like a supervisord program), and
its state is read from /proc here, not through the harness; only supervisord is faked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.crash_recovery import recover, unfinished_runs
from drills.errors import SpecError, TargetError
from drills.faults.base import FaultContext
from drills.faults.process_freeze import J_FREEZE_INTENT, J_THAWED, ProcessFreeze, report
from drills.faults.registry import build
from drills.journal import Journal, read
from drills.spec import load
from drills.targets.fake import FakeTarget
from drills.targets.freezer import FrozenGroup, ProcessRef, Thawed, freezer_of
from drills.targets.local_freezer import LocalFreezer
from tests import REPO_ROOT
from tests.unit.test_runner import go

DRILL = REPO_ROOT / "drills" / "catalog" / "analysis-freeze.yaml"
COMPONENT = "audit-log-analysis"


def kernel_state(pid: int) -> str:
    """The state letter from /proc/<pid>/stat, read directly (independent of drills.*)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]


def start_ticks(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19])


def settles_to(pid: int, wanted: str, timeout: float = 3.0) -> bool:
    """Signal delivery is asynchronous: the state may take a moment to change."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kernel_state(pid) == wanted:
            return True
        time.sleep(0.01)
    return kernel_state(pid) == wanted


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A process-group leader, as supervisord starts every program."""
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait()


@dataclass
class FreezableTarget(FakeTarget):
    """The fake platform, whose analysis "pod" is the test's real child process."""

    child_pid: int = 0

    def freezer(self) -> LocalFreezer:
        return LocalFreezer(lambda _component: self.child_pid)


def context(target: FakeTarget, run_dir: Path) -> FaultContext:
    return FaultContext(load(DRILL), target, target.endpoints(), Journal(run_dir), run_dir, _quiet)


def _quiet(_kind: str, _data: object) -> None:
    return None


# --- parameters ------------------------------------------------------------------------------


def drill_text(params: str, kind: str = "process-freeze") -> str:
    text = DRILL.read_text()
    return text.replace(
        "  kind: process-freeze\n  params:\n    duration_s: 12\n", f"  kind: {kind}\n{params}"
    )


def test_the_catalog_drill_freezes_the_analysis_service_for_12_s():
    spec = load(DRILL)
    assert (spec.target, spec.fault.kind, spec.fault.params) == (
        COMPONENT,
        "process-freeze",
        {"duration_s": 12.0},
    )
    assert spec.expected_alerts == ("AuditAnalysisDown",)
    fault = build(spec.fault)
    assert isinstance(fault, ProcessFreeze) and fault.duration_s == 12.0


@pytest.mark.parametrize(
    ("params", "line", "field", "why"),
    [
        ("", 16, "fault", "process-freeze needs params: duration_s"),
        ("  params: {}\n", 17, "fault.params", "missing required field 'duration_s'"),
        ("  params:\n    duration_s: 0.5\n", 18, "fault.params.duration_s", "must be >= 1"),
        ("  params:\n    duration_s: 7200\n", 18, "fault.params.duration_s", "must be <= 3600"),
        (
            "  params:\n    duration_s: 5\n    signal: STOP\n",
            19,
            "fault.params.signal",
            "unknown field (allowed: duration_s)",
        ),
    ],
)
def test_process_freeze_needs_a_bounded_duration(tmp_path, params, line, field, why):
    """A freeze is held for a set time: no duration, or one out of bounds, is refused by field."""
    path = tmp_path / "freeze.yaml"
    path.write_text(drill_text(params))
    with pytest.raises(SpecError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:{line}: {field}: {why}"), str(caught.value)


def test_process_kill_refuses_stop_and_points_at_process_freeze(tmp_path):
    """SIGSTOP through process-kill used to "pass" a kill drill whose restart never came and
    whose rollback continued whatever PID the program had then; now it is refused by field."""
    path = tmp_path / "kill-stop.yaml"
    path.write_text(drill_text("  params:\n    signal: STOP\n", kind="process-kill"))
    with pytest.raises(SpecError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:18: fault.params.signal: 'STOP' is not accepted here")
    assert "use fault kind process-freeze, with duration_s" in message


def test_process_kill_has_no_duration(tmp_path):
    path = tmp_path / "kill-duration.yaml"
    path.write_text(
        drill_text("  params:\n    signal: KILL\n    duration_s: 5\n", kind="process-kill")
    )
    with pytest.raises(SpecError, match=r":19: fault.params.duration_s: unknown field"):
        load(path)


# --- the freeze and its rollback on a real process ---------------------------------------------


def test_freeze_stops_the_process_in_place_and_rollback_continues_it(tmp_path, child):
    """inject journals the PID and start time before the signal; during the hold the kernel
    shows T; rollback continues the same process (not a new one) and journals it."""
    target = FreezableTarget(child_pid=child.pid)
    ctx = context(target, tmp_path)
    fault = ProcessFreeze(1.0)
    injection = fault.inject(ctx)
    assert settles_to(child.pid, "T")
    records = read(tmp_path / "journal.jsonl")
    assert [r["event"] for r in records] == [J_FREEZE_INTENT]
    assert records[0]["group"]["members"] == [
        {"pid": child.pid, "start_ticks": start_ticks(child.pid)}
    ]
    assert injection.details["pid"] == child.pid
    fault.hold(ctx, injection)
    assert kernel_state(child.pid) == "T" and set(fault.looks) == {"T"}
    fault.rollback(ctx)
    assert settles_to(child.pid, "S")
    thawed = [r for r in read(tmp_path / "journal.jsonl") if r["event"] == J_THAWED]
    assert thawed == [dict(thawed[0], continued=[child.pid], gone=[])]
    assert ("start", COMPONENT) in target.calls  # and the component is made sure to run
    fault.rollback(ctx)  # idempotent
    assert kernel_state(child.pid) == "S"


def test_a_fresh_fault_rolls_back_from_the_journal_alone(tmp_path, child):
    """Rollback in another process (`recover`) has nothing in memory: the journal's
    freeze-intent names the process to continue."""
    target = FreezableTarget(child_pid=child.pid)
    ProcessFreeze(1.0).inject(context(target, tmp_path))
    assert settles_to(child.pid, "T")
    ProcessFreeze(1.0).rollback(context(target, tmp_path))
    assert settles_to(child.pid, "S")


def test_rollback_never_continues_a_process_that_only_has_the_pid(tmp_path, child):
    """The journaled start time differs (the PID was reused): the process is not signalled."""
    os.kill(child.pid, signal.SIGSTOP)
    assert settles_to(child.pid, "T")
    impostor = FrozenGroup(COMPONENT, (ProcessRef(child.pid, start_ticks(child.pid) - 1),))
    ctx = context(FreezableTarget(child_pid=child.pid), tmp_path)
    ctx.journal.write(J_FREEZE_INTENT, group=impostor.to_json())
    ProcessFreeze(1.0).rollback(ctx)
    time.sleep(0.1)
    assert kernel_state(child.pid) == "T"
    [thawed] = [r for r in read(tmp_path / "journal.jsonl") if r["event"] == J_THAWED]
    assert (thawed["continued"], thawed["gone"]) == ([], [child.pid])


def test_no_freeze_intent_means_nothing_is_signalled(tmp_path, child):
    """A harness that died before journaling the freeze never sent SIGSTOP either."""
    os.kill(child.pid, signal.SIGSTOP)
    assert settles_to(child.pid, "T")
    target = FreezableTarget(child_pid=child.pid)
    ProcessFreeze(1.0).rollback(context(target, tmp_path))
    time.sleep(0.1)
    assert kernel_state(child.pid) == "T"
    assert target.calls == [("start", COMPONENT)]


def test_freeze_refuses_a_leader_that_is_no_longer_the_same_process(child):
    freezer = LocalFreezer(lambda _c: child.pid)
    assert freezer.group_of(COMPONENT).leader.pid == child.pid
    stale = FrozenGroup(COMPONENT, (ProcessRef(child.pid, start_ticks(child.pid) + 1),))
    with pytest.raises(TargetError, match="no longer the process that was to be frozen"):
        freezer.freeze(stale)
    assert kernel_state(child.pid) == "S"


def dead_freeze_run(runs: Path, target: FakeTarget, *records: dict[str, object]) -> Path:
    """A run directory as a harness killed during the hold leaves it."""
    run_dir = runs / "20261203T120000Z-analysis-freeze"
    run_dir.mkdir(parents=True)
    (run_dir / "drill.yaml").write_text(DRILL.read_text())
    start: dict[str, object] = {
        "event": "run-start",
        "drill": "analysis-freeze",
        "target": target.name,
        "target_identity": target.identity().to_json(),
    }
    intent: dict[str, object] = {
        "event": "inject-intent",
        "kind": "process-freeze",
        "component": COMPONENT,
    }
    lines: list[dict[str, object]] = [
        start,
        intent,
        *records,
        {"event": "phase", "phase": "observe"},
    ]
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in lines)
    )
    return run_dir


def test_recover_after_a_crashed_harness_continues_the_frozen_process(tmp_path, child):
    """`genesis-drill recover`'s path: the fault rebuilt from drill.yaml, the process from the
    journal; it is continued, the rollback journaled by recover, the run finished."""
    os.kill(child.pid, signal.SIGSTOP)
    assert settles_to(child.pid, "T")
    target = FreezableTarget(child_pid=child.pid)
    group = FrozenGroup(COMPONENT, (ProcessRef(child.pid, start_ticks(child.pid)),))
    run_dir = dead_freeze_run(
        tmp_path, target, {"event": J_FREEZE_INTENT, "group": group.to_json()}
    )
    report_ = recover(tmp_path, target)
    assert [r.kind for r in report_.recovered] == ["process-freeze"]
    assert settles_to(child.pid, "S")
    journal = read(run_dir / "journal.jsonl")
    assert [r.get("by") for r in journal if r["event"] == "rollback-done"] == ["recover"]
    assert [r["continued"] for r in journal if r["event"] == J_THAWED] == [[child.pid]]
    assert unfinished_runs(tmp_path) == []


# --- targets that cannot freeze --------------------------------------------------------------


def test_a_target_without_the_capability_is_refused_by_name(tmp_path):
    target = FakeTarget()
    with pytest.raises(TargetError, match=r"target 'fake' \(FakeTarget\) cannot freeze a process"):
        freezer_of(target)
    fault = ProcessFreeze(12.0)
    [reason] = fault.preflight(context(target, tmp_path))
    assert "cannot freeze a process (SIGSTOP)" in reason
    assert any(
        line.startswith("refused on this target: ")
        for line in fault.plan(context(target, tmp_path))
    )


def test_the_run_is_refused_in_preflight_and_nothing_is_injected(tmp_path):
    """On a target that cannot freeze, the drill ends preflight-refused (exit 3) before any
    disturbance: no inject-intent, no kill, stop or start — never something else instead."""
    fault = ProcessFreeze(12.0)
    result, target, _generator = go(tmp_path, fault, spec=load(DRILL))  # type: ignore[arg-type]
    assert result.outcome == "preflight-refused"
    assert result.outcome.exit_code == 3
    assert "cannot freeze a process" in result.reason
    events = [r["event"] for r in read(Path(result.run_dir) / "journal.jsonl")]
    assert "inject-intent" not in events and J_FREEZE_INTENT not in events
    assert target.calls == []


# --- the findings ----------------------------------------------------------------------------

DETAILS = {"pid": 4242, "start_ticks": 99, "processes": 1, "duration_s": 12.0}


@pytest.mark.parametrize(
    ("looks", "thawed", "pid_after", "failed"),
    [
        (["T"] * 12, Thawed((4242,), ()), "4242", set()),
        (["T", "S", "T"], Thawed((4242,), ()), "4242", {"stopped"}),
        ([], Thawed((4242,), ()), "4242", {"stopped"}),
        (["T"] * 12, Thawed((), (4242,)), "4242", {"continued"}),
        (["T"] * 12, None, "4242", {"continued"}),
        (["T"] * 12, Thawed((4242,), ()), "5151", {"restarted"}),
    ],
)
def test_report_checks_stopped_continued_and_not_restarted(looks, thawed, pid_after, failed):
    found = report(DETAILS, looks, thawed, 1012.5, pid_after, 1013.0, 1000.0)
    names = {"stopped": 0, "continued": 1, "restarted": 2}
    assert {key for key, i in names.items() if not found.checks[i].passed} == failed
    assert found.figures["frozen_pid"] == "4242" and found.figures["pid_after"] == pid_after
    assert found.figures["held_frozen_seconds"] == 12.5
    assert found.figures["ready_seconds_after_thaw"] == 0.5
    assert found.ready_at == 1013.0
