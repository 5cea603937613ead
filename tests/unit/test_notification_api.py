"""notification-service: the SQLite store and the HTTP API, in-process (no network but loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from auditflow.notification.app import build
from auditflow.notification.model import IncomingAlert
from auditflow.notification.store import AlertStore

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_client(tmp_path: Path, scenario: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def go() -> None:
        store = AlertStore(str(tmp_path / "alerts.db"))
        client: TestClient[Any, Any] = TestClient(TestServer(build(store, TOKEN)))
        await client.start_server()
        try:
            await scenario(client)
        finally:
            await client.close()
            store.close()

    asyncio.run(go())


def analysis_alert(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "source": "audit-log-analysis",
        "name": "FailedLoginBurst",
        "severity": "warning",
        "fingerprint": "actor:alice",
        "summary": "5 failed logins",
        "labels": {"actor": "alice"},
    }
    body.update(over)
    return body


def webhook(status: str) -> dict[str, object]:
    return {
        "version": "4",
        "status": status,
        "receiver": "notification-service",
        "groupLabels": {"alertname": "RabbitMQDown"},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "RabbitMQDown", "severity": "critical", "job": "rabbitmq"},
                "annotations": {"summary": "RabbitMQ is down"},
                "startsAt": "2024-05-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f00d",
            }
        ],
    }


def test_store_survives_reopen(tmp_path: Path) -> None:
    """Records are persisted in the SQLite file and de-duplication continues after a restart."""
    path = str(tmp_path / "a.db")
    incoming = IncomingAlert("src", "Name", "warning", "fp", "s", {})
    store = AlertStore(path)
    store.record([incoming])
    store.close()
    store = AlertStore(path)
    [(record, outcome)] = store.record([incoming])
    store.close()
    assert (outcome, record.count) == ("deduplicated", 2)


def test_store_find_filters(tmp_path: Path) -> None:
    """find() filters by source, name and status together."""
    store = AlertStore(str(tmp_path / "a.db"))
    store.record([IncomingAlert("a", "One", "warning", "1", "", {})])
    store.record([IncomingAlert("b", "One", "warning", "1", "", {})])
    store.record([IncomingAlert("a", "Two", "warning", "2", "", {}, status="resolved")])
    assert [r.source for r in store.find(name="One", source="b")] == ["b"]
    assert [r.name for r in store.find(status="resolved")] == ["Two"]
    assert len(store.find(limit=2)) == 2
    store.close()


def test_writes_need_the_token(tmp_path: Path) -> None:
    """Both write endpoints answer 401 without, or with a wrong, bearer token."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        for path in ("/api/v1/alerts", "/api/v1/alertmanager"):
            resp = await client.post(path, json=analysis_alert())
            assert resp.status == 401
            resp = await client.post(
                path, json=analysis_alert(), headers={"Authorization": "Bearer wrong"}
            )
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    run_client(tmp_path, scenario)


def test_post_alert_deduplicates_and_counts(tmp_path: Path) -> None:
    """Posting the same alert twice yields one record with count 2 and a dedup metric bump."""

    labels = {"service": "notification-service", "source": "audit-log-analysis"}

    def dedups() -> float:
        return REGISTRY.get_sample_value("notifications_deduplicated_total", labels) or 0.0

    before = dedups()

    async def scenario(client: TestClient[Any, Any]) -> None:
        first = await client.post(
            "/api/v1/alerts",
            json=analysis_alert(),
            headers={**AUTH, "X-Correlation-ID": "cid-1"},
        )
        assert first.status == 200
        assert (await first.json())["outcome"] == "created"
        second = await client.post("/api/v1/alerts", json=analysis_alert(), headers=AUTH)
        assert (await second.json())["outcome"] == "deduplicated"
        listing = await (await client.get("/api/v1/alerts?source=audit-log-analysis")).json()
        assert listing["count"] == 1
        [stored] = listing["alerts"]
        assert stored["count"] == 2
        assert stored["correlation_id"] == "cid-1"
        assert dedups() == before + 1
        metrics = await (await client.get("/metrics")).text()
        assert (
            'alerts_triggered_total{service="notification-service",'
            'source="audit-log-analysis"}' in metrics
        )

    run_client(tmp_path, scenario)


def test_bad_json_and_bad_field_are_clear_400s(tmp_path: Path) -> None:
    """Unparseable JSON answers 400 naming 'body'; a bad field answers 400 naming the field."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/api/v1/alerts", data=b"{not json", headers=AUTH)
        assert resp.status == 400
        assert (await resp.json())["field"] == "body"
        resp = await client.post("/api/v1/alerts", json=analysis_alert(severity=""), headers=AUTH)
        assert resp.status == 400
        assert (await resp.json())["field"] == "severity"
        resp = await client.get("/api/v1/alerts?limit=0")
        assert resp.status == 400
        resp = await client.get("/api/v1/alerts?status=open")
        assert resp.status == 400

    run_client(tmp_path, scenario)


def test_oversized_body_is_refused(tmp_path: Path) -> None:
    """A body over 1 MiB is refused with 413 and stores nothing."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        big = json.dumps(analysis_alert(summary="x" * (1024 * 1024 + 10)))
        resp = await client.post("/api/v1/alerts", data=big, headers=AUTH)
        assert resp.status == 413
        listing = await (await client.get("/api/v1/alerts")).json()
        assert listing["count"] == 0

    run_client(tmp_path, scenario)


def test_alertmanager_firing_then_resolved_then_reopened(tmp_path: Path) -> None:
    """Webhook firing → resolved → firing gives one record: resolved, then re-opened count 2."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        async def send(status: str) -> dict[str, Any]:
            resp = await client.post("/api/v1/alertmanager", json=webhook(status), headers=AUTH)
            assert resp.status == 200
            return dict(await resp.json())

        assert (await send("firing"))["outcomes"] == {"created": 1}
        assert (await send("resolved"))["outcomes"] == {"resolved": 1}
        listing = await (await client.get("/api/v1/alerts?status=resolved")).json()
        assert listing["alerts"][0]["name"] == "RabbitMQDown"
        assert (await send("firing"))["outcomes"] == {"reopened": 1}
        [stored] = (await (await client.get("/api/v1/alerts?name=RabbitMQDown")).json())["alerts"]
        assert (stored["status"], stored["count"], stored["source"]) == (
            "firing",
            2,
            "alertmanager",
        )
        assert stored["starts_at"] == "2024-05-01T10:00:00Z"

    run_client(tmp_path, scenario)
