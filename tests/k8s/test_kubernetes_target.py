"""The Kubernetes target through the real `kubernetes` client against the SIMULATED API server."""

from __future__ import annotations

import socket
import time

import pytest

from drills.errors import InvalidInput, TargetError
from drills.targets.k8s_settings import KubeSettings
from tests.k8s.conftest import make_target, seeded_cluster
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster

pytestmark = pytest.mark.k8s


def test_pod_kill_pairs_replacement_by_owner_and_uses_server_times() -> None:
    """A killed pod's replacement is found by controller uid, and Ready time is the server's."""
    cluster = seeded_cluster(SimulatedCluster(clock_skew_s=500.0))
    # A second, unrelated pod with the same app label but another owner must never be paired.
    cluster.add_deployment("audit-log-analysis-canary")
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url)
        before = target.state("audit-log-analysis")
        victim = next(
            p
            for p in cluster.live_pods("audit-log-analysis")
            if p["metadata"]["uid"] == before.pid_or_uid
        )
        target.kill("audit-log-analysis", "KILL")
        assert target.state("audit-log-analysis").ready is False
        ready_at = target.wait_ready("audit-log-analysis", 10)
        after = target.state("audit-log-analysis")
        pod = next(
            p
            for p in cluster.live_pods("audit-log-analysis")
            if p["metadata"]["uid"] == after.pid_or_uid
        )
    assert after.pid_or_uid != before.pid_or_uid
    assert (
        pod["metadata"]["ownerReferences"][0]["uid"]
        == victim["metadata"]["ownerReferences"][0]["uid"]
    )
    assert pod["metadata"]["name"] != victim["metadata"]["name"]
    # The simulated server's clock runs 500 s ahead: only server-side timestamps land there.
    assert ready_at > time.time() + 400
    assert after.started_at is not None and after.started_at > time.time() + 400
    delete = [m for m in cluster.mutations if m.method == "DELETE"]
    assert len(delete) == 1 and delete[0].path.endswith(victim["metadata"]["name"])


def test_statefulset_pod_kill_pairs_same_name_new_uid(target, cluster: SimulatedCluster) -> None:
    """A StatefulSet's replacement keeps the pod name; the target tells it apart by uid."""
    before = target.state("rabbitmq")
    target.kill("rabbitmq", "KILL")
    target.wait_ready("rabbitmq", 10)
    after = target.state("rabbitmq")
    names = [p["metadata"]["name"] for p in cluster.live_pods("rabbitmq")]
    assert names == ["rabbitmq-0"] and after.pid_or_uid != before.pid_or_uid


def test_kill_with_unsupported_signal_is_a_target_error(target) -> None:
    """Kubernetes cannot SIGSTOP a pod: the target says so instead of deleting it."""
    with pytest.raises(TargetError, match="SIGSTOP cannot be sent to a pod"):
        target.kill("audit-log-analysis", "STOP")


def test_stop_scales_to_zero_and_start_restores_remembered_replicas(target, cluster) -> None:
    """stop scales the StatefulSet to 0 (remembering 1 on it), start scales back and turns Ready."""
    target.stop("rabbitmq")
    sts = cluster.get("StatefulSet", "auditflow-platform", "rabbitmq")
    assert sts["spec"]["replicas"] == 0
    assert sts["metadata"]["annotations"]["genesis-drill.io/replicas-before"] == "1"
    assert cluster.live_pods("rabbitmq") == []
    assert target.state("rabbitmq").running is False
    target.start("rabbitmq")
    target.wait_ready("rabbitmq", 10)
    sts = cluster.get("StatefulSet", "auditflow-platform", "rabbitmq")
    assert sts["spec"]["replicas"] == 1
    assert "genesis-drill.io/replicas-before" not in sts["metadata"].get("annotations", {})
    assert target.state("rabbitmq").ready


def test_start_of_a_running_component_changes_nothing(target, cluster) -> None:
    """start is idempotent: a running workload is not scaled."""
    target.start("postgres")
    assert [m for m in cluster.mutations if m.method != "GET"] == []


def test_wait_ready_times_out_with_a_target_error(target, cluster) -> None:
    """A pod that never turns Ready ends the wait with a TargetError, not a hang."""
    cluster.ready_delay_s = 60.0
    target.kill("notification-service", "KILL")
    with pytest.raises(TargetError, match="did not become ready within 1 s"):
        target.wait_ready("notification-service", 1.0)


def test_kube_system_is_refused_even_when_allow_listed() -> None:
    """kube-system is never a target, whatever GENESIS_K8S_ALLOWED_NAMESPACES says."""
    with pytest.raises(InvalidInput, match="belongs to the cluster itself"):
        KubeSettings.from_env(
            {
                "GENESIS_K8S_NAMESPACE": "kube-system",
                "GENESIS_K8S_ALLOWED_NAMESPACES": "kube-system",
            }
        )


def test_namespace_outside_the_allow_list_is_refused() -> None:
    """A namespace not in the allow-list is refused before any client exists."""
    with pytest.raises(InvalidInput, match="not in the allow-list"):
        KubeSettings.from_env({"GENESIS_K8S_NAMESPACE": "payments"})


def test_forbidden_namespace_maps_403_to_target_error(server: SimulatedApiServer) -> None:
    """An allow-listed namespace the identity may not touch gives a clear 403 TargetError."""
    settings = KubeSettings(namespace="staging", allowed_namespaces=frozenset({"staging"}))
    target = make_target(server.url, settings)
    with pytest.raises(TargetError, match=r"forbidden \(403\) in namespace 'staging'") as info:
        target.state("audit-log-analysis")
    assert info.value.__cause__ is not None


def test_missing_workload_maps_404_to_target_error(target, cluster) -> None:
    """A workload that is not deployed gives a clear 404 TargetError."""
    cluster.objects.pop(("StatefulSet", "auditflow-platform", "redis"))
    with pytest.raises(TargetError, match=r"not found \(404\).*is AuditFlow deployed"):
        target.stop("redis")


def test_unreachable_api_server_is_a_target_error() -> None:
    """Connection refused becomes a TargetError naming the server and the context."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = make_target(f"http://127.0.0.1:{port}")
    with pytest.raises(TargetError, match=r"unreachable.*'simulated'"):
        target.state("rabbitmq")


def test_endpoints_take_secrets_from_the_api_and_urls_from_env(server) -> None:
    """Secrets come from the platform's Secret; GENESIS_K8S_PROMETHEUS_URL overrides the default."""
    settings = KubeSettings.from_env({"GENESIS_K8S_PROMETHEUS_URL": "http://127.0.0.1:19090"})
    endpoints = make_target(server.url, settings).endpoints()
    assert endpoints.prometheus_url == "http://127.0.0.1:19090"
    assert endpoints.alertmanager_url == "http://127.0.0.1:29093"
    assert endpoints.generator_token.reveal() == "admin-token-value"
    assert "rabbit-pass@127.0.0.1:25672" in endpoints.amqp_url.reveal()
    assert "password=pg-super-pass" in endpoints.pg_admin_dsn.reveal()


def test_in_cluster_defaults_use_service_dns() -> None:
    """Running as the CronJob, endpoints default to the namespace's Service DNS names."""
    settings = KubeSettings.from_env({"KUBERNETES_SERVICE_HOST": "10.43.0.1"})
    assert settings.in_cluster
    assert settings.base_url("prometheus") == "http://prometheus.auditflow-platform.svc:9090"
    assert settings.port_forward_commands() == []


def test_inventory_lists_pods_and_pvc_without_mutating(target, cluster) -> None:
    """The dry-run inventory names the context, the pods and the PVC, and changes nothing."""
    lines = target.inventory("postgres")
    assert lines[0].startswith("kube context: simulated")
    assert any("pod postgres-0" in line and "Ready" in line for line in lines)
    assert any("PVC data-postgres-0" in line for line in lines)
    assert cluster.mutations == []
