"""The four seed drills' Kubernetes paths, run against the SIMULATED API server.

Faults are driven exactly as the runner drives them (inject → hold → rollback → verify where the
fault needs nothing but the target); the parts that need a real broker, Prometheus or PostgreSQL
are covered by the local sandbox's integration tests and reached here through endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from drills.cli.main import cli
from drills.errors import RollbackFailed, TargetError
from drills.faults.base import FaultContext
from drills.faults.malformed_events import MalformedEvents
from drills.faults.process_freeze import ProcessFreeze
from drills.faults.process_kill import ProcessKill
from drills.faults.pvc_wipe_restore import J_WIPE_DONE, J_WIPE_INTENT, PvcWipeRestore, volume_for
from drills.faults.service_stop import ServiceStop
from drills.journal import Journal
from drills.spec import load
from drills.targets.k8s_settings import KubeSettings
from drills.targets.kubernetes import KubernetesTarget
from tests import REPO_ROOT
from tests.k8s.conftest import make_target
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster

pytestmark = pytest.mark.k8s
NS = "auditflow-platform"


def context(drill: str, target: KubernetesTarget, run_dir: Path) -> FaultContext:
    spec = load(REPO_ROOT / "drills" / "catalog" / f"{drill}.yaml")
    events: list[tuple[str, object]] = []
    return FaultContext(
        spec,
        target,
        target.endpoints(),
        Journal(run_dir),
        run_dir,
        lambda kind, data: events.append((kind, data)),
    )


def test_pod_kill_drill_deletes_with_grace_zero_and_verifies_replacement(
    target, cluster, tmp_path
) -> None:
    """pod-kill: the analysis pod is deleted with grace 0 and its paired replacement verified."""
    ctx = context("pod-kill", target, tmp_path)
    fault = ProcessKill("KILL")
    assert fault.preflight(ctx) == []
    injection = fault.inject(ctx)
    fault.hold(ctx, injection)
    fault.rollback(ctx)
    report = fault.verify(ctx, injection)
    assert report.checks[0].passed, report.checks[0].detail
    assert report.figures["restart_pid"] != injection.details["victim"]
    deletes = [m for m in cluster.mutations if m.method == "DELETE"]
    assert len(deletes) == 1 and "/pods/audit-log-analysis-" in deletes[0].path
    assert deletes[0].query.get("gracePeriodSeconds") == "0"


def test_rabbitmq_outage_drill_scales_statefulset_to_zero_and_back(
    target, cluster, tmp_path
) -> None:
    """rabbitmq-outage: the broker StatefulSet is held at 0 replicas, then scaled back and Ready."""
    ctx = context("rabbitmq-outage", target, tmp_path)
    fault = ServiceStop(0.3, "kill")
    assert fault.preflight(ctx) == []
    injection = fault.inject(ctx)
    assert cluster.get("StatefulSet", NS, "rabbitmq")["spec"]["replicas"] == 0
    assert cluster.live_pods("rabbitmq") == []
    fault.hold(ctx, injection)
    fault.rollback(ctx)
    fault.rollback(ctx)  # idempotent
    report = fault.verify(ctx, injection)
    assert cluster.get("StatefulSet", NS, "rabbitmq")["spec"]["replicas"] == 1
    held = report.figures["held_down_seconds"]
    assert report.ready_at is not None and isinstance(held, float) and held >= 0.3
    scales = [m.body["spec"]["replicas"] for m in cluster.mutations if m.path.endswith("/scale")]
    assert scales == [0, 1]
    kills = [m for m in cluster.mutations if m.method == "DELETE"]  # mode kill: a hard stop
    assert kills and all(m.query.get("gracePeriodSeconds") == "0" for m in kills)


@pytest.mark.parametrize(
    ("drill", "kind", "name"),
    [
        ("redis-outage", "StatefulSet", "redis"),
        ("notification-outage", "Deployment", "notification-service"),
        ("monitoring-blind", "Deployment", "alertmanager"),
        ("prometheus-blind", "Deployment", "prometheus"),
        ("queue-full", "Deployment", "audit-log-analysis"),
    ],
)
def test_the_issue_14_outages_scale_their_workload_to_zero_and_back(
    drill: str, kind: str, name: str, target, cluster, tmp_path
) -> None:
    """redis-outage, notification-outage, monitoring-blind, prometheus-blind and queue-full
    (simulated API): the component's
    workload is held at 0 replicas with its pods deleted at once, then scaled back and Ready.
    (Their checks — counters, the dead man's switch — read the platform's own services, which
    the simulated API does not run.)"""
    ctx = context(drill, target, tmp_path)
    assert ctx.spec.target == name
    fault = ServiceStop(0.3, "kill")
    assert fault.preflight(ctx) == []
    injection = fault.inject(ctx)
    assert cluster.get(kind, NS, name)["spec"]["replicas"] == 0
    assert cluster.live_pods(name) == []
    fault.hold(ctx, injection)
    fault.rollback(ctx)
    report = fault.verify(ctx, injection)
    assert cluster.get(kind, NS, name)["spec"]["replicas"] == 1
    assert report.ready_at is not None
    scales = [m.body["spec"]["replicas"] for m in cluster.mutations if m.path.endswith("/scale")]
    assert scales == [0, 1]


def test_analysis_freeze_is_refused_on_kubernetes_and_nothing_is_touched(
    server, cluster, tmp_path, monkeypatch
) -> None:
    """The API cannot SIGSTOP a pod's processes (a delete or an exec would be another drill):
    preflight refuses (exit 3) naming the reason, inject refuses too, the dry run says so, and
    the simulated cluster sees no mutation at all."""
    target = make_target(server.url)
    ctx = context("analysis-freeze", target, tmp_path / "run")
    fault = ProcessFreeze(12.0)
    [reason] = fault.preflight(ctx)
    assert "target 'kubernetes' (KubernetesTarget) cannot freeze a process (SIGSTOP)" in reason
    with pytest.raises(TargetError, match="cannot freeze a process"):
        fault.inject(ctx)
    assert not (tmp_path / "run" / "journal.jsonl").exists()  # no freeze-intent either
    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = CliRunner().invoke(
        cli, ["run", "analysis-freeze", "--target", "kubernetes", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "refused on this target: target 'kubernetes'" in result.output
    assert cluster.mutations == []


def test_malformed_events_drill_publishes_through_a_job(server, cluster, tmp_path) -> None:
    """malformed-events (job mode): the right publisher Job is created and awaited."""
    target = make_target(server.url, KubeSettings(malformed_via="job"))
    ctx = context("malformed-events", target, tmp_path)
    fault = MalformedEvents(count=16, interval_s=0.01, seed=7)
    assert fault.preflight(ctx) == []
    injection = fault.inject(ctx)
    fault.hold(ctx, injection)
    fault.rollback(ctx)
    posts = [m for m in cluster.mutations if m.method == "POST"]
    assert len(posts) == 1 and posts[0].path == f"/apis/batch/v1/namespaces/{NS}/jobs"
    job = posts[0].body
    kubernetes_validate.validate(job, "1.33.0", strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["python", "-m", "drills.faults.malformed_events"]
    args = container["command"][3:]
    assert args[args.index("--nonce") + 1] == fault.nonce
    assert args[args.index("--count") + 1] == "16" and args[args.index("--seed") + 1] == "7"
    secret_ref = container["env"][0]["valueFrom"]["secretKeyRef"]
    assert secret_ref == {"name": "auditflow-secrets", "key": "rabbitmq-password"}
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert len(fault.sent) == 16 and all(mid.startswith(fault.nonce) for mid in fault.sent)


def test_malformed_job_failure_is_a_target_error(server, cluster, tmp_path) -> None:
    """A publisher Job that fails ends the hold with a TargetError pointing at its logs."""
    cluster.job_fails = True
    target = make_target(server.url, KubeSettings(malformed_via="job"))
    ctx = context("malformed-events", target, tmp_path)
    fault = MalformedEvents(count=8, interval_s=0.0, seed=1)
    fault.preflight(ctx)
    with pytest.raises(TargetError, match="logs job/genesis-malformed-"):
        fault.hold(ctx, fault.inject(ctx))


def test_pvc_wipe_restore_volume_halts_wipes_and_reprovisions(target, cluster, tmp_path) -> None:
    """pvc-wipe-restore: scale PostgreSQL to 0, delete its PVC, recreate it, scale up, Ready."""
    ctx = context("pvc-wipe-restore", target, tmp_path)
    volume = volume_for(ctx)
    old = cluster.get("PersistentVolumeClaim", NS, "data-postgres-0")
    assert volume.initialised() and volume.running() and not volume.contains(tmp_path)
    volume.halt()
    assert not volume.running()
    assert cluster.get("StatefulSet", NS, "postgres")["spec"]["replicas"] == 0
    assert volume.wipe() == 1 and not volume.initialised()
    assert volume.reprovision() is True and volume.reprovision() is False
    volume.start()
    ready_at = volume.wait_accepting(10)
    new = cluster.get("PersistentVolumeClaim", NS, "data-postgres-0")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["spec"]["resources"] == old["spec"]["resources"]
    assert new["spec"]["storageClassName"] == "local-path"
    assert ready_at > 0 and volume.running()


def test_pvc_wipe_refuses_a_running_postgres(target, tmp_path) -> None:
    """The PVC of a running PostgreSQL is never deleted."""
    volume = volume_for(context("pvc-wipe-restore", target, tmp_path))
    with pytest.raises(TargetError, match="running postgres"):
        volume.wipe()


def test_pvc_wipe_restore_rollback_after_halt_scales_postgres_back(
    target, cluster, tmp_path
) -> None:
    """Rollback of a run that halted PostgreSQL but never wiped it just scales it back up."""
    ctx = context("pvc-wipe-restore", target, tmp_path)
    ctx.journal.write(J_WIPE_INTENT, data="x", backup="none", component="postgres")
    volume_for(ctx).halt()
    PvcWipeRestore(8, redrive=True).rollback(ctx)
    assert cluster.get("StatefulSet", NS, "postgres")["spec"]["replicas"] == 1
    assert [p["metadata"]["name"] for p in cluster.live_pods("postgres")] == ["postgres-0"]


def test_pvc_wipe_restore_rollback_after_wipe_recreates_pvc_and_fails_loudly(
    target, cluster, tmp_path
) -> None:
    """Rollback after a wipe with no backup recreates the PVC, runs PostgreSQL, and raises."""
    ctx = context("pvc-wipe-restore", target, tmp_path)
    volume = volume_for(ctx)
    volume.halt()
    volume.wipe()
    ctx.journal.write(J_WIPE_DONE, at=0.0, removed_entries=1, captured=0)
    with pytest.raises(RollbackFailed):
        PvcWipeRestore(8, redrive=False).rollback(ctx)
    assert cluster.get("PersistentVolumeClaim", NS, "data-postgres-0") is not None
    assert cluster.get("StatefulSet", NS, "postgres")["spec"]["replicas"] == 1


def kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig whose current context points at the simulated server."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": url}}],
                "users": [{"name": "sim", "user": {"token": "simulated"}}],
                "contexts": [{"name": "k3s-pi5", "context": {"cluster": "sim", "user": "sim"}}],
                "current-context": "k3s-pi5",
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "drill",
    [
        "pod-kill",
        "rabbitmq-outage",
        "malformed-events",
        "pvc-wipe-restore",
        "redis-outage",
        "notification-outage",
        "monitoring-blind",
        "prometheus-blind",
        "queue-full",
    ],
)
def test_cli_dry_run_lists_context_and_objects_and_touches_nothing(
    drill: str, server: SimulatedApiServer, cluster: SimulatedCluster, tmp_path: Path, monkeypatch
) -> None:
    """`run --target kubernetes --dry-run` shows the kube context and resolved pods, read-only."""
    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = CliRunner().invoke(cli, ["run", drill, "--target", "kubernetes", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "kube context: k3s-pi5" in result.output
    component = load(REPO_ROOT / "drills" / "catalog" / f"{drill}.yaml").target
    assert f"pod {component}" in result.output
    assert cluster.mutations == []


@pytest.mark.parametrize("namespace", ["kube-system", "default"])
def test_cli_refuses_namespaces_before_connecting(namespace: str, monkeypatch) -> None:
    """`run --target kubernetes` in kube-system or a non-allow-listed namespace exits 2."""
    monkeypatch.setenv("GENESIS_K8S_NAMESPACE", namespace)
    monkeypatch.setenv(
        "GENESIS_K8S_ALLOWED_NAMESPACES",
        "auditflow-platform,default" if namespace == "kube-system" else "auditflow-platform",
    )
    result = CliRunner().invoke(cli, ["run", "pod-kill", "--target", "kubernetes", "--dry-run"])
    assert result.exit_code == 2
    assert "refusing to act in namespace" in result.output


def test_cli_run_in_forbidden_namespace_exits_3(server, tmp_path, monkeypatch) -> None:
    """An allow-listed namespace the identity cannot read ends with exit 3 and the 403 reason."""
    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.setenv("GENESIS_K8S_NAMESPACE", "staging")
    monkeypatch.setenv("GENESIS_K8S_ALLOWED_NAMESPACES", "staging")
    result = CliRunner().invoke(cli, ["run", "pod-kill", "--target", "kubernetes", "--dry-run"])
    assert result.exit_code == 3
    assert "forbidden (403)" in result.output
    assert json.dumps(result.output)  # one line of text, no traceback
    assert "Traceback" not in result.output


def test_a_composite_drill_with_a_step_kubernetes_refuses_is_refused_whole(
    target, cluster, tmp_path
) -> None:
    """A composite drill whose second step is a process-freeze (which the API cannot do) is
    refused by preflight with exit 3, like analysis-freeze alone: the reason names the step,
    and no step is injected — the simulated cluster sees no mutation, the journal no intent."""
    from drills.runner import RunOptions, run
    from tests.fakes import FakeClock, FakeGenerator, FakeObserver

    text = (REPO_ROOT / "drills" / "catalog" / "broker-outage-then-kill.yaml").read_text()
    text = text.replace(
        "      kind: process-kill\n      params:\n        signal: KILL\n",
        "      kind: process-freeze\n      params:\n        duration_s: 5\n",
    )
    drill = tmp_path / "broker-outage-then-freeze.yaml"
    drill.write_text(text)
    spec = load(drill)
    assert [s.fault.kind for s in spec.steps] == ["service-stop", "process-freeze"]
    clock = FakeClock()
    result = run(
        spec,
        target,
        RunOptions(runs_dir=tmp_path / "runs"),
        observer=FakeObserver(clock=clock),
        generator=FakeGenerator(),
        clock=clock,
    )
    assert result.outcome == "preflight-refused" and result.exit_code == 3, result.reason
    assert "step kill-analysis: target 'kubernetes' (KubernetesTarget) cannot freeze" in (
        result.reason
    )
    journal = [r["event"] for r in Journal(Path(result.run_dir)).records()]
    assert "inject-intent" not in journal
    assert cluster.mutations == []
