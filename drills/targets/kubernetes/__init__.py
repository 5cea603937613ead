"""The Kubernetes target: AuditFlow deployed from `manifests/`, disturbed through the API server.

This package is the only code that imports the `kubernetes` client, and it does so lazily (inside
the functions of `api`, `kubeconfig` and `workloads`) so that `genesis-drill --help` and the local
target never pay for it. Every answer is turned into its JSON form at once (`k8s_objects` reads
dicts), and every API failure is translated in `api` — 403 forbidden, 404 not found, 401,
unreachable — into a `TemporaryError` or `PermanentError` that says what was being done, raised
`from` the original.

Modules, one concept each: `target` (the `Target` protocol, composed of the others), `api` (the
client bound to one namespace; error translation), `kubeconfig` (where the credentials come
from), `workloads` (kill, stop/start by scaling, readiness by watch), `endpoints` (URLs and the
platform's Secret), `jobs` (the in-cluster malformed-events publisher), `volume` (the `PgVolume`
capability: the PostgreSQL StatefulSet and its PVC), `chaos_mesh` (the `NetFaults` capability:
Chaos Mesh NetworkChaos objects in the namespace).

Safety: the namespace is checked against the allow-list before a client exists (`KubeSettings`),
and `describe()` — shown before anything happens — names the kube context and API server.
"""

from drills.targets.kubernetes.target import KubernetesTarget

__all__ = ["KubernetesTarget"]
