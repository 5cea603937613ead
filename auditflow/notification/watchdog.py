"""The dead man's switch: raise MonitoringBlind when the Watchdog heartbeat stops arriving.

Every alert reaches people through Prometheus → Alertmanager → this service. When Prometheus or
Alertmanager is down, nothing alerts, and no rule inside Prometheus can say so. So Prometheus
evaluates an alert that always fires (Watchdog), Alertmanager re-sends it every ~10 s, and this
service — the one part of the path that is still up — raises MonitoringBlind itself, outside
Prometheus, when no heartbeat arrived for `timeout_s`: the platform is blind and somebody must be
told. A resolved Watchdog (Prometheus stopped sending it, Alertmanager let it expire) is blind
at once. The next heartbeat resolves the episode.

Each blind episode is its own record (fingerprint `monitoring-blind-<start>`): its
`first_received_at` is when this service told, so "how long was the platform blind before
anyone was told" is read from it. The clock starts at the service's start (a service that
never hears a heartbeat is blind too), and only when `AUDITFLOW_WATCHDOG_TIMEOUT_S` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from auditflow.config import Env
from auditflow.notification import SERVICE
from auditflow.notification.model import IncomingAlert, Record

log = logging.getLogger(SERVICE)

SOURCE = "watchdog"
BLIND_ALERT = "MonitoringBlind"
CHECK_EVERY_S = 0.5


@dataclass(frozen=True)
class WatchdogSettings:
    """Which alert is the heartbeat and how long its silence may last; 0: switched off."""

    heartbeat: str
    timeout_s: float

    @classmethod
    def from_env(cls, env: Env) -> WatchdogSettings:
        return cls(
            heartbeat=env.text("AUDITFLOW_WATCHDOG_ALERT", "Watchdog"),
            timeout_s=env.number("AUDITFLOW_WATCHDOG_TIMEOUT_S", 0.0, minimum=0, maximum=86400),
        )


@dataclass
class Switch:
    """The switch's state (pure: times are passed in, monotonic for ages, wall for records)."""

    timeout_s: float
    last_beat: float  # monotonic
    blind_fingerprint: str | None = None

    def beat(self, now: float) -> str | None:
        """A heartbeat arrived; the fingerprint of the blind episode it ends, if any."""
        self.last_beat = now
        ended, self.blind_fingerprint = self.blind_fingerprint, None
        return ended

    def lost(self) -> None:
        """The heartbeat was resolved: blind now, whatever its age."""
        self.last_beat = -float("inf")

    def due(self, now: float, wall: float) -> str | None:
        """The fingerprint of a blind episode that starts now, if the silence is too long."""
        if self.blind_fingerprint is not None or now - self.last_beat < self.timeout_s:
            return None
        stamp = datetime.fromtimestamp(wall, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.blind_fingerprint = f"monitoring-blind-{stamp}"
        return self.blind_fingerprint

    def silence_s(self, now: float) -> float:
        return now - self.last_beat


def blind_alert(fingerprint: str, status: str, heartbeat: str, silence_s: float) -> IncomingAlert:
    why = (
        f"no {heartbeat} heartbeat from Alertmanager for {silence_s:.0f} s"
        if silence_s != float("inf")
        else f"Alertmanager resolved the {heartbeat} heartbeat (Prometheus stopped sending it)"
    )
    return IncomingAlert(
        source=SOURCE,
        name=BLIND_ALERT,
        severity="critical",
        fingerprint=fingerprint,
        summary=f"Monitoring is blind: {why}; no alert can reach anyone until it is back",
        labels={"alertname": BLIND_ALERT, "severity": "critical", "heartbeat": heartbeat},
        status="firing" if status == "firing" else "resolved",
    )


class Watchdog:
    """The switch inside the running service: fed by the webhook, checked by a task."""

    def __init__(self, settings: WatchdogSettings, record: Record) -> None:
        self.settings = settings
        self.switch = Switch(settings.timeout_s, time.monotonic())
        self._record = record

    @property
    def enabled(self) -> bool:
        return self.settings.timeout_s > 0

    async def observe(self, alerts: list[IncomingAlert]) -> None:
        """Look at what the webhook delivered for the heartbeat."""
        if not self.enabled:
            return
        for alert in alerts:
            if alert.name != self.settings.heartbeat:
                continue
            if alert.status == "resolved":
                self.switch.lost()
                continue
            ended = self.switch.beat(time.monotonic())
            if ended is not None:
                log.info("monitoring no longer blind", extra={"fields": {"episode": ended}})
                await self._record([blind_alert(ended, "resolved", self.settings.heartbeat, 0)])

    async def check(self) -> None:
        now = time.monotonic()
        fingerprint = self.switch.due(now, time.time())
        if fingerprint is None:
            return
        silence = self.switch.silence_s(now)
        log.error(
            "monitoring blind: the heartbeat stopped",
            extra={"fields": {"episode": fingerprint, "silence_s": round(silence, 1)}},
        )
        await self._record([blind_alert(fingerprint, "firing", self.settings.heartbeat, silence)])

    async def run(self, stop: asyncio.Event) -> None:
        """Check twice a second until `stop`; a failed record is logged and retried next time
        (the episode stays open)."""
        if not self.enabled:
            return
        while not stop.is_set():
            try:
                await self.check()
            except Exception as exc:  # the switch must survive a database hiccup
                self.switch.blind_fingerprint = None
                log.warning(
                    "monitoring blind: could not record it",
                    extra={"fields": {"error": f"{type(exc).__name__}: {exc}"[:200]}},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CHECK_EVERY_S)
