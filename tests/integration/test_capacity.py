"""`genesis-drill capacity` on the real sandbox, two short steps: its figures against ground truth
measured another way — the rows in PostgreSQL (psql), the analysis service's CPU from /proc read
by this test around the whole command, the generator's own rate before and after — and a
SIGTERM in the middle of a step: exit 130, rate restored, the ledger still counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import wait_for

pytestmark = pytest.mark.integration


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _argv(live, runs: Path, *plan: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("genesis-drill")),
        "capacity",
        *plan,
        "--runs-dir",
        str(runs),
        "--output",
        "json",
        "--state-dir",
        str(live.settings.state_dir),
        "--port-base",
        str(live.settings.port_base),
    ]


def test_capacity_figures_agree_with_psql_proc_and_the_generator(live, tmp_path):
    admin = live.generator()
    rate_before = float(admin.stats()["rate"])
    analysis_pid = next(
        p.pid for p in live.sandbox.supervisor.processes() if p.name == "audit-log-analysis"
    )
    cpu_before = _cpu_seconds(analysis_pid)
    done = subprocess.run(
        _argv(live, tmp_path, "--start", "150", "--factor", "2", "--steps", "2",
              "--step-seconds", "6"),
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    cpu_after = _cpu_seconds(analysis_pid)
    print(done.stderr)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert float(admin.stats()["rate"]) == rate_before  # the rate in force before, restored
    assert [s["offered_per_second"] for s in data["steps"]] == [150, 300]
    assert data["capacity_events_per_second"] == 300
    assert data["capacity_is_lower_bound"] is True  # both steps held: at least 300
    for step in data["steps"]:
        assert step["held"], step
        assert step["confirmed_per_second"] == pytest.approx(step["offered_per_second"], rel=0.05)
        # Prometheus' increase() extrapolates over the window: within 15 % of what was offered.
        assert step["stored_per_second"] == pytest.approx(step["offered_per_second"], rel=0.15)
    # Every event of the climb, counted again here straight from PostgreSQL.
    ledger = data["ledger"]
    row = (
        live.pg()
        .execute(
            "SELECT count(*), count(DISTINCT seq) FROM audit_events "
            "WHERE run_id = %s AND seq BETWEEN %s AND %s",
            (ledger["run_id"], ledger["first_seq"], ledger["last_seq"]),
        )
        .fetchone()
    )
    assert row is not None
    assert (int(row[0]), int(row[1])) == (ledger["confirmed"], ledger["confirmed"])
    assert ledger["lost"] == 0 and ledger["duplicated"] == 0
    # The steps' CPU is part of what the analysis service used during the whole command.
    in_steps = sum(
        s["components"]["audit-log-analysis"]["cpu_cores"] * s["seconds"] for s in data["steps"]
    )
    assert 0 < in_steps <= cpu_after - cpu_before + 0.05
    run_dir = next(tmp_path.glob("*-capacity"))
    assert json.loads((run_dir / "capacity.json").read_text()) == data
    page = (run_dir / "report.html").read_text()
    assert '<span data-field="capacity">at least 300 events/s</span>' in page


def test_sigterm_stops_the_climb_restores_the_rate_and_counts_the_ledger(live, tmp_path):
    admin = live.generator()
    rate_before = float(admin.stats()["rate"])
    proc = subprocess.Popen(
        _argv(live, tmp_path, "--start", "400", "--factor", "2", "--steps", "3",
              "--step-seconds", "30"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: float(admin.stats()["rate"]) == 400.0, 30, "the first step's rate")
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(err)
    assert proc.returncode == 130, err
    assert float(admin.stats()["rate"]) == rate_before
    data = json.loads(out)
    assert data["stopped"].startswith("stopped by the user")
    assert data["steps"] == [] and data["capacity_events_per_second"] is None
    assert data["ledger"]["lost"] == 0 and data["ledger"]["duplicated"] == 0
    assert data["ledger"]["confirmed"] > 0
