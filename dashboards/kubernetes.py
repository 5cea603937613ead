"""The Kubernetes row of the infrastructure dashboard, and its `namespace` variable.

Every panel here reads what only a cluster has — kube-state-metrics for pods and workloads, the
kubelet's cAdvisor and volume statistics for containers — and says so (`Kubernetes only:`), so
the sandbox's integration test skips it with that reason. The manifests' own Prometheus scrapes
neither source yet; a kube-prometheus-stack Prometheus scrapes both.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.board import Board
from dashboards.panels import (
    GREEN,
    ORANGE,
    RATE,
    RED,
    graph,
    listing,
    q,
    single,
    thresholds,
)

NAMESPACE = "auditflow-platform"  # the manifests' namespace, the `namespace` variable's default
KSM = "needs kube-state-metrics"
CADVISOR = "needs the kubelet's cAdvisor metrics"
KUBELET = "needs the kubelet's volume statistics"
NS = 'namespace="$namespace"'
CONTAINERS = f'{NS}, container!=""'


def namespace_variable() -> dash.TextBoxVariable:
    return (
        dash.TextBoxVariable("namespace")
        .label("Namespace")
        .description("The Kubernetes namespace AuditFlow runs in (the Kubernetes row only)")
        .default_value(NAMESPACE)
        .current(model.VariableOption(selected=True, text=NAMESPACE, value=NAMESPACE))
    )


def row(board: Board) -> None:
    board.row("Kubernetes (Kubernetes only: kube-state-metrics, cAdvisor, kubelet)")
    board.add(
        single(
            "Pods not ready",
            q(f'sum(kube_pod_status_ready{{{NS}, condition="false"}})'),
            limits=thresholds(GREEN, (1, RED)),
            kubernetes_only=KSM,
        ),
        6,
        4,
    )
    board.add(
        single(
            "Container restarts in the time range",
            q(f"sum(increase(kube_pod_container_status_restarts_total{{{NS}}}[$__range]))"),
            decimals=0,
            limits=thresholds(GREEN, (1, ORANGE)),
            kubernetes_only=KSM,
        ),
        6,
        4,
    )
    board.add(
        single(
            "Unavailable replicas",
            q(
                f"sum(kube_deployment_status_replicas_unavailable{{{NS}}})"
                f" + sum(kube_statefulset_replicas{{{NS}}})"
                f" - sum(kube_statefulset_status_replicas_ready{{{NS}}})"
            ),
            limits=thresholds(GREEN, (1, RED)),
            kubernetes_only=KSM,
            description="Deployments' unavailable replicas plus StatefulSets' replicas not ready.",
        ),
        6,
        4,
    )
    board.add(
        single(
            "Containers last killed for memory",
            q(
                "sum(kube_pod_container_status_last_terminated_reason"
                f'{{{NS}, reason="OOMKilled"}}) or vector(0)'
            ),
            limits=thresholds(GREEN, (1, RED)),
            kubernetes_only=KSM,
        ),
        6,
        4,
    )
    board.add(
        graph(
            "Restarts by container",
            [
                q(
                    "sum by (pod, container) "
                    f"(increase(kube_pod_container_status_restarts_total{{{NS}}}[{RATE}])) > 0",
                    "{{pod}} {{container}}",
                )
            ],
            kubernetes_only=KSM,
        ),
        12,
    )
    board.add(
        listing(
            "Workloads: desired and ready",
            q(
                f"sum by (deployment) (kube_deployment_status_replicas_available{{{NS}}})"
                f" / sum by (deployment) (kube_deployment_spec_replicas{{{NS}}})"
            ),
            value="available share",
            kubernetes_only=KSM,
        ),
        12,
    )
    board.add(
        graph(
            "Container CPU by pod",
            [
                q(
                    "sum by (pod) "
                    f"(rate(container_cpu_usage_seconds_total{{{CONTAINERS}}}[{RATE}]))",
                    "{{pod}}",
                )
            ],
            kubernetes_only=CADVISOR,
        ),
        8,
    )
    board.add(
        graph(
            "CPU throttled",
            [
                q(
                    "sum by (pod) "
                    f"(rate(container_cpu_cfs_throttled_periods_total{{{CONTAINERS}}}[{RATE}]))"
                    " / sum by (pod) "
                    f"(rate(container_cpu_cfs_periods_total{{{CONTAINERS}}}[{RATE}]))",
                    "{{pod}}",
                )
            ],
            unit="percentunit",
            kubernetes_only=CADVISOR,
            description="Share of CFS periods a pod was throttled in: its CPU limit is too low.",
        ),
        8,
    )
    board.add(
        graph(
            "Memory working set against the limit",
            [
                q(
                    f"sum by (pod) (container_memory_working_set_bytes{{{CONTAINERS}}})"
                    " / sum by (pod) (kube_pod_container_resource_limits"
                    f'{{{NS}, resource="memory"}})',
                    "{{pod}}",
                )
            ],
            unit="percentunit",
            limits=thresholds(GREEN, (0.8, ORANGE), (0.95, RED)),
            kubernetes_only=f"{CADVISOR} and kube-state-metrics",
            description="At 1 the kernel kills the container (OOMKilled).",
        ),
        8,
    )
    board.add(
        graph(
            "Volumes used",
            [
                q(
                    "max by (persistentvolumeclaim) "
                    f"(kubelet_volume_stats_used_bytes{{{NS}}}"
                    f" / kubelet_volume_stats_capacity_bytes{{{NS}}})",
                    "{{persistentvolumeclaim}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
            limits=thresholds(GREEN, (0.8, ORANGE), (0.9, RED)),
            kubernetes_only=KUBELET,
            description="PostgreSQL's, RabbitMQ's, Prometheus's and the backups' claims.",
        ),
        24,
    )
