"""The notification service's dead man's switch (auditflow.notification.watchdog): silence past
the timeout raises one MonitoringBlind episode, a resolved heartbeat is blind at once, the next
heartbeat resolves the episode; switched off without a timeout."""

from __future__ import annotations

import asyncio

import pytest

from auditflow.config import ConfigError, Env
from auditflow.notification.model import IncomingAlert
from auditflow.notification.watchdog import (
    BLIND_ALERT,
    Switch,
    Watchdog,
    WatchdogSettings,
    blind_alert,
)


def heartbeat(status: str = "firing") -> IncomingAlert:
    return IncomingAlert(
        source="alertmanager",
        name="Watchdog",
        severity="none",
        fingerprint="w",
        summary="",
        labels={"alertname": "Watchdog"},
        status="firing" if status == "firing" else "resolved",
    )


def test_silence_past_the_timeout_opens_one_episode_and_a_beat_ends_it():
    switch = Switch(timeout_s=20, last_beat=100.0)
    assert switch.due(119.9, 1e9) is None
    episode = switch.due(120.0, 1_796_300_000.0)
    assert episode is not None and episode.startswith("monitoring-blind-20261203T")
    assert switch.due(130.0, 1_796_300_010.0) is None  # one episode, not one per check
    assert switch.beat(131.0) == episode
    assert switch.beat(132.0) is None
    assert switch.due(151.9, 1e9) is None


def test_a_resolved_heartbeat_is_blind_at_once():
    switch = Switch(timeout_s=20, last_beat=100.0)
    switch.lost()
    assert switch.due(100.5, 1e9) is not None
    assert switch.silence_s(100.5) == float("inf")
    assert (
        "resolved the Watchdog heartbeat" in blind_alert("f", "firing", "Watchdog", 1e999).summary
    )


def test_the_service_records_the_episode_and_its_resolution():
    recorded: list[IncomingAlert] = []

    async def record(alerts: list[IncomingAlert]) -> None:
        recorded.extend(alerts)

    async def scenario() -> None:
        watchdog = Watchdog(WatchdogSettings("Watchdog", 0.2), record)
        await watchdog.observe([heartbeat()])
        await watchdog.check()
        assert recorded == []
        await asyncio.sleep(0.25)
        await watchdog.check()
        await watchdog.check()
        await watchdog.observe([heartbeat()])

    asyncio.run(scenario())
    assert [(a.name, a.status, a.source) for a in recorded] == [
        (BLIND_ALERT, "firing", "watchdog"),
        (BLIND_ALERT, "resolved", "watchdog"),
    ]
    assert recorded[0].fingerprint == recorded[1].fingerprint
    assert "no Watchdog heartbeat from Alertmanager for 0 s" in recorded[0].summary


def test_switched_off_without_a_timeout_and_bad_settings_are_refused():
    recorded: list[IncomingAlert] = []

    async def record(alerts: list[IncomingAlert]) -> None:
        recorded.extend(alerts)

    off = Watchdog(WatchdogSettings.from_env(Env({})), record)
    assert not off.enabled
    asyncio.run(off.run(asyncio.Event()))  # returns at once
    assert recorded == []
    settings = WatchdogSettings.from_env(Env({"AUDITFLOW_WATCHDOG_TIMEOUT_S": "20"}))
    assert settings == WatchdogSettings("Watchdog", 20.0)
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(ConfigError):
            WatchdogSettings.from_env(Env({"AUDITFLOW_WATCHDOG_TIMEOUT_S": bad}))
