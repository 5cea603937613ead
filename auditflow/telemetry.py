"""The HTTP surface every AuditFlow service shares: `/metrics`, `/healthz`, request metrics and
correlation ids.

Metric names follow the seed document (DESIGN.md §2) so the Prometheus rules under `manifests/`
work unchanged for the local sandbox and for Kubernetes. Each service adds its own routes to the
application built here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from auditflow.jsonlog import correlation_id_var

CORRELATION_HEADER = "X-Correlation-ID"

SERVICE_UP = Gauge("service_up", "1 while the service is running and serving", ["service"])
API_REQUEST_DURATION = Histogram(
    "api_request_duration_seconds",
    "HTTP request duration by route and status",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DATABASE_CONNECTIONS = Gauge(
    "database_connections_current", "Open database connections held by the service", ["service"]
)
DATABASE_QUERY_DURATION = Histogram(
    "database_query_duration_seconds",
    "Database query duration by operation",
    ["service", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DEPENDENCY_UP = Gauge(
    "dependency_up", "1 when the service can reach a dependency", ["service", "dependency"]
)
ALERTS_TRIGGERED = Counter(
    "alerts_triggered_total", "Alerts raised or received, by source", ["service", "source"]
)


@dataclass(frozen=True)
class Check:
    """One line of `/healthz`: whether a dependency or loop is fine, and why not."""

    ok: bool
    detail: str = ""


HealthProbe = Callable[[], Awaitable[Mapping[str, Check]]]


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def build_app(service: str, health: HealthProbe) -> web.Application:
    """An aiohttp application with metrics, health and correlation-id middleware installed."""

    @web.middleware
    async def observe(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        incoming = request.headers.get(CORRELATION_HEADER, "")
        # Only accept ids that are short and printable; anything else would pollute logs.
        cid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else ""
        token = correlation_id_var.set(cid or new_correlation_id())
        started = time.perf_counter()
        route = request.match_info.route.resource
        route_name = route.canonical if route is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[CORRELATION_HEADER] = correlation_id_var.get() or ""
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            API_REQUEST_DURATION.labels(service, request.method, route_name, str(status)).observe(
                time.perf_counter() - started
            )
            correlation_id_var.reset(token)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        checks = await health()
        healthy = all(check.ok for check in checks.values())
        payload = {
            "service": service,
            "status": "ok" if healthy else "degraded",
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }
        return web.json_response(payload, status=200 if healthy else 503)

    app = web.Application(middlewares=[observe], client_max_size=1024 * 1024)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    SERVICE_UP.labels(service).set(0)
    return app
