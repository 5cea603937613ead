"""Which API verbs the Kubernetes target really uses, observed on the SIMULATED API server.

The game-day Role (manifests/base/gameday/gameday.yaml) must grant exactly `REQUIRED`; this test
derives the verbs from the requests the four seed drills' Kubernetes paths make (and the network
fault's, through Chaos Mesh), so a new API call in the target fails here until the Role (and this
table) says so. API discovery (`GET /apis/<group>/<version>`) is a non-resource URL, granted to
every authenticated identity by the default system:discovery ClusterRole: not the Role's.
"""

from __future__ import annotations

import re
import time

import pytest

from drills.targets.k8s_settings import KubeSettings
from tests.k8s.conftest import make_target, seeded_cluster
from tests.k8s.simulated_api import SimulatedApiServer

pytestmark = pytest.mark.k8s
SECRET = ("auditflow-secrets",)
REQUIRED = {
    ("", "pods", "list", ()),
    ("", "pods", "watch", ()),
    ("", "pods", "delete", ()),
    ("", "pods/log", "get", ()),
    ("apps", "deployments", "get", ()),
    ("apps", "deployments", "patch", ()),
    ("apps", "statefulsets", "get", ()),
    ("apps", "statefulsets", "patch", ()),
    ("apps", "deployments/scale", "patch", ()),
    ("apps", "replicasets", "list", ()),
    ("apps", "statefulsets/scale", "patch", ()),
    ("", "persistentvolumeclaims", "get", ()),
    ("", "persistentvolumeclaims", "delete", ()),
    ("", "persistentvolumeclaims", "create", ()),
    ("", "secrets", "get", SECRET),
    ("batch", "jobs", "create", ()),
    ("batch", "jobs", "get", ()),
    ("chaos-mesh.org", "networkchaos", "create", ()),
    ("chaos-mesh.org", "networkchaos", "get", ()),
    ("chaos-mesh.org", "networkchaos", "list", ()),
    ("chaos-mesh.org", "networkchaos", "delete", ()),
}
DISCOVERY = re.compile(r"^/apis/[a-z.-]+/v[0-9a-z]+/?$")
PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z.-]+)/v1(?:alpha1)?)/namespaces/[^/]+/(?P<res>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?P<sub>/scale|/log)?)?$"
)
VERBS = {"POST": "create", "PATCH": "patch", "DELETE": "delete"}


def verb_of(method: str, path: str, query: dict[str, str]) -> tuple[str, str, str, tuple[str, ...]]:
    match = PATH.match(path)
    assert match, path
    resource = match["res"] + (match["sub"] or "")
    if method == "GET":
        verb = "get" if match["name"] else ("watch" if query.get("watch") else "list")
    else:
        verb = VERBS[method]
    names = (match["name"],) if match["res"] == "secrets" else ()
    return match["group"] or "", resource, verb, names


def test_the_seed_drills_use_exactly_the_required_verbs() -> None:
    """Kill, outage, restore-volume, Job, log, rollout and network-fault paths together use
    exactly the Role's verbs."""
    cluster = seeded_cluster()
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url, KubeSettings(malformed_via="job"))
        target.endpoints()
        target.kill("audit-log-analysis", "KILL")  # pod-kill
        target.wait_ready("audit-log-analysis", 10)
        target.stop("rabbitmq")  # rabbitmq-outage
        target.start("rabbitmq")
        target.wait_ready("rabbitmq", 10)
        target.stop("event-audit-dashboard")  # a Deployment outage (service-stop)
        target.start("event-audit-dashboard")
        volume = target.pg_volume()  # pvc-wipe-restore
        volume.halt()
        volume.wipe()
        volume.reprovision()
        volume.start()
        volume.wait_accepting(10)
        target.publish_malformed("0123456789abcdef", 4, 1, 0.0)  # malformed-events, Job path
        target.read_logs(time.time() - 60, time.time(), 1024)  # every run: log evidence
        deployer = target.deployer()  # bad-deploy: a revision, then rollout undo
        good = deployer.live("audit-log-analysis").number
        deployer.deploy("audit-log-analysis", {"AUDITFLOW_LOG_LEVEL": "TRACE"}, "rbac")
        deployer.undo("audit-log-analysis", good)
        netfaults = target.netfaults()  # broker-blackhole: a NetworkChaos, followed, deleted
        assert netfaults.refuses("analysis-rabbitmq", "blackhole") is None
        blackhole = {"mode": "blackhole", "duration_s": 30, "id": "rbac:analysis-rabbitmq"}
        netfaults.set("analysis-rabbitmq", blackhole)
        netfaults.route("analysis-rabbitmq")
        assert netfaults.clear("analysis-rabbitmq", "rbac:analysis-rabbitmq")
    resource_requests = [r for r in cluster.requests if not DISCOVERY.match(r[1])]
    assert len(resource_requests) < len(cluster.requests)  # discovery was asked, and left out
    used = {verb_of(method, path, query) for method, path, query in resource_requests}
    assert used == REQUIRED
