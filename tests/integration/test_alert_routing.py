"""An alert raised in Prometheus reaches the notification service through Alertmanager."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import wait_for

pytestmark = pytest.mark.integration


def redis_down_alerts(live, status: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{live.url('notification-service')}/api/v1/alerts",
        params={"name": "RedisDown", "source": "alertmanager", "status": status},
        timeout=3,
    )
    response.raise_for_status()
    return list(response.json()["alerts"])


def test_redis_outage_alert_fires_reaches_notification_and_resolves(live):
    """Stopping Redis fires RedisDown in Prometheus; Alertmanager delivers it to the notification
    service's webhook; starting Redis again delivers the resolution. Storing continues meanwhile."""
    supervisor = live.sandbox.supervisor
    assert redis_down_alerts(live, "firing") == []
    supervisor.stop("redis")
    try:
        fired = wait_for(
            lambda: redis_down_alerts(live, "firing"), 60, "RedisDown to reach notification"
        )
        alert = fired[0]
        assert alert["labels"]["alertname"] == "RedisDown"
        assert alert["labels"]["severity"] == "critical"
        assert alert["first_received_at"]
        # Events are still stored while Redis (counters only) is down.
        with live.pg() as conn:
            before = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        wait_for(
            lambda: live.pg().execute("SELECT count(*) FROM audit_events").fetchone()[0] > before,
            15,
            "events to keep being stored while Redis is down",
        )
    finally:
        supervisor.start("redis")
    wait_for(lambda: redis_down_alerts(live, "resolved"), 60, "RedisDown resolution")
