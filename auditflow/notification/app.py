"""notification-service HTTP API.

- `POST /api/v1/alerts` — one alert from an AuditFlow service (the analysis service).
- `POST /api/v1/alertmanager` — an Alertmanager webhook (payload version 4).
- `GET /api/v1/alerts?source=&name=&status=&fingerprint=&limit=` — the de-duplicated alerts.

On start it records the alerts Alertmanager holds active for it (catchup.py): a page that fired
while the service was down is not lost when the alert resolves before Alertmanager retries. It is
also the dead man's switch (watchdog.py): MonitoringBlind when the Watchdog heartbeat stops.

Writes need `Authorization: Bearer <AUDITFLOW_NOTIFY_TOKEN>`. Bodies are limited to 1 MiB (413
beyond). A bad body answers 400 with `{"error": ..., "field": ...}` naming the offending field.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from auditflow import jsonlog
from auditflow.config import Env
from auditflow.notification import SERVICE
from auditflow.notification.catchup import catch_up
from auditflow.notification.model import (
    STATUSES,
    AlertRecord,
    IncomingAlert,
    InvalidPayload,
    Outcome,
    Status,
    parse_alert,
    parse_alertmanager,
)
from auditflow.notification.settings import NotificationSettings
from auditflow.notification.store import AlertStore
from auditflow.notification.watchdog import Watchdog
from auditflow.runtime import ServiceMain, serve_http
from auditflow.telemetry import (
    ALERTS_TRIGGERED,
    CORRELATION_HEADER,
    DATABASE_QUERY_DURATION,
    DEPENDENCY_UP,
    Check,
    build_app,
)

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000

NOTIFICATIONS_RECEIVED = Counter(
    "notifications_received_total",
    "Alert notifications received (one per alert, also within a webhook), by source",
    ["service", "source"],
)
NOTIFICATIONS_DEDUPLICATED = Counter(
    "notifications_deduplicated_total",
    "Notifications that repeated an alert already stored in the same state",
    ["service", "source"],
)

log = logging.getLogger(SERVICE)

STORE_KEY = web.AppKey("store", AlertStore)
TOKEN_KEY = web.AppKey("token", str)
WATCHDOG_KEY = web.AppKey("watchdog", Watchdog)


def build(store: AlertStore, token: str, watchdog: Watchdog | None = None) -> web.Application:
    """The notification service's application (shared telemetry plus the alert API)."""

    async def health() -> Mapping[str, Check]:
        try:
            await asyncio.to_thread(store.ping)
        except Exception as exc:  # any database error means unhealthy
            DEPENDENCY_UP.labels(SERVICE, "sqlite").set(0)
            return {"sqlite": Check(False, f"{type(exc).__name__}: {exc}")}
        DEPENDENCY_UP.labels(SERVICE, "sqlite").set(1)
        return {"sqlite": Check(True)}

    app = build_app(SERVICE, health)
    app[STORE_KEY] = store
    app[TOKEN_KEY] = token
    if watchdog is not None:
        app[WATCHDOG_KEY] = watchdog
    app.router.add_post("/api/v1/alerts", post_alert)
    app.router.add_post("/api/v1/alertmanager", post_alertmanager)
    app.router.add_get("/api/v1/alerts", list_alerts)
    DEPENDENCY_UP.labels(SERVICE, "sqlite").set(1)
    for source in ("alertmanager",):
        NOTIFICATIONS_RECEIVED.labels(SERVICE, source)
        NOTIFICATIONS_DEDUPLICATED.labels(SERVICE, source)
        ALERTS_TRIGGERED.labels(SERVICE, source)
    return app


def _bad_request(field: str, why: str) -> web.Response:
    return web.json_response({"error": f"{field}: {why}", "field": field}, status=400)


def authorized(request: web.Request) -> bool:
    """Whether the request carries the service's bearer token (constant-time comparison)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return False
    expected = request.app[TOKEN_KEY]
    return hmac.compare_digest(credentials.strip().encode(), expected.encode())


def _unauthorized() -> web.Response:
    return web.json_response(
        {"error": "missing or wrong bearer token"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="notification-service"'},
    )


async def _read_json(request: web.Request) -> Any:
    """The request body as JSON, or raise `InvalidPayload("body", ...)`."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_BYTES, actual_size=request.content_length
        )
    body = await request.read()
    if not body:
        raise InvalidPayload("body", "is empty; expected a JSON object")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InvalidPayload("body", "is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidPayload("body", f"is not valid JSON ({exc.msg} at char {exc.pos})") from None
    except RecursionError:
        raise InvalidPayload("body", "is nested too deeply") from None


def _header_correlation_id() -> str | None:
    return jsonlog.correlation_id_var.get()


async def _store(
    request: web.Request, alerts: list[IncomingAlert]
) -> list[tuple[AlertRecord, Outcome]]:
    return await record_alerts(request.app[STORE_KEY], alerts)


async def record_alerts(
    store: AlertStore, alerts: list[IncomingAlert]
) -> list[tuple[AlertRecord, Outcome]]:
    """Store alerts (de-duplicated), count and log them: the webhook's path and the start-up
    catch-up's (auditflow.notification.catchup)."""
    with DATABASE_QUERY_DURATION.labels(SERVICE, "record").time():
        results = await asyncio.to_thread(store.record, alerts)
    for record, outcome in results:
        NOTIFICATIONS_RECEIVED.labels(SERVICE, record.source).inc()
        if outcome == "deduplicated":
            NOTIFICATIONS_DEDUPLICATED.labels(SERVICE, record.source).inc()
        elif outcome in ("created", "reopened"):
            ALERTS_TRIGGERED.labels(SERVICE, record.source).inc()
        log.info(
            "alert %s",
            outcome,
            extra={
                "fields": {
                    "alert": record.name,
                    "source": record.source,
                    "fingerprint": record.fingerprint,
                    "status": record.status,
                    "count": record.count,
                    "first_received_at": record.first_received_at,
                    "alert_correlation_id": record.correlation_id,
                }
            },
        )
    return results


async def post_alert(request: web.Request) -> web.Response:
    if not authorized(request):
        return _unauthorized()
    try:
        alert = parse_alert(await _read_json(request), header_correlation_id=_cid(request))
    except InvalidPayload as exc:
        return _bad_request(exc.field, exc.why)
    [(record, outcome)] = await _store(request, [alert])
    return web.json_response({"outcome": outcome, "alert": record.to_json()})


async def post_alertmanager(request: web.Request) -> web.Response:
    if not authorized(request):
        return _unauthorized()
    try:
        alerts = parse_alertmanager(await _read_json(request), header_correlation_id=_cid(request))
    except InvalidPayload as exc:
        return _bad_request(exc.field, exc.why)
    results = await _store(request, alerts)
    watchdog = request.app.get(WATCHDOG_KEY)
    if watchdog is not None:
        await watchdog.observe(alerts)
    outcomes: dict[str, int] = {}
    for _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return web.json_response({"received": len(results), "outcomes": outcomes})


def _cid(request: web.Request) -> str | None:
    # Only a correlation id the caller sent is worth storing; the middleware's generated one
    # is still in the logs.
    return _header_correlation_id() if request.headers.get(CORRELATION_HEADER) else None


async def list_alerts(request: web.Request) -> web.Response:
    query = request.query
    status: Status | None = None
    raw_status = query.get("status")
    if raw_status:
        if raw_status not in STATUSES:
            return _bad_request("status", "must be 'firing' or 'resolved'")
        status = "firing" if raw_status == "firing" else "resolved"
    raw_limit = query.get("limit", str(DEFAULT_LIST_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        return _bad_request("limit", "must be an integer")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        return _bad_request("limit", f"must be between 1 and {MAX_LIST_LIMIT}")
    store = request.app[STORE_KEY]
    with DATABASE_QUERY_DURATION.labels(SERVICE, "list").time():
        records = await asyncio.to_thread(
            store.find,
            source=query.get("source") or None,
            name=query.get("name") or None,
            status=status,
            fingerprint=query.get("fingerprint") or None,
            limit=limit,
        )
    return web.json_response({"alerts": [r.to_json() for r in records], "count": len(records)})


def main() -> ServiceMain:
    """Read the configuration (errors exit 2) and return the service body."""
    settings = NotificationSettings.from_env(Env.current())
    jsonlog.setup(SERVICE, settings.log_level)

    async def body(stop: asyncio.Event) -> None:
        try:
            store = await asyncio.to_thread(AlertStore, settings.db_path)
        except (OSError, sqlite3.Error) as exc:
            log.error(
                "cannot open the alert database",
                extra={"fields": {"path": settings.db_path, "error": str(exc)}},
            )
            raise SystemExit(1) from None

        async def record(alerts: list[IncomingAlert]) -> object:
            return await record_alerts(store, alerts)

        watchdog = Watchdog(settings.watchdog, record)

        async def caught_up(alerts: list[IncomingAlert]) -> object:
            stored = await record(alerts)
            await watchdog.observe(alerts)
            return stored

        runner = await serve_http(build(store, settings.token, watchdog), settings.http)
        log.info(
            "serving",
            extra={"fields": {"host": settings.http.host, "port": settings.http.port}},
        )

        tasks = [
            asyncio.create_task(catch_up(settings.catchup, caught_up, stop)),
            asyncio.create_task(watchdog.run(stop)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runner.cleanup()
            store.close()

    return body
