"""A harness that died with a network fault in effect: `recover` clears exactly that fault in a
real proxy process (rebuilt from the run's journal), and leaves a fault somebody set since."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from drills.crash_recovery import recover
from drills.faults.network import J_CLEARED, J_INTENT
from drills.journal import read
from drills.targets.base import TargetIdentity
from drills.targets.fake import FakeTarget
from drills.targets.local_netfault import LocalNetFaults
from drills.targets.netfault import NetFaults
from tests import REPO_ROOT
from tests.netfault_support import TOKEN, ProxyProcess, Upstream

DRILL = REPO_ROOT / "drills" / "catalog" / "broker-blackhole.yaml"
LOCAL = TargetIdentity("local", "/srv/genesis ports 28750", "--state-dir /srv/genesis")
ROUTE = "analysis-rabbitmq"


@dataclass
class ProxiedTarget(FakeTarget):
    """The fake target, with the test proxy as its `NetFaults`."""

    control_port: int = 0

    def netfaults(self) -> NetFaults:
        return LocalNetFaults(self.control_port, TOKEN)


def dead_run(runs: Path, name: str, fault_id: str) -> Path:
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    (run_dir / "drill.yaml").write_text(DRILL.read_text())
    records: list[dict[str, object]] = [
        {"event": "run-start", "drill": "broker-blackhole", "target": "local",
         "target_identity": LOCAL.to_json()},
        {"event": "inject-intent", "kind": "network", "component": "audit-log-analysis"},
        {"event": J_INTENT, "route": ROUTE, "id": fault_id, "fault": {"mode": "blackhole"}},
    ]  # fmt: skip
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in records)
    )
    return run_dir


def test_recover_clears_the_dead_runs_fault_and_only_that_one(tmp_path):
    """The journaled blackhole (600 s: it would outlast any drill) is cleared by `recover`;
    a later run's fault on the same route, with another id, is not touched."""
    upstream = Upstream()
    proxy = ProxyProcess(tmp_path, upstream.port, route=ROUTE).start()
    try:
        target = ProxiedTarget(name="local", ident=LOCAL, control_port=proxy.control_port)
        runs = tmp_path / "runs"
        run_dir = dead_run(runs, "r1", "r1:analysis-rabbitmq")
        proxy.set(mode="blackhole", duration_s=600, id="r1:analysis-rabbitmq")
        report = recover(runs, target)
        assert [r.run_dir for r in report.recovered] == [run_dir]
        state = proxy.state()
        assert state["fault"] is None and state["history"][-1]["ended"] == "cleared"
        records = read(run_dir / "journal.jsonl")
        cleared = [r for r in records if r.get("event") == J_CLEARED]
        assert cleared and cleared[0]["still_in_effect"] is True
        assert records[-1]["event"] == "rollback-done"

        other = dead_run(runs, "r2", "r2:analysis-rabbitmq")
        proxy.set(mode="latency", latency_ms=50, duration_s=600, id="someone-else")
        recover(runs, target)
        assert proxy.state()["fault"]["id"] == "someone-else"  # not ours: left in effect
        mine = next(r for r in read(other / "journal.jsonl") if r.get("event") == J_CLEARED)
        assert mine["still_in_effect"] is False
    finally:
        proxy.stop()
        upstream.close()


def test_recover_with_no_proxy_running_finds_no_fault(tmp_path):
    """No proxy listening (it died; supervisord restarts it clean): the rollback finds nothing
    in effect after its grace period and the run is recovered, not left failing forever."""
    from tests.netfault_support import free_port

    target = ProxiedTarget(name="local", ident=LOCAL, control_port=free_port())
    runs = tmp_path / "runs"
    run_dir = dead_run(runs, "r1", "r1:analysis-rabbitmq")
    report = recover(runs, target)
    assert [r.run_dir for r in report.recovered] == [run_dir]
    cleared = [r for r in read(run_dir / "journal.jsonl") if r.get("event") == J_CLEARED]
    assert cleared[0]["still_in_effect"] is False
