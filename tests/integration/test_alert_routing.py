"""An alert raised in Prometheus reaches the notification service through Alertmanager."""

from __future__ import annotations

import json
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


def test_an_alert_sent_while_the_notification_service_was_down_is_caught_up_on_start(live):
    """Alertmanager gives up on a webhook it cannot deliver until the group's next flush (5 s
    here, then `repeat_interval`, an hour): a page sent while the notification service was
    down would be lost. On start the service reads Alertmanager's active alerts (API v2, basic
    auth) and records it — received after the restart, never before."""
    import time
    from datetime import UTC, datetime, timedelta

    from drills.sandbox.secrets import ALERTMANAGER_USER

    supervisor = live.sandbox.supervisor
    auth = (ALERTMANAGER_USER, live.sandbox.secrets.alertmanager.reveal())
    name = f"CatchUpProbe{int(time.time())}"
    now = datetime.now(UTC)

    def recorded() -> list[dict[str, Any]]:
        response = httpx.get(
            f"{live.url('notification-service')}/api/v1/alerts",
            params={"name": name, "source": "alertmanager"},
            timeout=3,
        )
        response.raise_for_status()
        return list(response.json()["alerts"])

    supervisor.stop("notification-service")
    try:
        response = httpx.post(
            f"{live.url('alertmanager')}/api/v2/alerts",
            json=[
                {
                    "labels": {"alertname": name, "severity": "warning"},
                    "annotations": {"summary": "sent while the notification service was down"},
                    "startsAt": now.isoformat(),
                    "endsAt": (now + timedelta(minutes=5)).isoformat(),
                }
            ],
            auth=auth,
            timeout=5,
        )
        assert response.status_code == 200, response.text
        # group_wait 1 s, then retries until the next flush (group_interval 5 s): past those,
        # Alertmanager will not try this webhook again for an hour.
        time.sleep(9)
    finally:
        restarted = time.time()  # start() returns once supervisord saw it up for startsecs
        started_iso = datetime.fromtimestamp(restarted, UTC).isoformat(timespec="milliseconds")
        supervisor.start("notification-service")
    wait_for(lambda: live.healthy("notification-service"), 30, "the notification service")
    found = wait_for(recorded, 20, f"{name} caught up from Alertmanager")
    received = datetime.fromisoformat(found[0]["first_received_at"]).timestamp()
    assert found[0]["status"] == "firing"
    assert received >= restarted, (received, restarted)
    # Alertmanager keeps retrying a never-delivered group at each flush (5 s), so the record
    # alone does not show who delivered it: the service's own log says the catch-up found it.
    log = live.sandbox.layout.logs / "notification-service.log"
    caught = [
        line
        for line in log.read_text().splitlines()
        if '"alert catch-up done"' in line and json.loads(line).get("ts", "") >= started_iso
    ]
    assert caught and json.loads(caught[-1])["active"] >= 1, caught
    # Resolve it so later tests see no stray alert.
    httpx.post(
        f"{live.url('alertmanager')}/api/v2/alerts",
        json=[{"labels": {"alertname": name, "severity": "warning"}, "endsAt": now.isoformat()}],
        auth=auth,
        timeout=5,
    ).raise_for_status()
