"""No unauthenticated control of the sandbox on loopback: Prometheus's lifecycle API is off,
Redis needs its password and does not run as root (issue 11, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import redis

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("endpoint", ["/-/quit", "/-/reload"])
def test_prometheus_lifecycle_endpoints_are_refused(live, endpoint: str) -> None:
    """POST /-/quit and /-/reload do not stop or reconfigure Prometheus."""
    prometheus = live.url("prometheus")
    response = httpx.post(prometheus + endpoint, timeout=5)
    assert response.status_code == 403, response.text
    assert httpx.get(prometheus + "/-/ready", timeout=5).status_code == 200


def test_redis_refuses_clients_without_its_password(live) -> None:
    """A client without the password gets an authentication error; with it, PING works."""
    anonymous = redis.Redis(host="127.0.0.1", port=live.port("redis"), socket_timeout=3)
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("genesis:probe", "1")
    anonymous.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(
            host="127.0.0.1", port=live.port("redis"), password="wrong", socket_timeout=3
        ).ping()
    authed = redis.Redis(
        host="127.0.0.1",
        port=live.port("redis"),
        password=live.sandbox.secrets.redis.reveal(),
        socket_timeout=3,
    )
    assert authed.ping() is True
    authed.close()


def test_redis_password_is_not_on_its_command_line(live) -> None:
    """The password lives in a 0600 config file, not in argv that `ps` shows."""
    pid = live.sandbox.supervisor.process("redis").pid
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert live.sandbox.secrets.redis.reveal() not in argv


@pytest.mark.skipif(os.geteuid() != 0, reason="only a harness started by root switches users")
def test_redis_server_does_not_run_as_root(live) -> None:
    """Started by root, redis-server runs as PostgreSQL's unprivileged account."""
    pid = live.sandbox.supervisor.process("redis").pid
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids and all(int(uid) != 0 for uid in uids), status


def test_redis_exporter_and_services_authenticate(live) -> None:
    """The exporter scrapes Redis with the password (redis_up 1) and the dashboard reads it."""
    metrics = httpx.get(live.url("redis-exporter") + "/metrics", timeout=10).text
    assert "\nredis_up 1" in "\n" + metrics
    counters = httpx.get(live.url("event-audit-dashboard") + "/api/counters", timeout=10)
    assert counters.status_code == 200, counters.text


def test_alertmanager_refuses_silences_without_credentials(live) -> None:
    """An unauthenticated silence (say, of RabbitMQDown) is refused with 401; with the
    sandbox's credentials the API answers, and Prometheus still delivers alerts to it."""
    from drills.sandbox.secrets import ALERTMANAGER_USER

    alertmanager = live.url("alertmanager")
    silence = {
        "matchers": [{"name": "alertname", "value": "RabbitMQDown", "isRegex": False}],
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "anyone",
        "comment": "silenced by a stranger",
    }
    refused = httpx.post(alertmanager + "/api/v2/silences", json=silence, timeout=5)
    assert refused.status_code == 401
    auth = (ALERTMANAGER_USER, live.sandbox.secrets.alertmanager.reveal())
    assert httpx.get(alertmanager + "/api/v2/silences", auth=auth, timeout=5).json() == []
    targets = httpx.get(live.url("prometheus") + "/api/v1/alertmanagers", timeout=5).json()
    assert targets["data"]["activeAlertmanagers"], targets
