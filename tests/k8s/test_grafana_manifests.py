"""Grafana in the manifests, rendered OFFLINE: the dashboards it provisions are the committed JSON,
its data source is the namespace's Prometheus, and a kube-prometheus-stack Grafana can take the
same ConfigMaps from manifests/extras/grafana-dashboards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests import REPO_ROOT, grafana
from tests.k8s.kustomize import Obj, build

pytestmark = pytest.mark.k8s
MANIFESTS = REPO_ROOT / "manifests"
OVERLAYS = ["base", "overlays/pi5", "overlays/dev"]
EXTRAS = MANIFESTS / "extras" / "grafana-dashboards"
# `kubectl apply` keeps the whole object in an annotation, and annotations are capped at 256 KiB.
ANNOTATION_LIMIT = 256 * 1024


def objects(overlay: str = "base") -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in build(MANIFESTS / overlay)}


def grafana_pod(rendered: dict[tuple[str, str], Obj]) -> Obj:
    spec: Obj = rendered[("Deployment", "grafana")]["spec"]["template"]["spec"]
    return spec


def mount_of(pod: Obj, volume: str) -> str:
    (container,) = pod["containers"]
    return str(next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume))


def dashboard_configmaps(rendered: dict[tuple[str, str], Obj]) -> dict[str, Obj]:
    return {
        name: obj
        for (kind, name), obj in rendered.items()
        if kind == "ConfigMap" and name.startswith("grafana-dashboard-") and "providers" not in name
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grafana_runs_hardened_with_probes_in_every_overlay(overlay):
    """Grafana is a Deployment like the other workloads: non-root with a read-only root
    filesystem and no capabilities, resources, and startup, readiness and liveness probes on
    /api/health (a Pi's first start migrates a fresh database for a while)."""
    pod = grafana_pod(objects(overlay))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/api/health", "port": "http"}, probe
    # Everything Grafana writes goes to an emptyDir (the root filesystem is read-only).
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if not mount.get("readOnly"):
            assert "emptyDir" in volumes[mount["name"]], mount
    assert writable == {"/var/lib/grafana", "/tmp"}


def test_every_mounted_configmap_is_rendered():
    """Each ConfigMap a workload mounts — directly or in a projected volume — exists in the
    rendered manifests (a renamed generator would leave a pod stuck in ContainerCreating); only
    one marked `optional` (an extra's, like prometheus-extra-scrapes) may be absent."""
    rendered = objects()
    configmaps = {name for kind, name in rendered if kind == "ConfigMap"}
    mounted = set()
    for obj in rendered.values():
        spec = obj.get("spec") or {}
        pod = (
            spec["jobTemplate"]["spec"]["template"]["spec"]
            if obj["kind"] == "CronJob"
            else (spec.get("template") or {}).get("spec") or {}
        )
        for volume in pod.get("volumes") or []:
            if "configMap" in volume and not volume["configMap"].get("optional"):
                mounted.add(volume["configMap"]["name"])
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "configMap" in source:
                    mounted.add(source["configMap"]["name"])
    assert {"grafana-datasources", "grafana-dashboard-overview", "prometheus-rules"} <= mounted
    assert mounted <= configmaps, mounted - configmaps


def test_grafana_provisions_exactly_the_committed_dashboards():
    """One ConfigMap per committed dashboard, holding its JSON byte for byte and the label
    kube-prometheus-stack's sidecar selects; all of them projected into the directory the
    dashboard provider reads, the overview as the home dashboard."""
    rendered = objects()
    configmaps = dashboard_configmaps(rendered)
    files = sorted(grafana.DASHBOARD_DIR.glob("*.json"))
    assert {f"grafana-dashboard-{path.stem}" for path in files} == set(configmaps)
    for path in files:
        configmap = configmaps[f"grafana-dashboard-{path.stem}"]
        assert configmap["data"] == {path.name: path.read_text(encoding="utf-8")}
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert len(json.dumps(configmap)) < ANNOTATION_LIMIT * 3 // 4, path.name
    pod = grafana_pod(rendered)
    volume = next(v for v in pod["volumes"] if v["name"] == "dashboards")
    projected = {source["configMap"]["name"] for source in volume["projected"]["sources"]}
    assert projected == set(configmaps)
    directory = mount_of(pod, "dashboards")
    providers = yaml.safe_load(
        rendered[("ConfigMap", "grafana-dashboard-providers")]["data"]["dashboards.yaml"]
    )
    (provider,) = providers["providers"]
    assert provider["options"]["path"] == directory
    assert provider["allowUiUpdates"] is False
    assert mount_of(pod, "dashboard-providers") == "/etc/grafana/provisioning/dashboards"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]["value"] == f"{directory}/overview.json"


def test_grafana_datasource_is_the_namespace_prometheus_at_its_scrape_interval():
    """The provisioned data source is the in-namespace Prometheus Service on its port, and its
    `timeInterval` equals Prometheus's scrape interval, so `$__rate_interval` spans 4 scrapes."""
    rendered = objects()
    text = rendered[("ConfigMap", "grafana-datasources")]["data"]["datasources.yaml"]
    (source,) = yaml.safe_load(text)["datasources"]
    service = rendered[("Service", "prometheus")]
    port = service["spec"]["ports"][0]["port"]
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://{service['metadata']['name']}:{port}"
    prometheus: dict[str, Any] = yaml.safe_load(
        rendered[("ConfigMap", "prometheus-config")]["data"]["prometheus.yml"]
    )
    assert source["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]
    assert mount_of(grafana_pod(rendered), "datasources") == "/etc/grafana/provisioning/datasources"


def test_grafana_admin_password_comes_from_the_secret_and_sign_up_is_off():
    """The admin password is the auditflow-secrets key, never a value; anonymous users may only
    view; nobody signs up."""
    env = {e["name"]: e for e in grafana_pod(objects())["containers"][0]["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "auditflow-secrets",
        "key": "grafana-admin-password",
    }
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"]["value"] == "Viewer"
    assert env["GF_USERS_ALLOW_SIGN_UP"]["value"] == "false"


def test_extras_give_kube_prometheus_stack_the_same_dashboard_configmaps():
    """manifests/extras/grafana-dashboards renders the base's dashboard ConfigMaps, unchanged and
    labelled for the sidecar, and nothing else (no second Grafana)."""
    extras = build(EXTRAS)
    assert {o["kind"] for o in extras} == {"ConfigMap"}
    base = dashboard_configmaps(objects())
    assert {o["metadata"]["name"]: o for o in extras} == base
