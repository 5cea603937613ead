"""Log evidence on Kubernetes: pod logs through the real client's `read_namespaced_pod_log`,
against the SIMULATED API server (it serves the lines a test gives a pod)."""

from __future__ import annotations

import json
import time

import pytest

from drills.targets.logs import collect
from tests.k8s.conftest import SECRETS, make_target, seeded_cluster
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster

pytestmark = pytest.mark.k8s


def jline(at: float, level: str, msg: str, **extra: object) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}+00:00"
    return json.dumps({"ts": ts, "level": level, "msg": msg, **extra}).encode()


def pod_of(cluster: SimulatedCluster, component: str) -> str:
    return str(cluster.live_pods(component)[0]["metadata"]["name"])


def test_pod_logs_give_grouped_redacted_evidence(cluster, server, target):
    """Warnings of the window from two pods are grouped; an old line, a password and invalid
    UTF-8 do no harm; the server's timestamp prefix times a line that has none of its own."""
    now = time.time()
    password = SECRETS["postgres-app-password"]
    cluster.pod_logs[pod_of(cluster, "audit-log-analysis")] = [
        (now - 3600, jline(now - 3600, "error", "an hour before the window")),
        (
            now - 5,
            jline(now - 5, "warning", "broker connection lost; reconnecting", correlation_id="c-7"),
        ),
        (now - 4, jline(now - 4, "error", f"store failed: password {password} rejected")),
        (now - 3, b"\xff\xfe not utf-8 \xc3\x28"),
    ]
    cluster.pod_logs[pod_of(cluster, "audit-event-generator")] = [
        (now - 2, jline(now - 2, "warning", "broker connection lost; reconnecting")),
    ]
    cluster.pod_logs[pod_of(cluster, "postgres")] = [
        (now - 1, b'ERROR:  relation "audit_events" does not exist'),  # timed by the prefix
    ]
    evidence = collect(target, now - 60, now + 1)
    assert evidence.available
    by_template = {g.template: g for g in evidence.groups}
    lost = by_template["broker connection lost; reconnecting"]
    assert lost.count == 2 and set(lost.components) == {
        "audit-log-analysis",
        "audit-event-generator",
    }
    assert lost.correlation_id == "c-7"
    assert "store failed: password *** rejected" in by_template
    assert 'relation "<str>" does not exist' in by_template
    assert "an hour before the window" not in by_template
    assert password not in json.dumps(evidence.to_json())
    assert "pods deleted during the run" in evidence.note
    reads = [(path, q) for method, path, q in cluster.requests if path.endswith("/log")]
    assert reads and all(q["timestamps"] == "true" and "sinceSeconds" in q for _, q in reads)
    assert all(int(q["sinceSeconds"]) <= 62 for _, q in reads)  # the window, not the whole log


def test_forbidden_pod_logs_are_named_not_fatal():
    """Without the pods/log permission the evidence says which logs were not read."""
    cluster = seeded_cluster()
    cluster.failing["pods/log"] = 403
    with SimulatedApiServer(cluster) as server:
        evidence = collect(make_target(server.url), time.time() - 60, time.time())
    assert evidence.available and evidence.groups == ()
    assert "not read: audit-event-generator (reading the log of pod" in evidence.note
    assert "forbidden (403)" in evidence.note
