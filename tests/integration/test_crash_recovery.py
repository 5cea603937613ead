"""A harness that dies mid-drill leaves a fault in effect; `recover` (or the next run) undoes it.
SIGTERM to a running drill rolls back like Ctrl-C and exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drills.cli.main import cli
from drills.journal import read
from drills.sandbox.lifecycle import status_of
from tests.support import wait_for

pytestmark = pytest.mark.integration


def start_drill(live, runs: Path, drill: str = "rabbitmq-outage") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drills",
            "run",
            drill,
            "--output",
            "json",
            "--runs-dir",
            str(runs),
            "--state-dir",
            str(live.settings.state_dir),
            "--port-base",
            str(live.settings.port_base),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_injected(runs: Path, proc: subprocess.Popen[bytes]) -> Path:
    def injected() -> Path | None:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        for journal in runs.glob("*/journal.jsonl"):
            if any(r.get("event") == "injected" for r in read(journal)):
                return journal.parent
        return None

    return wait_for(injected, 90, "the drill to inject its fault")


def wait_observing(runs: Path, proc: subprocess.Popen[bytes]) -> Path:
    def observing() -> Path | None:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        for journal in runs.glob("*/journal.jsonl"):
            if any(r.get("phase") == "observe" for r in read(journal)):
                return journal.parent
        return None

    return wait_for(observing, 90, "the drill to observe its fault")


def kill_while_observing(runs: Path, proc: subprocess.Popen[bytes]) -> Path:
    """SIGKILL the harness a second into its observe phase (the fault active, nothing rolled
    back); its run directory. The process is killed whatever happens while waiting."""
    try:
        run_dir = wait_observing(runs, proc)
        time.sleep(1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    return run_dir


def recover_cli(live, runs: Path) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "recover",
            "--target",
            "local",
            "--runs-dir",
            str(runs),
            "--state-dir",
            str(live.settings.state_dir),
            "--port-base",
            str(live.settings.port_base),
        ],
    )


def test_killed_harness_is_recovered_by_recover(live, tmp_path):
    """kill -9 of the harness while it observes the broker held down leaves the broker stopped
    and the generator at the drill's 300 events/s; `recover` finds the unfinished run from its
    journal, starts the broker again and puts the generator back to its rate before the drill —
    as the generator's own admin API reports it."""
    admin = live.generator()
    original = admin.stats()["rate"]
    admin.set_rate(7)  # a rate no drill uses, so "restored" cannot be a coincidence
    try:
        run_dir = kill_while_observing(tmp_path, start_drill(live, tmp_path))
        assert live.sandbox.supervisor.process("rabbitmq").state == "STOPPED"
        assert admin.stats()["rate"] == 300  # the dead drill's load goes on
        events = [r["event"] for r in read(run_dir / "journal.jsonl")]
        assert "rollback-done" not in events and "load-restored" not in events

        result = recover_cli(live, tmp_path)
        assert result.exit_code == 0, result.output
        assert f"recovered {run_dir.name}" in result.output
        assert "generator rate restored to 7 events/s" in result.output
        assert admin.stats()["rate"] == 7
        events = [r["event"] for r in read(run_dir / "journal.jsonl")]
        assert "rollback-done" in events and "load-restored" in events
        wait_for(lambda: all(c.healthy for c in status_of(live.sandbox)), 90, "platform healthy")
        again = recover_cli(live, tmp_path)
        assert "nothing to recover" in again.output
    finally:
        admin.set_rate(original)


def test_sigterm_rolls_back_and_exits_130(live, tmp_path):
    """SIGTERM during the outage rolls back (broker started again) and exits 130 with an
    'interrupted' result."""
    proc = start_drill(live, tmp_path)
    try:
        run_dir = wait_injected(tmp_path, proc)
        time.sleep(1)
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert code == 130
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["outcome"] == "interrupted"
    assert "rollback-done" in [r["event"] for r in read(run_dir / "journal.jsonl")]
    assert live.sandbox.supervisor.process("rabbitmq").state in ("RUNNING", "STARTING")
    wait_for(lambda: all(c.healthy for c in status_of(live.sandbox)), 90, "platform healthy")


def test_killed_harness_during_a_freeze_is_continued_by_recover(live, tmp_path):
    """kill -9 of the harness while analysis-freeze holds the analysis process stopped leaves
    it frozen (kernel state T, read from /proc); `recover` continues that very process, known
    by the PID and start time the fault journaled before its SIGSTOP: same PID, running again,
    never restarted."""
    pid = live.sandbox.supervisor.process("audit-log-analysis").pid
    ticks = _stat(pid)[19]
    run_dir = kill_while_observing(tmp_path, start_drill(live, tmp_path, "analysis-freeze"))
    time.sleep(0.5)
    assert _stat(pid)[0] == "T"  # the dead harness left it frozen
    frozen = [r for r in read(run_dir / "journal.jsonl") if r["event"] == "freeze-intent"]
    assert frozen[0]["group"]["members"][0] == {"pid": pid, "start_ticks": int(ticks)}

    result = recover_cli(live, tmp_path)
    assert result.exit_code == 0, result.output
    assert f"recovered {run_dir.name}" in result.output
    wait_for(lambda: _stat(pid)[0] in ("R", "S"), 5, "the frozen process to run again")
    assert (
        _stat(pid)[19] == ticks and live.sandbox.supervisor.process("audit-log-analysis").pid == pid
    )
    events = [r for r in read(run_dir / "journal.jsonl")]
    assert [r["continued"] for r in events if r["event"] == "thawed"] == [[pid]]
    assert [r.get("by") for r in events if r["event"] == "rollback-done"] == ["recover"]
    wait_for(lambda: all(c.healthy for c in status_of(live.sandbox)), 90, "platform healthy")


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, ..., starttime at 19]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
