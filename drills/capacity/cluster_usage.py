"""Per-component usage on Kubernetes, from container metrics through Prometheus.

CPU is cAdvisor's `container_cpu_usage_seconds_total` (the kubelet's, scraped by the manifests'
`kubelet-cadvisor` job) and memory its `container_memory_working_set_bytes` — the figure the
kubelet evicts on — summed over each workload's pods in the allow-listed namespace. A component's
ceiling is its pods' CPU **limits** as kube-state-metrics reports them
(`kube_pod_container_resource_limits{resource="cpu"}`; the Pi 5 overlay sets them), or the
cluster's allocatable CPU when a pod has none: on a cluster the limit, not the GIL, is what a
component hits first, and it is the knob to turn — so the bottleneck reads "raise its CPU limit".

Precision: cAdvisor's counters are scraped every 15 s on the cluster, so a step's CPU figure is
exact only to one scrape interval at each end; use steps of a minute or more there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from drills.capacity.usage import Reading
from drills.targets.k8s_objects import WORKLOADS

CONTAINERS = 'container!="", container!="POD"'


class VectorSource(Protocol):
    def by_label(self, query: str, label: str) -> dict[str, float]: ...


def component_of(pod: str) -> str | None:
    """The workload a pod belongs to: `audit-log-analysis-7d9c5-x2x4q` (a Deployment's) and
    `rabbitmq-0` (a StatefulSet's) by their name prefix, the longest that matches."""
    matches = [name for name in WORKLOADS if pod.startswith(name + "-")]
    return max(matches, key=len) if matches else None


class ClusterUsage:
    """The allow-listed namespace's workloads, from Prometheus."""

    source = "Prometheus: cAdvisor container metrics and kube-state-metrics CPU limits"

    def __init__(self, prometheus: VectorSource, namespace: str) -> None:
        self._prometheus = prometheus
        self._namespace = namespace
        self._cores: float | None = None

    def _per_component(self, query: str) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pod, value in self._prometheus.by_label(query, "pod").items():
            component = component_of(pod)
            if component is not None:
                totals[component] = totals.get(component, 0.0) + value
        return totals

    @property
    def cores(self) -> float:
        if self._cores is None:
            allocatable = self._prometheus.by_label(
                'sum by (resource) (kube_node_status_allocatable{resource="cpu"})', "resource"
            )
            self._cores = allocatable.get("cpu", 0.0)
        return self._cores

    def read(self) -> Mapping[str, Reading]:
        ns = f'namespace="{self._namespace}"'
        cpu = self._per_component(
            f"sum by (pod) (container_cpu_usage_seconds_total{{{ns}, {CONTAINERS}}})"
        )
        memory = self._per_component(
            f"sum by (pod) (container_memory_working_set_bytes{{{ns}, {CONTAINERS}}})"
        )
        limited = self._prometheus.by_label(
            f'sum by (pod) (kube_pod_container_resource_limits{{{ns}, resource="cpu"}})', "pod"
        )
        limits: dict[str, float] = {}
        unlimited: set[str] = set()
        pods = self._prometheus.by_label(f"sum by (pod) (kube_pod_info{{{ns}}})", "pod")
        for pod in pods:
            component = component_of(pod)
            if component is None:
                continue
            if pod in limited:
                limits[component] = limits.get(component, 0.0) + limited[pod]
            else:
                unlimited.add(component)
        return {
            name: Reading(
                cpu_seconds=seconds,
                rss_bytes=int(memory.get(name, 0.0)),
                ceiling_cores=self.cores
                if name in unlimited or name not in limits
                else limits[name],
            )
            for name, seconds in cpu.items()
        }
