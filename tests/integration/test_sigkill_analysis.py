"""SIGKILL of the analysis process under load: supervisord restarts it and nothing is lost.

The restart keeps AuditAnalysisRestarted firing for two minutes; a pod-kill drill run after this
test waits that out in its preflight (expected alerts must not be firing before the fault), so the
order of the tests changes how long the suite takes, never whether it passes."""

from __future__ import annotations

import time

import pytest

from tests.support import LiveSandbox, wait_for

pytestmark = pytest.mark.integration


def test_sigkill_analysis_under_load_loses_nothing(live: LiveSandbox) -> None:
    """The killed consumer comes back with a new PID and every confirmed event is stored once."""
    admin = live.generator()
    supervisor = live.sandbox.supervisor
    old_rate = admin.stats()["rate"]
    try:
        admin.set_rate(800)
        time.sleep(2)
        old_pid = supervisor.process("audit-log-analysis").pid
        supervisor.signal("audit-log-analysis", "KILL")

        def restarted() -> bool:
            info = supervisor.process("audit-log-analysis")
            return (
                info.state == "RUNNING"
                and info.pid != old_pid
                and live.healthy("audit-log-analysis")
            )

        wait_for(restarted, 30, "supervisord to restart audit-log-analysis")
        time.sleep(1)
    finally:
        admin.set_rate(0)
    stats = wait_for(
        lambda: (s := admin.stats())["buffered"] == 0 and s, 30, "generator to drain its buffer"
    )
    admin.set_rate(old_rate)
    run_id, last_seq = stats["run_id"], stats["last_seq"]

    def counts() -> tuple[int, int]:
        with live.pg() as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT seq) FROM audit_events "
                "WHERE run_id = %s AND seq <= %s",
                (run_id, last_seq),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    wait_for(lambda: counts()[1] == last_seq, 60, f"all {last_seq} events of run {run_id} stored")
    rows, distinct = counts()
    assert distinct == last_seq, f"lost {last_seq - distinct} events"
    assert rows == distinct, f"{rows - distinct} duplicated events"
