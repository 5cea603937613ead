"""`genesis-drill capacity --target kubernetes`: per-component CPU and memory from cAdvisor's
container metrics and each ceiling from kube-state-metrics' CPU limits, read by the real
Prometheus client from a loopback stand-in that answers PromQL the way Prometheus's HTTP API does;
and the command's wiring against the SIMULATED API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from drills.capacity import analysis
from drills.capacity.cluster_usage import ClusterUsage, component_of
from drills.cli.main import cli
from drills.observe import Observer
from tests.k8s.simulated_api import SimulatedApiServer

pytestmark = pytest.mark.k8s
NS = "auditflow-platform"
PODS = {
    "audit-log-analysis-7d9c5f-x2x4q": (0.5, 120.0, 80 << 20),  # (CPU limit, CPU s, memory)
    "audit-log-analysis-7d9c5f-k8p2m": (0.5, 100.0, 75 << 20),
    "rabbitmq-0": (1.0, 300.0, 200 << 20),
    "redis-0": (None, 5.0, 10 << 20),  # no limit: the cluster's allocatable CPU is its ceiling
    "grafana-5f6d-abcde": (0.2, 50.0, 60 << 20),  # not a pipeline workload: left out
}


class FakePrometheus:
    """Answers the instant queries ClusterUsage sends with vectors built from PODS."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query).get("query", [""])[0]
                fake.queries.append(query)
                body = json.dumps(
                    {
                        "status": "success",
                        "data": {"resultType": "vector", "result": fake.answer(query)},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, query: str) -> list[dict[str, Any]]:
        def vector(label: str, values: dict[str, float]) -> list[dict[str, Any]]:
            return [{"metric": {label: k}, "value": [1.8e9, str(v)]} for k, v in values.items()]

        if f'namespace="{NS}"' not in query and "kube_node_status_allocatable" not in query:
            return []
        if "kube_node_status_allocatable" in query:
            return vector("resource", {"cpu": 8.0})
        if "container_cpu_usage_seconds_total" in query:
            return vector("pod", {pod: cpu for pod, (_, cpu, _) in PODS.items()})
        if "container_memory_working_set_bytes" in query:
            return vector("pod", {pod: mem for pod, (_, _, mem) in PODS.items()})
        if "kube_pod_container_resource_limits" in query:
            return vector("pod", {p: lim for p, (lim, _, _) in PODS.items() if lim is not None})
        if "kube_pod_info" in query:
            return vector("pod", dict.fromkeys(PODS, 1.0))
        return []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.close()


def test_pods_map_to_their_workloads():
    assert component_of("audit-log-analysis-7d9c5f-x2x4q") == "audit-log-analysis"
    assert component_of("rabbitmq-0") == "rabbitmq"
    assert component_of("grafana-5f6d-abcde") is None


def test_cluster_usage_sums_replicas_and_takes_limits_as_ceilings(prometheus):
    usage = ClusterUsage(Observer(prometheus.url), NS).read()
    assert set(usage) == {"audit-log-analysis", "rabbitmq", "redis"}
    analysis_ = usage["audit-log-analysis"]
    assert analysis_.cpu_seconds == 220.0  # two replicas
    assert analysis_.rss_bytes == (80 << 20) + (75 << 20)
    assert analysis_.ceiling_cores == 1.0  # 2 x 500m
    assert usage["rabbitmq"].ceiling_cores == 1.0
    assert usage["redis"].ceiling_cores == 8.0  # no limit: allocatable
    assert all(f'namespace="{NS}"' in q for q in prometheus.queries if "allocatable" not in q)
    assert any('container!="POD"' in q for q in prometheus.queries)


def test_on_a_cluster_the_advice_names_the_limit_to_raise():
    steps = [
        analysis.Step(
            500, 60, 500, 500, 0, 0.999, 0.1, True, "",
            {"audit-log-analysis": analysis.ComponentStep(0.45, 0.5, 900.0, 1)},
        ),
        analysis.Step(
            750, 60, 740, 740, 0, 0.95, 0.9, False, "",
            {"audit-log-analysis": analysis.ComponentStep(0.49, 0.5, 660.0, 1)},
        ),
    ]  # fmt: skip
    found = analysis.bottleneck(steps)
    assert found and found.component == "audit-log-analysis"
    text = analysis.advice(found, analysis.projections(steps), on_cluster=True)
    assert text == "raise the CPU limit of audit-log-analysis first"


def test_cli_on_kubernetes_reaches_the_target_and_fails_cleanly_without_a_generator(
    server: SimulatedApiServer, tmp_path: Path, monkeypatch
) -> None:
    """Through the simulated API server (secrets read), the generator URL refuses: exit 3, one
    line naming it, no traceback, no run directory left half-written."""
    from tests.k8s.test_drills_on_k8s import kubeconfig

    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.setenv("GENESIS_K8S_GENERATOR_URL", "http://127.0.0.1:9")  # discard: refused
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = CliRunner().invoke(
        cli, ["capacity", "--target", "kubernetes", "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 3, result.output
    assert "audit-event-generator at http://127.0.0.1:9 is not answering" in result.output
    assert "Traceback" not in result.output
    assert not list((tmp_path / "runs").glob("*-capacity"))
