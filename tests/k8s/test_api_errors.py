"""Every Kubernetes API failure is translated once, the same way, against the SIMULATED server.

Waiting cannot grant a permission or create a missing object, so those are `PermanentError`
(failed at once); a conflict, a 429 or a server error may pass, so those are `TemporaryError`
(`drills.retry` retries only them). This holds for the workload calls and for the PostgreSQL
volume's PVC reads alike, where a 404 is an answer (no PVC), not a failure.
"""

from __future__ import annotations

import pytest

from drills.errors import PermanentError, TemporaryError
from drills.targets.kubernetes import KubernetesTarget
from tests.k8s.simulated_api import SimulatedCluster

pytestmark = pytest.mark.k8s

STATUSES = [
    (401, PermanentError, "unauthorized (401)"),
    (403, PermanentError, "forbidden (403) in namespace 'auditflow-platform'"),
    (422, PermanentError, "answered 422"),
    (409, TemporaryError, "answered 409"),
    (429, TemporaryError, "answered 429"),
    (500, TemporaryError, "answered 500"),
    (503, TemporaryError, "answered 503"),
]


@pytest.mark.parametrize(("status", "kind", "says"), STATUSES)
def test_pvc_read_failures_are_temporary_or_permanent(
    status: int,
    kind: type[Exception],
    says: str,
    target: KubernetesTarget,
    cluster: SimulatedCluster,
) -> None:
    """The volume's PVC read maps every status but 404 like any other call, naming the PVC."""
    volume = target.pg_volume()
    cluster.failing["persistentvolumeclaims"] = status
    with pytest.raises(kind) as caught:
        volume.initialised()
    assert type(caught.value) is kind
    message = str(caught.value)
    assert message.startswith("reading PVC data-postgres-0: ") and says in message


@pytest.mark.parametrize(("status", "kind", "says"), STATUSES)
def test_workload_call_failures_map_the_same_way(
    status: int,
    kind: type[Exception],
    says: str,
    target: KubernetesTarget,
    cluster: SimulatedCluster,
) -> None:
    """Listing pods answered with the same statuses raises the same kinds."""
    cluster.failing["pods"] = status
    with pytest.raises(kind) as caught:
        target.state("audit-log-analysis")
    assert type(caught.value) is kind
    assert str(caught.value).startswith("listing pods of audit-log-analysis: ")


def test_a_missing_pvc_is_an_answer_not_an_error(
    target: KubernetesTarget, cluster: SimulatedCluster
) -> None:
    """A 404 on the PVC means "no volume": not initialised, nothing to wipe."""
    volume = target.pg_volume()
    cluster.failing["persistentvolumeclaims"] = 404
    assert volume.initialised() is False
    cluster.failing.clear()
    volume.halt()
    cluster.failing["persistentvolumeclaims"] = 404
    assert volume.wipe() == 0
    assert not [m for m in cluster.mutations if "persistentvolumeclaims" in m.path]


def test_the_workload_calls_404_stays_permanent(
    target: KubernetesTarget, cluster: SimulatedCluster
) -> None:
    """Outside the PVC read a 404 is a failure: a deployment that is not there is not waited for."""
    cluster.failing["deployments"] = 404
    with pytest.raises(PermanentError, match=r"not found \(404\).*is AuditFlow deployed there"):
        target.start("audit-log-analysis")
