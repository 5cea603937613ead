"""Settings of the Kubernetes target, resolved before any client is loaded.

Why a separate module: the namespace safety rules and the endpoint defaults must be checkable (and
shown by `--dry-run`) without importing the `kubernetes` client, and they are plain values parsed
once from `GENESIS_K8S_*` variables. Nothing here talks to a cluster.

Safety: the target acts only in an allow-listed namespace (default just `auditflow-platform`);
`kube-system` (and the other cluster-owned namespaces) are refused even when someone lists them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drills.errors import InvalidInput
from drills.secret import Secret

DEFAULT_NAMESPACE = "auditflow-platform"
# Namespaces that belong to the cluster itself: never a drill target, whatever the allow-list says.
NEVER = frozenset({"kube-system", "kube-public", "kube-node-lease"})
SECRET_NAME = "auditflow-secrets"  # noqa: S105 - the Secret's name, not a password
HARNESS_IMAGE = "auditflow/genesis-drill:0.1.0"

# service → (local port of the suggested `kubectl port-forward`, port of the Service).
# The local ports sit away from the services' defaults (5432, 5672, 9090, ...) so a machine's own
# PostgreSQL or Prometheus is never mistaken for the cluster's.
PORT_FORWARDS: dict[str, tuple[int, int]] = {
    "prometheus": (29090, 9090),
    "alertmanager": (29093, 9093),
    "audit-event-generator": (28080, 8080),
    "notification-service": (28083, 8083),
    "event-audit-dashboard": (28082, 8082),
    "rabbitmq": (25672, 5672),
    "postgres": (25432, 5432),
}


def check_namespace(namespace: str, allowed: frozenset[str]) -> str:
    """The namespace if the target may act in it; InvalidInput naming the rule otherwise."""
    if namespace in NEVER:
        raise InvalidInput(
            f"refusing to act in namespace {namespace!r}: it belongs to the cluster itself "
            "and is never a drill target"
        )
    if namespace not in allowed:
        raise InvalidInput(
            f"refusing to act in namespace {namespace!r}: not in the allow-list "
            f"({', '.join(sorted(allowed))}); add it to GENESIS_K8S_ALLOWED_NAMESPACES to allow it"
        )
    return namespace


@dataclass(frozen=True)
class KubeSettings:
    """Where the Kubernetes target acts and how the harness reaches the platform's surfaces.

    URLs left `None` get defaults: the in-cluster Service DNS names when the harness runs in the
    cluster (the game-day CronJob), else `127.0.0.1` ports of the port-forwards in PORT_FORWARDS.
    """

    namespace: str = DEFAULT_NAMESPACE
    allowed_namespaces: frozenset[str] = frozenset({DEFAULT_NAMESPACE})
    context: str | None = None
    kubeconfig: Path | None = None
    in_cluster: bool = False
    secret_name: str = SECRET_NAME
    harness_image: str = HARNESS_IMAGE
    malformed_via: str = "port-forward"  # or "job": publish from a Job inside the cluster
    urls: Mapping[str, str] = field(default_factory=dict)  # service name → HTTP URL override
    # service name → AMQP URL / DSN override: these embed passwords, so they are Secrets.
    secret_urls: Mapping[str, Secret] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)  # secret key → value override

    def __post_init__(self) -> None:
        check_namespace(self.namespace, self.allowed_namespaces)
        if self.malformed_via not in ("port-forward", "job"):
            raise InvalidInput(
                f"GENESIS_K8S_MALFORMED_VIA={self.malformed_via!r}: expected port-forward or job"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubeSettings:
        """Read `GENESIS_K8S_*`; in-cluster when the service-account variables are present."""
        env = os.environ if environ is None else environ
        namespace = env.get("GENESIS_K8S_NAMESPACE") or DEFAULT_NAMESPACE
        raw_allowed = env.get("GENESIS_K8S_ALLOWED_NAMESPACES") or DEFAULT_NAMESPACE
        allowed = frozenset(n.strip() for n in raw_allowed.split(",") if n.strip())
        kubeconfig = env.get("GENESIS_K8S_KUBECONFIG") or None
        urls = {
            name: env[var]
            for name, var in (
                ("prometheus", "GENESIS_K8S_PROMETHEUS_URL"),
                ("alertmanager", "GENESIS_K8S_ALERTMANAGER_URL"),
                ("audit-event-generator", "GENESIS_K8S_GENERATOR_URL"),
                ("notification-service", "GENESIS_K8S_NOTIFICATION_URL"),
                ("event-audit-dashboard", "GENESIS_K8S_DASHBOARD_URL"),
            )
            if env.get(var)
        }
        secret_urls = {
            name: Secret(env[var])
            for name, var in (
                ("rabbitmq", "GENESIS_K8S_AMQP_URL"),
                ("postgres", "GENESIS_K8S_PG_DSN"),
                ("postgres-admin", "GENESIS_K8S_PG_ADMIN_DSN"),
            )
            if env.get(var)
        }
        return cls(
            namespace=namespace,
            allowed_namespaces=allowed,
            context=env.get("GENESIS_K8S_CONTEXT") or None,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            in_cluster=bool(env.get("KUBERNETES_SERVICE_HOST")) and kubeconfig is None,
            secret_name=env.get("GENESIS_K8S_SECRET") or SECRET_NAME,
            harness_image=env.get("GENESIS_K8S_HARNESS_IMAGE") or HARNESS_IMAGE,
            malformed_via=env.get("GENESIS_K8S_MALFORMED_VIA") or "port-forward",
            urls=urls,
            secret_urls=secret_urls,
        )

    def base_url(self, service: str, scheme: str = "http") -> str:
        """Where `service` is reached: an override, the in-cluster DNS name, or a port-forward."""
        if service in self.urls:
            return self.urls[service]
        local, remote = PORT_FORWARDS[service]
        if self.in_cluster:
            return f"{scheme}://{service}.{self.namespace}.svc:{remote}"
        return f"{scheme}://127.0.0.1:{local}"

    def host_port(self, service: str) -> tuple[str, int]:
        """Host and port for non-HTTP services (AMQP, PostgreSQL) without an override."""
        local, remote = PORT_FORWARDS[service]
        if self.in_cluster:
            return f"{service}.{self.namespace}.svc", remote
        return "127.0.0.1", local

    def port_forward_commands(self) -> list[str]:
        """The `kubectl port-forward` lines the out-of-cluster defaults expect."""
        if self.in_cluster:
            return []
        context = f" --context {self.context}" if self.context else ""
        return [
            f"kubectl{context} -n {self.namespace} port-forward svc/{service} {local}:{remote}"
            for service, (local, remote) in PORT_FORWARDS.items()
            if service not in self.urls and service not in self.secret_urls
        ]
