"""manifests/extras/cluster-metrics, rendered OFFLINE: valid objects, read-only cluster access
limited to what `genesis-drill capacity --target kubernetes` needs, and scrape jobs that bring
exactly the metrics drills/capacity/cluster_usage.py queries into the platform's Prometheus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from drills.capacity import cluster_usage
from tests import REPO_ROOT
from tests.k8s.kustomize import Obj, build, containers

pytestmark = pytest.mark.k8s
EXTRA = REPO_ROOT / "manifests" / "extras" / "cluster-metrics"
BASE = REPO_ROOT / "manifests" / "base"
READ = {"get", "list", "watch"}


def objects() -> list[Obj]:
    return build(EXTRA)


def test_every_object_validates_and_lands_in_the_namespace():
    found = objects()
    for obj in found:
        kubernetes_validate.validate(obj, "1.30", strict=True)
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "auditflow-platform", obj["metadata"]["name"]
    kinds = sorted(o["kind"] for o in found)
    assert kinds.count("Deployment") == 1 and "ConfigMap" in kinds


def test_cluster_access_is_read_only_and_only_nodes():
    for obj in objects():
        if obj["kind"] != "ClusterRole":
            continue
        for rule in obj["rules"]:
            assert set(rule["verbs"]) <= READ, obj["metadata"]["name"]
            assert set(rule["resources"]) <= {"nodes", "nodes/metrics"}, obj["metadata"]["name"]


def test_the_container_has_resources_probes_and_a_locked_down_context():
    [deployment] = [o for o in objects() if o["kind"] == "Deployment"]
    [container] = containers(deployment)
    assert set(container["resources"]["limits"]) >= {"cpu", "memory"}
    assert "readinessProbe" in container and "livenessProbe" in container
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "--namespaces=auditflow-platform" in container["args"]


def _scrapes() -> dict[str, Any]:
    [config] = [o for o in objects() if o["kind"] == "ConfigMap"]
    assert config["metadata"]["name"] == "prometheus-extra-scrapes"
    loaded: dict[str, Any] = yaml.safe_load(config["data"]["cluster-metrics.yml"])
    return loaded


def test_the_base_prometheus_loads_the_extras_scrape_file_from_its_optional_configmap():
    base = build(BASE)
    [prometheus] = [
        o for o in base if o["kind"] == "Deployment" and o["metadata"]["name"] == "prometheus"
    ]
    spec = prometheus["spec"]["template"]["spec"]
    [volume] = [
        v
        for v in spec["volumes"]
        if v.get("configMap", {}).get("name") == "prometheus-extra-scrapes"
    ]
    assert volume["configMap"]["optional"] is True  # the base runs without the extra
    [mount] = [
        m for c in containers(prometheus) for m in c["volumeMounts"] if m["name"] == volume["name"]
    ]
    config = yaml.safe_load((BASE / "monitoring" / "prometheus.yml").read_text())
    assert config["scrape_config_files"] == [f"{mount['mountPath']}/*.yml"]
    assert not [o for o in base if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def _provided() -> set[str]:
    """Every metric the extra brings: what its kubelet jobs keep and kube-state-metrics exports."""
    kept: set[str] = set()
    for job in _scrapes()["scrape_configs"]:
        for rule in job.get("metric_relabel_configs", []):
            if rule.get("source_labels") == ["__name__"]:
                kept |= set(rule["regex"].split("|"))
    [deployment] = [o for o in objects() if o["kind"] == "Deployment"]
    [allow] = [a for a in containers(deployment)[0]["args"] if a.startswith("--metric-allowlist=")]
    return kept | set(allow.split("=", 1)[1].split(","))


def test_scrape_jobs_bring_every_metric_capacity_and_the_dashboards_read():
    jobs = {job["job_name"]: job for job in _scrapes()["scrape_configs"]}
    assert set(jobs) == {"kubelet-cadvisor", "kubelet", "kube-state-metrics"}
    assert all(job["honor_labels"] for job in jobs.values())  # the pod / namespace labels win
    metric = r"\b((?:container|kube|kubelet)_[a-z_]+)\b"
    capacity = set(re.findall(metric, Path(cluster_usage.__file__).read_text()))
    dashboards = {
        m
        for path in (REPO_ROOT / "dashboards").glob("*.py")
        for m in re.findall(metric, path.read_text())
    }
    assert capacity and dashboards
    assert capacity <= _provided(), capacity - _provided()
    assert dashboards <= _provided(), dashboards - _provided()
