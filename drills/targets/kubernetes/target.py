"""The Kubernetes target: the `Target` protocol over one namespace, composed of its pieces.

Why this module is short: it only says which piece answers which verb — the API and its error
translation (`api`), credentials (`kubeconfig`), components' workloads and pods (`workloads`),
endpoints and their passwords (`endpoints`), in-cluster Jobs (`jobs`), PostgreSQL's volume
(`volume`, the `PgVolume` capability), the pods' logs (`logs`, the `HasLogs` capability) and the
Deployments' revisions (`rollout`, the `HasDeployer` capability), Chaos Mesh's NetworkChaos
objects (`chaos_mesh`, the `HasNetFaults` capability) — and what a dry run shows (`inventory`).
"""

from __future__ import annotations

from typing import Any

from drills.secret import Secret
from drills.targets import k8s_objects as objs
from drills.targets.base import ComponentState, Endpoints, TargetIdentity
from drills.targets.deployer import Deployer
from drills.targets.k8s_settings import KubeSettings
from drills.targets.kubernetes import jobs
from drills.targets.kubernetes.api import KubeApi
from drills.targets.kubernetes.chaos_mesh import ChaosMeshNetFaults
from drills.targets.kubernetes.endpoints import endpoints_of, read_secret
from drills.targets.kubernetes.kubeconfig import load_client
from drills.targets.kubernetes.logs import read_pod_logs
from drills.targets.kubernetes.rollout import KubernetesDeployer
from drills.targets.kubernetes.volume import KubernetesVolume
from drills.targets.kubernetes.workloads import Workloads
from drills.targets.logs import LogRead
from drills.targets.netfault import NetFaults
from drills.targets.pg_volume import PgVolume


class KubernetesTarget:
    """A `Target` backed by a Kubernetes namespace, through the official client."""

    name = "kubernetes"

    def __init__(self, settings: KubeSettings, api_client: Any, context_name: str) -> None:
        """Use `connect` in real life; tests pass an ApiClient pointed at a simulated server."""
        self.settings = settings
        self.namespace = settings.namespace
        self.context_name = context_name
        self.api = KubeApi(api_client, settings.namespace, context_name)
        self.workloads = Workloads(self.api)
        self._endpoints: Endpoints | None = None
        self._netfaults: ChaosMeshNetFaults | None = None

    @classmethod
    def connect(cls, settings: KubeSettings) -> KubernetesTarget:
        """Load credentials: in-cluster service account, else kubeconfig (KUBECONFIG, ~/.kube)."""
        api_client, context_name = load_client(settings)
        return cls(settings, api_client, context_name)

    @property
    def server(self) -> str:
        return self.api.server

    # --- what is there ------------------------------------------------------------------------

    def identity(self) -> TargetIdentity:
        """The cluster is its API server; the platform is one namespace of it."""
        return TargetIdentity("kubernetes", f"{self.server} namespace {self.namespace}")

    def describe(self) -> str:
        return (
            f"Kubernetes namespace {self.namespace} "
            f"(context {self.context_name}, API server {self.server})"
        )

    def inventory(self, component: str) -> list[str]:
        """What a drill on `component` would touch (read-only; for --dry-run)."""
        workload = self.workloads.workload(component)
        spec = workload.get("spec") or {}
        lines = [
            f"kube context: {self.context_name} (API server {self.server})",
            f"namespace: {self.namespace} (allowed: "
            f"{', '.join(sorted(self.settings.allowed_namespaces))})",
            f"{self.workloads.kind(component)} {component}: replicas {spec.get('replicas')}",
        ]
        pods, _ = self.workloads.pods(component)
        for pod in sorted(pods, key=objs.creation_order):
            m = objs.meta(pod)
            lines.append(
                f"  pod {m.get('name')} uid {m.get('uid')} "
                f"{(pod.get('status') or {}).get('phase')}"
                f"{' Ready' if objs.ready_since(pod) else ' not ready'}"
            )
        for template in spec.get("volumeClaimTemplates") or []:
            lines.append(f"  PVC {objs.meta(template).get('name')}-{component}-0")
        forwards = self.settings.port_forward_commands()
        if forwards:
            lines.append("endpoints expect these port-forwards (or GENESIS_K8S_*_URL overrides):")
            lines.extend(f"  {line}" for line in forwards)
        return lines

    def state(self, component: str) -> ComponentState:
        return self.workloads.state(component)

    # --- disturbing it --------------------------------------------------------------------------

    def kill(self, component: str, signal_name: str) -> None:
        """Delete the component's pod: grace period 0 for KILL, the pod's own for TERM."""
        self.workloads.kill(component, signal_name)

    def stop(self, component: str, graceful: bool = True) -> None:
        """Scale to 0 (remembering the replica count on the workload) and wait for no pods.

        A hard stop (`graceful=False`) scales to 0 first, so the controller does not replace what
        dies, then deletes the pods with grace period 0.
        """
        self.workloads.stop(component, abrupt=not graceful)

    def start(self, component: str) -> None:
        """Scale back to the remembered replica count (1 if unknown); a running one is left be."""
        self.workloads.start(component)

    def wait_ready(self, component: str, timeout: float) -> float:
        """Block until the (paired) pod is Ready; return the Ready condition's server time."""
        return self.workloads.wait_ready(component, timeout)

    # --- what the faults reach ------------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        """URLs from env or defaults (in-cluster DNS or port-forwards); secrets from the API."""
        if self._endpoints is None:
            self._endpoints = endpoints_of(self.settings, read_secret(self.api, self.settings))
        return self._endpoints

    def publishes_malformed_in_cluster(self) -> bool:
        return self.settings.malformed_via == "job"

    def publish_malformed(
        self, nonce: str, count: int, seed: int, interval_s: float, timeout: float = 600.0
    ) -> None:
        """Create the publisher Job (see `k8s_objects.malformed_job`) and wait for its outcome."""
        jobs.publish_malformed(self.api, self.settings, nonce, count, seed, interval_s, timeout)

    def deployer(self) -> Deployer:
        """The Deployments' revisions and client-side `rollout undo` (`HasDeployer`)."""
        return KubernetesDeployer(self.api)

    def netfaults(self) -> NetFaults:
        """Chaos Mesh NetworkChaos objects in the namespace, for network faults (`HasNetFaults`).
        One per target: it remembers the faults it deleted, the route's history."""
        if self._netfaults is None:
            self._netfaults = ChaosMeshNetFaults(self.api)
        return self._netfaults

    def pg_volume(self) -> PgVolume:
        """PostgreSQL's StatefulSet and PVC, for pvc-wipe-restore (`HasPgVolume`)."""
        return KubernetesVolume(self.api, self.workloads, self.endpoints, self.describe())

    def read_logs(self, since: float, until: float, max_bytes: int) -> LogRead:
        """The components' pod logs since `since` (`HasLogs`); the platform's passwords and
        tokens go along, for redaction by value."""
        endpoints = self.endpoints()
        known = [
            endpoints.generator_token,
            endpoints.amqp_url,
            endpoints.pg_dsn,
            endpoints.pg_admin_dsn,
            *(Secret(v) for v in read_secret(self.api, self.settings).values()),
        ]
        return read_pod_logs(self.api, self.workloads, since, max_bytes, known)
