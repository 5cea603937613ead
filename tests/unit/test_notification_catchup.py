"""The start-up catch-up's pure parts (auditflow.notification.catchup): Alertmanager API v2
alerts become the webhook's alerts through the webhook's own validation; its settings never
show the password. The catch-up against a real Alertmanager is in
tests/integration/test_alert_routing.py."""

from __future__ import annotations

import asyncio

import pytest

from auditflow.config import ConfigError, Env
from auditflow.notification.catchup import CatchUpSettings, as_webhook, catch_up
from auditflow.notification.model import InvalidPayload

ACTIVE = {
    "labels": {"alertname": "NotificationServiceDown", "severity": "critical"},
    "annotations": {"summary": "the notification service is down"},
    "fingerprint": "0123abcd",
    "startsAt": "2026-12-03T12:00:00.000Z",
    "endsAt": "2026-12-03T12:05:00.000Z",
    "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    "receivers": [{"name": "notification-service"}],
}


def test_an_active_alert_becomes_a_firing_webhook_alert_with_no_end():
    [alert] = as_webhook([ACTIVE])
    assert (alert.name, alert.severity, alert.fingerprint) == (
        "NotificationServiceDown",
        "critical",
        "0123abcd",
    )
    assert alert.status == "firing"
    assert alert.source == "alertmanager"
    assert alert.summary == "the notification service is down"
    assert alert.starts_at is not None and alert.ends_at is None  # endsAt is only a timeout


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alerts": []}, "body"),
        ([{**ACTIVE, "labels": {"severity": "critical"}}], "alerts[0].labels.alertname"),
        ([{**ACTIVE, "fingerprint": 7}], "alerts[0].fingerprint"),
    ],
)
def test_an_answer_that_is_not_an_alert_list_names_the_field(body, field):
    with pytest.raises(InvalidPayload) as caught:
        as_webhook(body)
    assert caught.value.field == field


def test_settings_from_the_environment_and_a_repr_without_the_password():
    settings = CatchUpSettings.from_env(
        Env(
            {
                "AUDITFLOW_ALERTMANAGER_URL": "http://127.0.0.1:9093/",
                "AUDITFLOW_ALERTMANAGER_USER": "genesis",
                "AUDITFLOW_ALERTMANAGER_PASSWORD": "s3cret-pw",
            }
        )
    )
    assert settings.url == "http://127.0.0.1:9093"
    assert settings.receiver == "notification-service"
    assert "s3cret-pw" not in repr(settings)
    with pytest.raises(ConfigError):
        CatchUpSettings.from_env(Env({"AUDITFLOW_ALERTMANAGER_URL": "ftp://x"}))
    assert CatchUpSettings.from_env(Env({})).url == ""


def test_no_url_means_no_catch_up_and_nothing_recorded():
    recorded: list[object] = []

    async def record(alerts):
        recorded.append(alerts)

    settings = CatchUpSettings("", "notification-service", "", "", 1)
    assert asyncio.run(catch_up(settings, record, asyncio.Event())) is None
    assert recorded == []
