"""bad-deploy on Kubernetes, against the SIMULATED API server with the real `kubernetes` client.

A deploy is a pod-template change (a new ReplicaSet revision, pods with the bad setting);
`rollout undo` is done client-side exactly as kubectl does it — the good ReplicaSet's template,
without `pod-template-hash`, copied back with a JSON patch — and the controller then gives that
ReplicaSet a new revision number. A harness that died with the bad revision live is rolled back
by `recover` from the journal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drills.crash_recovery import recover, unfinished_runs
from drills.errors import TargetError
from drills.faults.bad_deploy import J_DEPLOY_INTENT
from drills.journal import read
from drills.targets.kubernetes.rollout import HASH, bare, revisions_of
from tests.k8s.conftest import NAMESPACE, make_target, seeded_cluster
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster

pytestmark = pytest.mark.k8s
ANALYSIS = "audit-log-analysis"
BAD = {"AUDITFLOW_LOG_LEVEL": "TRACE"}


def analysis_env(cluster: SimulatedCluster) -> list[dict[str, str]]:
    deployment = cluster.get("Deployment", NAMESPACE, ANALYSIS)
    assert deployment is not None
    return list(deployment["spec"]["template"]["spec"]["containers"][0].get("env") or [])


def pods_env(cluster: SimulatedCluster) -> list[list[dict[str, str]]]:
    live = [p for p in cluster.live_pods(ANALYSIS) if not p["metadata"].get("deletionTimestamp")]
    return [p["spec"]["containers"][0].get("env") or [] for p in live]


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_deploy_makes_a_revision_and_undo_copies_the_good_template_back(cluster, server, target):
    """Deploy: revision 2, its pods carry the bad setting and never turn Ready (crash loop).
    Undo to 1: one JSON patch replacing /spec/template with revision 1's ReplicaSet template
    (hash label removed); the controller makes that ReplicaSet revision 3; pods are good and
    Ready again. A second undo sends nothing."""
    cluster.never_ready_env = ("AUDITFLOW_LOG_LEVEL", "TRACE")
    deployer = target.deployer()
    good = deployer.live(ANALYSIS)
    assert (good.number, dict(good.env)) == (1, {})
    bad = deployer.deploy(ANALYSIS, BAD, "test")
    assert (bad.number, dict(bad.env)) == (2, BAD)
    assert analysis_env(cluster) == [{"name": "AUDITFLOW_LOG_LEVEL", "value": "TRACE"}]
    wait_until(lambda: pods_env(cluster) == [[{"name": "AUDITFLOW_LOG_LEVEL", "value": "TRACE"}]])
    assert not target.state(ANALYSIS).ready
    assert deployer.is_live(ANALYSIS, 2) and not deployer.is_live(ANALYSIS, 1)

    before = len(cluster.mutations)
    after = deployer.undo(ANALYSIS, good.number)
    assert after.number == 3 and dict(after.env) == {}
    [patch] = cluster.mutations[before:]
    assert patch.method == "PATCH" and patch.path.endswith(f"/deployments/{ANALYSIS}")
    [operation] = patch.body
    assert operation["op"] == "replace" and operation["path"] == "/spec/template"
    assert HASH not in operation["value"]["metadata"]["labels"]
    sets = [
        o
        for (kind, ns, _), o in cluster.objects.items()
        if kind == "ReplicaSet"
        and ns == NAMESPACE
        and o["metadata"]["labels"].get("app.kubernetes.io/name") == ANALYSIS
    ]
    first = next(rs for rs in sets if 1 in revisions_of(rs))
    assert revisions_of(first) == {1, 3}  # reused, renumbered, its old number in the history
    assert operation["value"] == bare(first["spec"]["template"])
    assert deployer.is_live(ANALYSIS, 1) and deployer.is_live(ANALYSIS, 3)
    target.wait_ready(ANALYSIS, 10)
    wait_until(lambda: pods_env(cluster) == [[]])

    before = len(cluster.mutations)
    assert deployer.undo(ANALYSIS, good.number).number == 3
    assert cluster.mutations[before:] == []  # idempotent: nothing sent


def test_undo_to_a_revision_without_its_replicaset_is_a_clear_error(target):
    """A revision whose ReplicaSet is gone (history limit): a permanent error naming it."""
    deployer = target.deployer()
    deployer.deploy(ANALYSIS, BAD, "test")
    with pytest.raises(TargetError, match="no ReplicaSet of revision 7"):
        deployer.undo(ANALYSIS, 7)


def test_only_the_allow_listed_namespace_is_touched():
    """The deployer's API is bound to the target's namespace: every request went there, and a
    namespace the API refuses fails the deploy with the Role's explanation (403)."""
    cluster = seeded_cluster()
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url)
        target.deployer().deploy(ANALYSIS, BAD, "test")
        assert all(f"/namespaces/{NAMESPACE}/" in path for _m, path, _q in cluster.requests)
        cluster.permitted = frozenset()
        with pytest.raises(TargetError, match="forbidden"):
            target.deployer().undo(ANALYSIS, 1)


def test_recover_after_a_harness_crash_rolls_the_deployment_back(tmp_path: Path):
    """The harness died with revision 2 live: `recover` rebuilds bad-deploy from the journal and
    restores the journaled good revision through the API; the run is no longer unfinished."""
    cluster = seeded_cluster()
    with SimulatedApiServer(cluster) as server:
        target = make_target(server.url)
        target.deployer().deploy(ANALYSIS, BAD, "test")
        run_dir = tmp_path / "r1"
        run_dir.mkdir()
        (run_dir / "drill.yaml").write_text(
            "name: bad-deploy\ndescription: d\ntarget: {component: audit-log-analysis}\n"
            "fault: {kind: bad-deploy, params: {breakage: crash-on-start}}\n"
            "steady_state:\n  - {name: up, query: 'min(up)', tolerance: {min: 1}}\n"
            "expected_alerts: [AuditAnalysisDown]\nobjectives: {max_lost: 0}\n"
        )
        records: list[dict[str, object]] = [
            {"event": "run-start", "drill": "bad-deploy", "target": "kubernetes"},
            {"event": "inject-intent", "kind": "bad-deploy", "component": ANALYSIS},
            {"event": J_DEPLOY_INTENT, "component": ANALYSIS, "good_revision": 1, "env": BAD},
        ]
        records[0]["target_identity"] = target.identity().to_json()
        (run_dir / "journal.jsonl").write_text(
            "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in records)
        )
        report = recover(tmp_path, target)
        assert [r.kind for r in report.recovered] == ["bad-deploy"]
        assert target.deployer().is_live(ANALYSIS, 1)
        assert analysis_env(cluster) == []
        assert unfinished_runs(tmp_path) == []
        undone = [r for r in read(run_dir / "journal.jsonl") if r["event"] == "deploy-undone"]
        assert undone and undone[0]["live"] == 3
