"""Every query of every committed Grafana dashboard, evaluated by the sandbox's live Prometheus.

Grafana cannot run here, so this asks Prometheus itself what each panel would show: the query
with its template variables expanded as a Grafana over the manifests' Prometheus would expand
them (`tests.grafana.VARIABLES`), through `/api/v1/query`. Each must succeed without a warning,
return at least one series, not only NaN, and read only metrics this Prometheus knows — a series
or, for a labelled counter that has not counted anything yet (dead letters on a healthy
platform), its scraped metadata: so `or vector(0)` cannot hide a misspelt metric.

A panel marked `Kubernetes only:` reads metrics the sandbox has no source for (kube-state-metrics,
the kubelet); it is skipped, and the skip names the panel and what it needs. An annotation marks
events, and a quiet sandbox has none (no alert but Watchdog fires): it must evaluate cleanly,
but may be empty.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests import grafana
from tests.support import LiveSandbox, wait_for

pytestmark = pytest.mark.integration
TARGETS = grafana.targets()
# The dashboard's page and JSON API: the user-facing traffic its availability SLI counts.
DASHBOARD_ROUTES = ("/", "/api/counters", "/api/events/recent", "/api/slis", "/api/status")
TRAFFIC_S = 6.0  # spread over several 1 s scrapes, so rates over it are real numbers
BURST = 500  # events pushed through the pipeline before the queries run


@dataclass(frozen=True)
class LivePrometheus:
    url: str
    known_metrics: frozenset[str]

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = response.json()
        return body


def _instant(url: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()
    return list(body.get("data", {}).get("result", []))


def _user_traffic(live: LiveSandbox) -> None:
    """Requests to the dashboard's page and API and the notification API, a few per second."""
    dashboard, notification = live.url("event-audit-dashboard"), live.url("notification-service")
    deadline = time.monotonic() + TRAFFIC_S
    with httpx.Client(timeout=3) as client:
        while time.monotonic() < deadline:
            for route in DASHBOARD_ROUTES:
                client.get(f"{dashboard}{route}")
            client.get(f"{notification}/api/v1/alerts")
            time.sleep(0.25)


@pytest.fixture(scope="module")
def prometheus(live: LiveSandbox) -> LivePrometheus:
    """The sandbox's Prometheus once there is something to show: a burst of events stored, user
    traffic on the dashboard, every target scraped, the recording rules evaluated over it."""
    url = live.url("prometheus")
    admin = live.generator()
    try:
        admin.burst(BURST)  # recent events whatever rate an earlier test left the generator at
    finally:
        admin.close()
    jobs = {"audit-event-generator", "audit-log-analysis", "event-audit-dashboard"}
    jobs |= {"notification-service", "rabbitmq", "postgres", "redis", "node"}
    wait_for(
        lambda: {r["metric"]["job"] for r in _instant(url, "up == 1")} >= jobs,
        60,
        "every sandbox job scraped and up",
    )
    wait_for(
        lambda: _instant(url, 'sum(increase(events_processed_total{result="stored"}[1m])) > 0'),
        60,
        "events stored",
    )
    _user_traffic(live)
    wait_for(
        lambda: _instant(url, "sli:dashboard_http_success:ratio_rate5m >= 0"),
        30,
        "the dashboard availability SLI recorded over the traffic",
    )
    wait_for(lambda: _instant(url, 'ALERTS{alertname="Watchdog"}'), 30, "the Watchdog firing")
    names = httpx.get(f"{url}/api/v1/label/__name__/values", timeout=10).json()["data"]
    metadata = httpx.get(f"{url}/api/v1/metadata", timeout=10).json()["data"]
    return LivePrometheus(url, frozenset(names) | frozenset(metadata))


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_dashboard_query_returns_data_from_the_live_prometheus(prometheus, target):
    """The query succeeds without warnings, reads only known metrics and returns data."""
    if target.kubernetes_only:
        pytest.skip(f"Kubernetes only: {target.kubernetes_only} ({target.name})")
    expr = grafana.substitute(target.expr)
    body = prometheus.query(expr)
    assert body["status"] == "success", (expr, body.get("errorType"), body.get("error"))
    assert not body.get("warnings"), (expr, body["warnings"])
    unknown = grafana.metric_names(target.expr) - prometheus.known_metrics
    assert not unknown, f"{target.name} reads metrics Prometheus does not know: {sorted(unknown)}"
    data = body["data"]
    if target.panel_id is None:
        return  # an annotation: clean, and empty while nothing but Watchdog fires
    assert data["result"], f"{target.name}: no series for {expr}"
    if data["resultType"] == "scalar":
        values = [float(data["result"][1])]
    else:
        values = [float(series["value"][1]) for series in data["result"]]
    assert any(math.isfinite(v) for v in values), f"{target.name}: only {values} for {expr}"


def test_every_kubernetes_only_panel_is_one_the_sandbox_cannot_feed(prometheus):
    """The skipped panels are skipped for a reason: none of the metrics they read exists here."""
    skipped = [t for t in TARGETS if t.kubernetes_only]
    assert skipped, "the infrastructure dashboard has a Kubernetes row"
    for target in skipped:
        names = grafana.metric_names(target.expr)
        assert names and not names & prometheus.known_metrics, (target.name, names)
