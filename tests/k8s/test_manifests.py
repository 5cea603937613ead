"""The kustomize manifests, rendered and checked OFFLINE: schemas, resources, probes, RBAC.

Rendering uses `tests/k8s/kustomize.py` (a minimal renderer for the features `manifests/` uses);
when a real `kubectl` is on PATH its `kubectl kustomize` output must be identical. Every rendered
object is validated against the Kubernetes OpenAPI schemas that `kubernetes-validate` ships.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from drills import packaged
from tests import REPO_ROOT
from tests.k8s.kustomize import Obj, build, containers

pytestmark = pytest.mark.k8s
MANIFESTS = REPO_ROOT / "manifests"
OVERLAYS = ["base", "overlays/pi5", "overlays/dev"]
K8S_VERSION = "1.33.0"  # a recent release; K3s on the Pi 5 tracks upstream closely
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
# The monitoring files' one source is the package (drills/monitoring/, what the sandbox loads and
# the wheel ships); kustomize cannot read outside manifests/, so base/monitoring/ holds copies,
# byte-identical (test below; `python -m tests.k8s.test_manifests` rewrites them).
PACKAGED_MONITORING = packaged.monitoring()
MANIFEST_MONITORING = MANIFESTS / "base" / "monitoring"
RULES = sorted((PACKAGED_MONITORING / "rules").glob("*.yml"))
MONITORING_FILES = ["alertmanager.yml", *(f"rules/{path.name}" for path in RULES)]
PROMETHEUSRULE = MANIFESTS / "extras" / "prometheus-operator" / "prometheusrule.yaml"


def rendered(overlay: str) -> list[Obj]:
    return build(MANIFESTS / overlay)


def key(obj: Obj) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_kubernetes_schemas(overlay: str) -> None:
    """Each rendered object is valid (strict: no unknown fields) for a recent Kubernetes."""
    objects = rendered(overlay)
    assert len(objects) > 30
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (real kustomize) on PATH")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_minimal_renderer_matches_real_kustomize(overlay: str) -> None:
    """The minimal renderer's output equals `kubectl kustomize` for every overlay."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    real = [doc for doc in yaml.safe_load_all(out) if doc]
    assert sorted(rendered(overlay), key=key) == sorted(real, key=key)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_limits_and_probes(overlay: str) -> None:
    """Every container has CPU/memory requests and limits; long-running ones both probes.

    Batch containers (CronJobs, Jobs) run to completion, so readiness has no meaning for them;
    they are held to resources only.
    """
    checked = 0
    for obj in rendered(overlay):
        for container in containers(obj):
            checked += 1
            where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, where
            if obj["kind"] in WORKLOADS:
                assert "readinessProbe" in container, where
                assert "livenessProbe" in container, where
    assert checked >= 14


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_auditflow_namespace(overlay: str) -> None:
    """Namespaced objects are all in auditflow-platform; no cluster-wide RBAC exists."""
    for obj in rendered(overlay):
        assert obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"), key(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "auditflow-platform", key(obj)


def test_secrets_are_referenced_never_inlined() -> None:
    """No Secret object ships; every password/token env var is a secretKeyRef, never a value."""
    objects = rendered("base")
    assert not [o for o in objects if o["kind"] == "Secret"]
    sensitive = 0
    for obj in objects:
        for container in containers(obj):
            for env in container.get("env") or []:
                if any(word in env["name"] for word in ("PASSWORD", "TOKEN", "_PASS")):
                    sensitive += 1
                    assert "value" not in env, (key(obj), env["name"])
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "auditflow-secrets"
    assert sensitive >= 8


def test_gameday_role_grants_exactly_the_drills_verbs() -> None:
    """The game-day Role is namespace-scoped and grants nothing beyond the target's verbs."""
    objects = {key(o): o for o in rendered("base")}
    role = objects[("Role", "genesis-drill")]
    granted = {
        (group, resource, verb, tuple(rule.get("resourceNames") or ()))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    from tests.k8s.test_rbac_usage import REQUIRED

    assert granted == REQUIRED
    binding = objects[("RoleBinding", "genesis-drill")]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "genesis-drill",
    }
    cronjob = objects[("CronJob", "genesis-gameday")]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "genesis-drill"


def test_monitoring_configmaps_hold_the_sandbox_files_unchanged() -> None:
    """prometheus-rules and alertmanager-config are byte-for-byte the files the sandbox uses."""
    objects = {key(o): o for o in rendered("base")}
    rules = objects[("ConfigMap", "prometheus-rules")]["data"]
    assert rules == {path.name: path.read_text() for path in RULES}
    alertmanager = objects[("ConfigMap", "alertmanager-config")]["data"]
    assert alertmanager == {
        "alertmanager.yml": (PACKAGED_MONITORING / "alertmanager.yml").read_text()
    }


def test_manifests_monitoring_files_are_byte_identical_copies_of_the_packaged_ones() -> None:
    """manifests/base/monitoring/ holds exactly the packaged rule files and Alertmanager config,
    byte for byte: no rule file only one side has, no copy edited on its own."""
    assert len(RULES) >= 2
    copies = {
        str(path.relative_to(MANIFEST_MONITORING))
        for path in [*MANIFEST_MONITORING.glob("rules/*"), MANIFEST_MONITORING / "alertmanager.yml"]
    }
    assert copies == set(MONITORING_FILES)
    for name in MONITORING_FILES:
        assert (MANIFEST_MONITORING / name).read_bytes() == (
            PACKAGED_MONITORING / name
        ).read_bytes(), (
            f"manifests/base/monitoring/{name} differs from drills/monitoring/{name} (the source): "
            "edit the packaged file and copy it with `python -m tests.k8s.test_manifests`"
        )


def expected_prometheusrule() -> Obj:
    """The PrometheusRule for kube-prometheus-stack: the rule files' groups, unchanged."""
    groups = [group for path in RULES for group in yaml.safe_load(path.read_text())["groups"]]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "auditflow",
            "labels": {
                "app.kubernetes.io/part-of": "auditflow",
                "release": "kube-prometheus-stack",
            },
        },
        "spec": {"groups": groups},
    }


def test_prometheusrule_carries_the_same_rules() -> None:
    """extras/prometheus-operator's PrometheusRule equals the rule files (regenerate if not)."""
    committed = build(PROMETHEUSRULE.parent)
    assert len(committed) == 1
    expected = expected_prometheusrule()
    expected["metadata"]["namespace"] = "auditflow-platform"
    assert committed[0] == expected, (
        "manifests/extras/prometheus-operator/prometheusrule.yaml is stale: regenerate it with "
        "`python -m tests.k8s.test_manifests`"
    )


def test_rabbitmq_refreshes_queue_depths_at_least_once_per_scrape() -> None:
    """RabbitMQ's queue gauges are refreshed every `collect_statistics_interval`; the config must
    state it, and at most the interval Prometheus scrapes the broker at (issue 13)."""
    objects = {key(o): o for o in rendered("base")}
    conf = objects[("ConfigMap", "rabbitmq-config")]["data"]["10-auditflow.conf"]
    settings = dict(
        line.strip().split(" = ", 1)
        for line in conf.splitlines()
        if " = " in line and not line.strip().startswith("#")
    )
    assert "collect_statistics_interval" in settings, conf
    prometheus = next(
        yaml.safe_load(o["data"]["prometheus.yml"])
        for o in objects.values()
        if o["kind"] == "ConfigMap" and "prometheus.yml" in o.get("data", {})
    )
    scrape = prometheus["global"]["scrape_interval"]
    assert scrape.endswith("s") and not scrape.endswith("ms"), scrape
    assert 0 < int(settings["collect_statistics_interval"]) <= float(scrape[:-1]) * 1000


def test_scrape_jobs_cover_every_contract_job() -> None:
    """Every Prometheus job name of the contract is some scraped pod's auditflow.io/job label."""
    jobs = {
        obj["spec"]["template"]["metadata"]["labels"].get("auditflow.io/job")
        for obj in rendered("base")
        if obj["kind"] in WORKLOADS
    }
    assert jobs >= {
        "audit-event-generator",
        "audit-log-analysis",
        "event-audit-dashboard",
        "notification-service",
        "rabbitmq",
        "postgres",
        "redis",
        "node",
        "prometheus",
        "alertmanager",
    }


def test_pi5_overlay_pins_arm64_and_enables_game_days() -> None:
    """The Pi 5 overlay schedules on arm64 and unsuspends the game-day CronJob; dev does not."""
    pi5 = {key(o): o for o in rendered("overlays/pi5")}
    selector = pi5[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["nodeSelector"]
    assert selector == {"kubernetes.io/arch": "arm64"}
    assert pi5[("CronJob", "genesis-gameday")]["spec"]["suspend"] is False
    dev = {key(o): o for o in rendered("overlays/dev")}
    assert dev[("CronJob", "genesis-gameday")]["spec"]["suspend"] is True
    assert dev[("Deployment", "audit-log-analysis")]["spec"]["template"]["spec"]["containers"][0][
        "image"
    ].endswith(":dev")


if __name__ == "__main__":  # copy the packaged monitoring files, regenerate the PrometheusRule
    for name in MONITORING_FILES:
        (MANIFEST_MONITORING / name).write_bytes((PACKAGED_MONITORING / name).read_bytes())
        print(f"copied drills/monitoring/{name} to manifests/base/monitoring/{name}")
    header = (
        "# Generated from drills/monitoring/rules/*.yml by "
        "`python -m tests.k8s.test_manifests`;\n# tests/k8s/test_manifests.py fails when it drifts."
        " For kube-prometheus-stack users.\n"
    )
    PROMETHEUSRULE.write_text(
        header + yaml.safe_dump(expected_prometheusrule(), sort_keys=False, width=100)
    )
    print(f"wrote {Path(PROMETHEUSRULE).relative_to(REPO_ROOT)}")
