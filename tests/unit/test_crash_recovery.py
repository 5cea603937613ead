"""Crash recovery from journals written by hand (no sandbox): only runs of the same platform are
touched, and the fault, the drill's load and temporary files are all put back."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drills.crash_recovery import recover, unfinished_runs
from drills.errors import RollbackFailed
from drills.journal import read
from drills.runner import RunOptions, run
from drills.targets.base import ComponentState, TargetIdentity
from drills.targets.fake import FakeTarget
from tests import REPO_ROOT
from tests.fakes import FakeClock, FakeGenerator, FakeObserver
from tests.unit.test_runner import SPEC, ScriptedFault

DRILL = REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml"
LOCAL = TargetIdentity("local", "/srv/genesis ports 28750", "--state-dir /srv/genesis")
KUBE = TargetIdentity("kubernetes", "https://10.0.0.1:6443 namespace auditflow-platform")


@dataclass
class Rates:
    """The generator's admin API as `recover` uses it: records every rate it was set to."""

    set_to: list[float] = field(default_factory=list)

    def set_rate(self, rate: float) -> None:
        self.set_to.append(rate)

    def close(self) -> None:
        return None


def dead_run(
    runs: Path,
    name: str,
    identity: TargetIdentity | None,
    *records: dict[str, object],
    target: str = "local",
) -> Path:
    """A run directory as a harness killed mid-drill leaves it."""
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    (run_dir / "drill.yaml").write_text(DRILL.read_text())
    start: dict[str, object] = {"event": "run-start", "drill": "rabbitmq-outage", "target": target}
    if identity is not None:
        start["target_identity"] = identity.to_json()
    lines = [start, *records]
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in lines)
    )
    return run_dir


LOAD: dict[str, object] = {"event": "load", "rate": 300.0, "previous_rate": 20.0}
INTENT: dict[str, object] = {
    "event": "inject-intent",
    "kind": "service-stop",
    "component": "rabbitmq",
}


def stopped_local() -> FakeTarget:
    target = FakeTarget(name="local", ident=LOCAL)
    target.components["rabbitmq"] = ComponentState("rabbitmq", False, "0", None, False)
    return target


def events(run_dir: Path) -> list[str]:
    return [str(r["event"]) for r in read(run_dir / "journal.jsonl")]


def test_kubernetes_run_is_not_touched_by_a_local_recover_and_is_listed(tmp_path):
    """A dead Kubernetes run seen from the local sandbox: no target call, no generator call, no
    `rollback-done`; it is listed with the command that recovers it."""
    run_dir = dead_run(tmp_path, "r1", KUBE, LOAD, INTENT, target="kubernetes")
    target, rates = stopped_local(), Rates()
    said: list[str] = []
    report = recover(tmp_path, target, said.append, generator=lambda _e: rates)
    assert report.recovered == [] and target.calls == [] and rates.set_to == []
    assert "rollback-done" not in events(run_dir)
    [alone] = report.left_alone
    assert alone.run_dir == run_dir and "another target (kubernetes https://10.0.0.1" in alone.why
    assert alone.command.startswith("genesis-drill recover --target kubernetes")
    assert any("left alone r1" in line for line in said)
    assert unfinished_runs(tmp_path) == [run_dir]  # still there for the right recover


def test_matching_run_is_recovered(tmp_path):
    """A dead run of this very platform: the fault is rolled back (broker started), the load
    restored, and the run is no longer unfinished."""
    run_dir = dead_run(tmp_path, "r1", LOCAL, LOAD, INTENT, {"event": "phase", "phase": "observe"})
    target, rates = stopped_local(), Rates()
    report = recover(tmp_path, target, generator=lambda _e: rates)
    [done] = report.recovered
    assert done.kind == "service-stop" and ("start", "rabbitmq") in target.calls
    assert target.state("rabbitmq").running
    assert rates.set_to == [20.0]
    journal = read(run_dir / "journal.jsonl")
    assert [r.get("by") for r in journal if r["event"] == "rollback-done"] == ["recover"]
    assert unfinished_runs(tmp_path) == []


def test_load_is_restored_from_the_journal_when_the_fault_was_already_rolled_back(tmp_path):
    """Killed after rollback but before the load was restored: `recover` sets the generator back
    to the journal's previous_rate (not "nothing to recover"), once."""
    run_dir = dead_run(
        tmp_path, "r1", LOCAL, LOAD, INTENT, {"event": "rollback-done"}, {"event": "phase"}
    )
    target, rates = FakeTarget(name="local", ident=LOCAL), Rates()
    report = recover(tmp_path, target, generator=lambda _e: rates)
    assert rates.set_to == [20.0] and target.calls == []
    assert report.recovered[0].actions == ("generator rate restored to 20 events/s",)
    assert {"rate": 20.0, "by": "recover"}.items() <= next(
        r for r in read(run_dir / "journal.jsonl") if r["event"] == "load-restored"
    ).items()
    assert recover(tmp_path, target, generator=lambda _e: rates).recovered == []
    assert rates.set_to == [20.0]


def test_temporary_file_of_a_dead_run_is_removed(tmp_path):
    """A journaled temporary file (initdb's password file) of a run that never ended is removed;
    one of a run that ended is its own business."""
    pwfile = tmp_path / "data" / ".pwfile"
    pwfile.parent.mkdir()
    pwfile.write_text("superuser-password\n")
    runs = tmp_path / "runs"
    run_dir = dead_run(runs, "r1", LOCAL, {"event": "temp-file", "path": str(pwfile)})
    report = recover(runs, FakeTarget(name="local", ident=LOCAL), generator=lambda _e: Rates())
    assert not pwfile.exists()
    assert report.recovered[0].actions == (f"removed {pwfile}",)
    assert "temp-file-removed" in events(run_dir)


def test_fault_context_journals_a_temporary_file_before_it_exists(tmp_path):
    """`FaultContext.temp_file` writes the absolute path into the journal (intent first)."""
    from drills.faults.base import FaultContext
    from drills.journal import Journal

    target = FakeTarget()
    ctx = FaultContext(SPEC, target, target.endpoints(), Journal(tmp_path), tmp_path, print)
    path = ctx.temp_file(tmp_path / "later.tmp")
    assert not path.exists()
    assert read(tmp_path / "journal.jsonl")[-1] == {
        "t": pytest.approx(time.time(), abs=60),
        "event": "temp-file",
        "path": str(tmp_path / "later.tmp"),
    }


def test_run_without_identity_is_refused_unless_included(tmp_path):
    """An older run (no identity) is left alone, naming --include-unidentified; with it, it is
    recovered on this target."""
    dead_run(tmp_path, "r1", None, LOAD, INTENT)
    target, rates = stopped_local(), Rates()
    report = recover(tmp_path, target, generator=lambda _e: rates)
    assert report.recovered == [] and target.calls == []
    assert "--include-unidentified" in report.left_alone[0].command
    report = recover(tmp_path, target, generator=lambda _e: rates, include_unidentified=True)
    assert len(report.recovered) == 1 and ("start", "rabbitmq") in target.calls


def test_a_failed_step_is_loud_and_the_others_still_run(tmp_path):
    """A rollback that fails raises RollbackFailed naming the run, after the load is restored."""
    dead_run(tmp_path, "r1", LOCAL, LOAD, INTENT)
    target, rates = stopped_local(), Rates()
    target.fail_start = 1
    with pytest.raises(RollbackFailed, match="r1: rollback failed"):
        recover(tmp_path, target, generator=lambda _e: rates)
    assert rates.set_to == [20.0]


def test_refusal_caused_by_a_dead_run_names_it_and_how_to_recover(tmp_path):
    """A drill refused because the broker is down, with a dead run of another target in the runs
    directory: the refusal says a dead run exists and gives the command that recovers it."""
    dead_run(tmp_path, "20200101T000000Z-rabbitmq-outage", KUBE, LOAD, INTENT, target="kubernetes")
    target = stopped_local()
    result = run(
        SPEC,
        target,
        RunOptions(runs_dir=tmp_path),
        fault=ScriptedFault(),
        observer=FakeObserver(),
        generator=FakeGenerator(),
        clock=FakeClock(),
    )
    assert result.outcome == "preflight-refused" and result.exit_code == 3
    assert "rabbitmq is not ready" in result.reason
    assert "a dead run may be the cause: 20200101T000000Z-rabbitmq-outage" in result.reason
    assert "genesis-drill recover --target kubernetes" in result.reason


def test_run_start_records_the_target_identity(tmp_path):
    """Every run journals its target's identity, which is what `recover` matches on."""
    result = run(
        SPEC,
        stopped_local(),  # refused at once: the record is written first
        RunOptions(runs_dir=tmp_path),
        fault=ScriptedFault(),
        observer=FakeObserver(),
        generator=FakeGenerator(),
        clock=FakeClock(),
    )
    start = read(Path(result.run_dir) / "journal.jsonl")[0]
    assert TargetIdentity.from_json(start["target_identity"]) == LOCAL


def test_run_whose_harness_is_alive_is_left_alone(tmp_path):
    """A run still being driven by a live harness (another process) is not rolled back from a
    second terminal: no target call, no rate change; it is listed with how to stop it."""
    import subprocess
    import sys

    from drills.journal import harness_process
    from drills.sandbox.procfs import pid_start_ticks

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        harness = {**harness_process(), "pid": other.pid, "start_ticks": pid_start_ticks(other.pid)}
        run_dir = dead_run(tmp_path, "r1", LOCAL, LOAD, INTENT)
        lines = (run_dir / "journal.jsonl").read_text().splitlines()
        start = {**json.loads(lines[0]), "harness": harness}
        (run_dir / "journal.jsonl").write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n")
        target, rates = stopped_local(), Rates()
        report = recover(tmp_path, target, generator=lambda _e: rates, include_unidentified=True)
    finally:
        other.kill()
        other.wait()
    assert report.recovered == [] and target.calls == [] and rates.set_to == []
    [alone] = report.left_alone
    assert "still running" in alone.why and alone.command == f"kill -TERM {other.pid}"


def test_run_whose_harness_exited_or_is_this_process_is_recovered(tmp_path):
    """A harness record whose process has exited, whose PID now belongs to another process
    (another start time), or that names this very process (whose runs are sequential: the pytest
    plugin's finalizer recovers in-process) counts as dead: the run is recovered."""
    import subprocess
    import sys

    from drills.journal import harness_process

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    exited = {**harness_process(), "pid": int(child.stdout)}
    ours = harness_process()  # this process: its runs are sequential, so an unfinished one died
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    reused = {**ours, "pid": other.pid, "start_ticks": -1}  # a live PID, started at another time
    for name, harness in (("r1", exited), ("r2", ours), ("r3", reused)):
        run_dir = dead_run(tmp_path, name, LOCAL, LOAD, INTENT)
        lines = (run_dir / "journal.jsonl").read_text().splitlines()
        start = {**json.loads(lines[0]), "harness": harness}
        (run_dir / "journal.jsonl").write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n")
    try:
        report = recover(tmp_path, stopped_local(), generator=lambda _e: Rates())
    finally:
        other.kill()
        other.wait()
    assert [r.run_dir.name for r in report.recovered] == ["r1", "r2", "r3"]
