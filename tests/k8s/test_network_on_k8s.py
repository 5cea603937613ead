"""Network faults on Kubernetes through Chaos Mesh, against the SIMULATED API server (and a
simulated Chaos Mesh controller, tests/k8s/simulated_chaos.py) with the real `kubernetes`
client: one NetworkChaos per fault in the allow-listed namespace, followed through its status,
deleted on rollback and by `recover`; refused clearly where Chaos Mesh is absent or the mode
(reset) cannot be expressed. No packet is disturbed here: what Chaos Mesh does with the object
is its own business, and the README says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.crash_recovery import recover, unfinished_runs
from drills.errors import TargetError
from drills.faults.base import FaultContext
from drills.faults.network import J_CLEARED, J_INTENT, NetworkFault
from drills.faults.registry import build as build_fault
from drills.journal import Journal, read
from drills.netfault.faults import FaultSpec
from drills.netfault.routes import ROUTES
from drills.spec import load
from drills.targets.base import TargetIdentity
from drills.targets.kubernetes import KubernetesTarget, chaos_mesh
from drills.targets.kubernetes.chaos_mesh import ABSENT, chaos_name, network_chaos
from tests import REPO_ROOT
from tests.k8s import simulated_chaos
from tests.k8s.conftest import NAMESPACE, make_target, seeded_cluster
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster
from tests.k8s.test_drills_on_k8s import kubeconfig

pytestmark = pytest.mark.k8s
CHAOS_PATH = f"/apis/chaos-mesh.org/v1alpha1/namespaces/{NAMESPACE}/networkchaos"
DRILLS = {
    "broker-blackhole": (
        "audit-log-analysis",
        "rabbitmq",
        "loss",
        {"loss": {"loss": "100", "correlation": "0"}},
        "30s",
    ),
    "db-latency": (
        "audit-log-analysis",
        "postgres",
        "delay",
        {"delay": {"latency": "200ms", "jitter": "20ms", "correlation": "0"}},
        "30s",
    ),
    "db-partition": ("audit-log-analysis", "postgres", "partition", {}, "40s"),
}


def context(drill: str, target: KubernetesTarget, run_dir: Path) -> FaultContext:
    spec = load(REPO_ROOT / "drills" / "catalog" / f"{drill}.yaml")
    return FaultContext(
        spec, target, target.endpoints(), Journal(run_dir), run_dir, lambda _k, _d: None
    )


def chaos_objects(cluster: SimulatedCluster) -> dict[str, dict[str, Any]]:
    """The NetworkChaos objects the simulated cluster holds, by name."""
    return {name: o for (kind, _ns, name), o in cluster.objects.items() if kind == "NetworkChaos"}


def pods(component: str) -> dict[str, Any]:
    return {"namespaces": [NAMESPACE], "labelSelectors": {"app.kubernetes.io/name": component}}


@pytest.mark.parametrize("drill", sorted(DRILLS))
def test_each_catalog_drill_creates_its_networkchaos_and_rollback_deletes_it(
    drill, target, cluster, tmp_path
) -> None:
    """The catalog drill's fault is one NetworkChaos in the namespace: mode all on the route's
    client pods, direction to its server pods, the mode's action, the drill's duration, the
    managed-by and fault-id labels; inject returns once Chaos Mesh reports it AllInjected, and
    rollback deletes exactly that object."""
    client, server, action, parameters, duration = DRILLS[drill]
    run_dir = tmp_path / "20261204T101010Z-drill"
    ctx = context(drill, target, run_dir)
    fault = build_fault(ctx.spec.fault)
    assert isinstance(fault, NetworkFault)
    assert (ROUTES[fault.route].client, ROUTES[fault.route].server) == (client, server)
    assert fault.preflight(ctx) == []
    injection = fault.inject(ctx)
    [post] = [m for m in cluster.mutations if m.method == "POST"]
    assert post.path == CHAOS_PATH
    body = post.body
    name = chaos_name(fault.fault_id)
    assert body["apiVersion"] == "chaos-mesh.org/v1alpha1" and body["kind"] == "NetworkChaos"
    assert body["metadata"]["name"] == name and body["metadata"]["namespace"] == NAMESPACE
    assert body["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "genesis-drill",
        "genesis-drill/fault-id": name,
        "genesis-drill/route": fault.route,
    }
    assert body["spec"] == {
        "action": action,
        "mode": "all",
        "selector": pods(client),
        "direction": "to",
        "target": {"mode": "all", "selector": pods(server)},
        "duration": duration,
        **parameters,
    }
    assert injection.details["id"] == fault.fault_id
    assert "AllInjected" in injection.source
    journaled = [r for r in ctx.journal.records() if r["event"] == J_INTENT]
    assert journaled and journaled[0]["id"] == fault.fault_id
    state = target.netfaults().route(fault.route)
    assert state.fault is not None and state.fault["phase"] == "injected"
    assert state.fault["mode"] == ctx.spec.fault.params["mode"]
    assert 0 < (state.remaining_s or 0) <= float(duration[:-1])
    fault.rollback(ctx)
    [delete] = [m for m in cluster.mutations if m.method == "DELETE"]
    assert delete.path == f"{CHAOS_PATH}/{name}"
    assert chaos_objects(cluster) == {}
    cleared = [r for r in ctx.journal.records() if r["event"] == J_CLEARED]
    assert cleared and cleared[0]["still_in_effect"] is True


def test_bandwidth_is_a_bandwidth_action_in_bytes_per_second() -> None:
    """bandwidth_kbps is kilobits; tc's `bps` is bytes: 800 kbit/s is 100000bps, with a limit
    and a buffer so the action is valid."""
    fault = FaultSpec("bandwidth", 20.0, "r:dashboard-postgres", bandwidth_kbps=800)
    body = network_chaos(ROUTES["dashboard-postgres"], fault, NAMESPACE)
    assert body["spec"]["action"] == "bandwidth"
    assert body["spec"]["bandwidth"]["rate"] == "100000bps"
    assert body["spec"]["bandwidth"]["limit"] > 0 and body["spec"]["bandwidth"]["buffer"] > 0
    assert body["spec"]["selector"] == pods("event-audit-dashboard")
    assert body["spec"]["target"]["selector"] == pods("postgres")


def test_a_short_latency_fault_is_held_followed_and_verified(target, cluster, tmp_path) -> None:
    """inject → hold → rollback → verify on a 2.5 s latency fault: every look saw it injected,
    rollback deleted the object (Chaos Mesh may have recovered it at its deadline, which is
    the end of the hold, just before), and the report's checks all pass."""
    run_dir = tmp_path / "r-latency"
    ctx = context("db-latency", target, run_dir)
    fault = NetworkFault("analysis-postgres", "latency", 2.5, latency_ms=200, jitter_ms=20)
    injection = fault.inject(ctx)
    fault.hold(ctx, injection)
    assert fault.looks and all(look.fault == "latency" for look in fault.looks)
    fault.rollback(ctx)
    report = fault.verify(ctx, injection)
    assert all(check.passed for check in report.checks), report.checks
    assert report.figures["ended"] in ("cleared", "expired")
    assert [m.method for m in cluster.mutations] == ["POST", "DELETE"]
    assert chaos_objects(cluster) == {}


def test_clear_is_idempotent_and_an_expired_fault_is_not_in_effect(
    target, cluster, tmp_path
) -> None:
    """clear: True while in effect, False once gone (404) or never set; an object Chaos Mesh
    has recovered at its deadline is deleted too, but reported as not in effect (expired)."""
    netfaults = target.netfaults()
    assert netfaults.clear("analysis-rabbitmq", "never:set") is False
    netfaults.set("analysis-rabbitmq", {"mode": "blackhole", "duration_s": 60, "id": "a:1"})
    assert netfaults.clear("analysis-rabbitmq", "a:1") is True
    assert netfaults.clear("analysis-rabbitmq", "a:1") is False
    netfaults.set("analysis-rabbitmq", {"mode": "partition", "duration_s": 1.5, "id": "b:1"})
    deadline = time.monotonic() + 10
    while netfaults.route("analysis-rabbitmq").fault is not None:
        assert time.monotonic() < deadline, "the simulated controller never recovered it"
        time.sleep(0.05)
    state = netfaults.route("analysis-rabbitmq")
    assert state.ended("b:1") == {
        "id": "b:1",
        "ended": "expired",
        "ended_at": pytest.approx(state.ended("b:1")["ended_at"]),
    }
    assert netfaults.clear("analysis-rabbitmq", "b:1") is False
    assert chaos_objects(cluster) == {}


def test_status_written_by_the_controller_is_what_route_reports(target, cluster) -> None:
    """Before the controller injects, the fault is pending (and preflight would see a fault in
    effect); with AllInjected and two container records it is injected; with the recovered
    status (desiredPhase Stop, AllRecovered) the route holds no fault."""
    cluster.chaos_inject_delay_s = None
    netfaults = target.netfaults()
    body = network_chaos(
        ROUTES["analysis-postgres"], FaultSpec("partition", 30.0, "s:1"), NAMESPACE
    )
    netfaults.custom.create_namespaced_custom_object(
        "chaos-mesh.org", "v1alpha1", NAMESPACE, "networkchaos", body
    )
    name = body["metadata"]["name"]
    assert netfaults.route("analysis-postgres").fault["phase"] == "pending"
    selected = [f"{NAMESPACE}/analysis-0", f"{NAMESPACE}/postgres-0"]
    cluster.set_chaos_status(name, simulated_chaos.injected_status(selected))
    state = netfaults.route("analysis-postgres")
    assert state.fault["phase"] == "injected" and state.fault["id"] == "s:1"
    assert state.stats["injected_records"] == 2
    cluster.set_chaos_status(name, simulated_chaos.recovered_status(selected))
    state = netfaults.route("analysis-postgres")
    assert state.fault is None and state.ended("s:1")["ended"] == "expired"
    assert netfaults.route("analysis-rabbitmq").fault is None  # another route's objects


def test_an_object_never_injected_is_deleted_and_the_inject_fails(
    target, cluster, tmp_path, monkeypatch
) -> None:
    """A NetworkChaos Chaos Mesh does not inject in time (no controller here) is deleted again
    and set fails with a TargetError pointing at kubectl describe: nothing is left behind."""
    cluster.chaos_inject_delay_s = None
    monkeypatch.setattr(chaos_mesh, "INJECT_TIMEOUT_S", 0.5)
    with pytest.raises(TargetError, match="did not inject"):
        target.netfaults().set("analysis-postgres", {"mode": "partition", "duration_s": 30})
    assert chaos_objects(cluster) == {}


def test_a_fault_already_in_effect_on_the_route_refuses_preflight(target, tmp_path) -> None:
    """Somebody else's NetworkChaos on the route (ours by label): preflight names it."""
    target.netfaults().set("analysis-rabbitmq", {"mode": "blackhole", "duration_s": 60, "id": "x"})
    ctx = context("broker-blackhole", target, tmp_path / "r")
    [reason] = build_fault(ctx.spec.fault).preflight(ctx)
    assert "route analysis-rabbitmq already has a fault in effect (blackhole, id 'x'" in reason


@pytest.mark.parametrize("drill", sorted(DRILLS))
def test_chaos_mesh_absent_refuses_preflight_dry_run_and_exits_3(
    drill, cluster, server, tmp_path, monkeypatch
) -> None:
    """Without the Chaos Mesh CRDs (discovery of chaos-mesh.org/v1alpha1 is a 404): preflight
    refuses naming it, inject refuses before journaling, the runner's run ends
    preflight-refused with exit 3 (what `genesis-drill run` exits with; Prometheus and the
    generator are fakes here), the CLI's dry run says it, and the cluster sees no mutation."""
    from drills.runner import RunOptions, run
    from tests.fakes import FakeClock, FakeGenerator, FakeObserver

    cluster.chaos_mesh = False
    target = make_target(server.url)
    ctx = context(drill, target, tmp_path / "run")
    fault = build_fault(ctx.spec.fault)
    [reason] = fault.preflight(ctx)
    assert reason.startswith(ABSENT)
    assert ABSENT == "Chaos Mesh is not installed (chaos-mesh.org/v1alpha1 NetworkChaos absent)"
    with pytest.raises(TargetError, match="Chaos Mesh is not installed"):
        fault.inject(ctx)
    assert not (tmp_path / "run" / "journal.jsonl").exists()
    clock = FakeClock()
    result = run(
        ctx.spec,
        target,
        RunOptions(runs_dir=tmp_path / "runs"),
        observer=FakeObserver(clock=clock),
        generator=FakeGenerator(),
        clock=clock,
    )
    assert result.outcome == "preflight-refused" and result.exit_code == 3, result.reason
    assert ABSENT in result.reason
    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    dry = CliRunner().invoke(cli, ["run", drill, "--target", "kubernetes", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"refused on this target: {ABSENT}" in " ".join(dry.output.split())
    assert cluster.mutations == []


def test_reset_is_refused_on_kubernetes_in_preflight_dry_run_and_inject(
    target, cluster, tmp_path
) -> None:
    """reset cannot be a NetworkChaos: preflight and the plan say so, inject refuses before
    journaling, and nothing is created."""
    ctx = context("broker-blackhole", target, tmp_path / "run")
    fault = NetworkFault("analysis-rabbitmq", "reset", 0.0)
    [reason] = fault.preflight(ctx)
    assert "mode reset" in reason and "cannot be expressed as a Chaos Mesh NetworkChaos" in reason
    assert any(line.startswith("refused on this target: mode reset") for line in fault.plan(ctx))
    with pytest.raises(TargetError, match="mode reset"):
        fault.inject(ctx)
    with pytest.raises(TargetError, match="mode reset"):
        target.netfaults().set("analysis-rabbitmq", {"mode": "reset", "duration_s": 0})
    assert not (tmp_path / "run" / "journal.jsonl").exists()
    assert cluster.mutations == []


def dead_run(runs: Path, name: str, fault_id: str, identity: TargetIdentity) -> Path:
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    drill = REPO_ROOT / "drills" / "catalog" / "broker-blackhole.yaml"
    (run_dir / "drill.yaml").write_text(drill.read_text())
    records: list[dict[str, object]] = [
        {"event": "run-start", "drill": "broker-blackhole", "target": "kubernetes",
         "target_identity": identity.to_json()},
        {"event": "inject-intent", "kind": "network", "component": "audit-log-analysis"},
        {"event": J_INTENT, "route": "analysis-rabbitmq", "id": fault_id,
         "fault": {"mode": "blackhole"}},
    ]  # fmt: skip
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in records)
    )
    return run_dir


def test_recover_deletes_a_crashed_runs_networkchaos_on_its_own_target_only(tmp_path) -> None:
    """The harness died with its blackhole in effect: `recover` on the same cluster and
    namespace deletes that NetworkChaos (journaled still_in_effect), and the run is finished;
    a dead run journaled against another cluster is left alone, its object untouched."""
    cluster = seeded_cluster()
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url)
        netfaults = target.netfaults()
        blackhole = {"mode": "blackhole", "duration_s": 600}
        netfaults.set("analysis-rabbitmq", {**blackhole, "id": "r1:analysis-rabbitmq"})
        netfaults.set("analysis-rabbitmq", {**blackhole, "id": "r2:analysis-rabbitmq"})
        runs = tmp_path / "runs"
        mine = dead_run(runs, "r1", "r1:analysis-rabbitmq", target.identity())
        other = TargetIdentity("kubernetes", "https://elsewhere:6443 namespace auditflow-platform")
        theirs = dead_run(runs, "r2", "r2:analysis-rabbitmq", other)
        report = recover(runs, target)
        assert [r.run_dir for r in report.recovered] == [mine]
        assert [a.run_dir for a in report.left_alone] == [theirs]
        assert set(chaos_objects(cluster)) == {chaos_name("r2:analysis-rabbitmq")}
        cleared = [r for r in read(mine / "journal.jsonl") if r.get("event") == J_CLEARED]
        assert cleared and cleared[0]["still_in_effect"] is True
        assert unfinished_runs(runs) == [theirs]


def test_nothing_is_created_outside_the_allow_listed_namespace(tmp_path) -> None:
    """Every request went to the target's namespace (or to API discovery), the object selects
    pods in that namespace only, and a namespace the identity may not use fails with 403."""
    cluster = seeded_cluster()
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url)
        netfaults = target.netfaults()
        netfaults.set("analysis-postgres", {"mode": "partition", "duration_s": 30, "id": "n:1"})
        netfaults.clear("analysis-postgres", "n:1")
        for _method, path, _query in cluster.requests:
            assert f"/namespaces/{NAMESPACE}/" in path or path == simulated_chaos.DISCOVERY
        [post] = [m for m in cluster.mutations if m.method == "POST"]
        assert post.body["spec"]["selector"]["namespaces"] == [NAMESPACE]
        assert post.body["spec"]["target"]["selector"]["namespaces"] == [NAMESPACE]
        cluster.permitted = frozenset()
        with pytest.raises(TargetError, match="forbidden"):
            netfaults.set("analysis-postgres", {"mode": "partition", "duration_s": 30, "id": "n"})


def test_chaos_names_are_dns_labels_and_distinct() -> None:
    """A fault id (run directory name and route, with a colon) becomes a DNS-1123 name of at
    most 63 characters, a valid label value, and two ids never share one."""
    long_id = "20261204T101010Z-" + "x" * 120 + ":analysis-postgres"
    names = {chaos_name(i) for i in ("r1:analysis-postgres", "R1:analysis-postgres", long_id)}
    assert len(names) == 3
    for name in names:
        assert len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()
        assert all(c.isdigit() or c.islower() or c == "-" for c in name)
