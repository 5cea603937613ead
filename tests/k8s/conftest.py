"""Fixtures for the k8s tier: a SIMULATED API server seeded like a deployed AuditFlow.

The Kubernetes target is built with the real `kubernetes` client, configured to talk to the
simulated server on 127.0.0.1 (see `tests/k8s/simulated_api.py`); nothing here needs a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from drills.targets.k8s_settings import KubeSettings
from drills.targets.kubernetes import KubernetesTarget
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster

NAMESPACE = "auditflow-platform"
SECRETS = {
    "admin-token": "admin-token-value",
    "notify-token": "notify-token-value",
    "rabbitmq-password": "rabbit-pass",
    "postgres-password": "pg-super-pass",
    "postgres-app-password": "pg-app-pass",
}


def seeded_cluster(cluster: SimulatedCluster | None = None) -> SimulatedCluster:
    """`cluster` (a default one if None) holding what `manifests/` deploys, as far as the target
    looks at it."""
    if cluster is None:
        cluster = SimulatedCluster()
    for name in (
        "audit-event-generator",
        "audit-log-analysis",
        "event-audit-dashboard",
        "notification-service",
        "alertmanager",
        "prometheus",
    ):
        cluster.add_deployment(name, replicas=2 if name == "event-audit-dashboard" else 1)
    cluster.add_statefulset("rabbitmq", claim="data")
    cluster.add_statefulset("postgres", claim="data")
    cluster.add_statefulset("redis", claim="data")
    cluster.add_secret("auditflow-secrets", SECRETS)
    return cluster


def api_client(url: str) -> client.ApiClient:
    """The real client, pointed at the simulated server (no kubeconfig involved)."""
    configuration = client.Configuration(host=url)
    return client.ApiClient(configuration)


def make_target(url: str, settings: KubeSettings | None = None) -> KubernetesTarget:
    return KubernetesTarget(settings or KubeSettings(), api_client(url), "simulated")


@pytest.fixture
def cluster() -> SimulatedCluster:
    return seeded_cluster()


@pytest.fixture
def server(cluster: SimulatedCluster) -> Iterator[SimulatedApiServer]:
    with SimulatedApiServer(cluster) as running:
        yield running


@pytest.fixture
def target(server: SimulatedApiServer) -> KubernetesTarget:
    return make_target(server.url)
