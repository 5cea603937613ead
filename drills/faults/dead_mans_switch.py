"""Was anyone told that monitoring went blind? The check behind monitoring-blind.

With Alertmanager (or Prometheus) down no alert can fire or be delivered, so a drill that takes
them away cannot measure detection through `ALERTS`. What it can measure is the dead man's
switch: the notification service raises `MonitoringBlind` (source `watchdog`) itself when the
Watchdog heartbeat stops (auditflow.notification.watchdog). This reads the service's records:
the first blind episode received after the fault is when somebody was told, and
`blind_until_told_s` — fault to that moment — is how long the platform was blind before anyone
knew. Once the component is back the heartbeat returns and the episode must be resolved: a
switch that stays raised after recovery would page for nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from drills.errors import TargetError
from drills.faults.base import Check

SOURCE = "watchdog"
BLIND_ALERT = "MonitoringBlind"
POLL_S = 0.5
RESOLVE_TIMEOUT_S = 45.0  # AM back, Prometheus re-sends within 5 s, then the route's flush


@dataclass(frozen=True)
class Episode:
    fingerprint: str
    told_at: float
    resolved_at: float | None


def episodes(notification_url: str, since: float) -> list[Episode]:
    """The blind episodes the notification service raised at or after `since`, earliest first."""
    try:
        response = httpx.get(
            f"{notification_url}/api/v1/alerts",
            params={"name": BLIND_ALERT, "source": SOURCE, "limit": "100"},
            timeout=5,
        )
        response.raise_for_status()
        alerts: list[dict[str, Any]] = list(response.json().get("alerts", []))
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        raise TargetError(f"the notification service at {notification_url}: {exc}") from exc
    found = []
    for alert in alerts:
        told = _ts(alert.get("first_received_at"))
        if told is None or told < since:
            continue
        found.append(Episode(str(alert.get("fingerprint")), told, _ts(alert.get("resolved_at"))))
    return sorted(found, key=lambda e: e.told_at)


def _ts(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def check(
    notification_url: str, heartbeat: str, fault_at: float, within_s: float
) -> tuple[list[Check], dict[str, float | int | str | None]]:
    """The two checks (told in time; resolved once the heartbeat is back) and the figures."""
    told_name = f"{BLIND_ALERT} told within {within_s:g} s ({heartbeat} heartbeat stopped)"
    resolved_name = f"{BLIND_ALERT} resolved once the {heartbeat} heartbeat was back"
    figures: dict[str, float | int | str | None] = {"heartbeat_alert": heartbeat}
    try:
        found = episodes(notification_url, fault_at)
    except TargetError as exc:
        return [Check(told_name, False, str(exc))], figures
    if not found:
        figures["blind_until_told_s"] = None
        return [
            Check(told_name, False, f"the notification service raised no {BLIND_ALERT}")
        ], figures
    first = found[0]
    told_after = round(first.told_at - fault_at, 3)
    figures["blind_until_told_s"] = told_after
    checks = [
        Check(
            told_name,
            told_after <= within_s,
            f"told {told_after:.1f} s after the fault (episode {first.fingerprint})",
        )
    ]
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    episode: Episode | None = first
    while episode is not None and episode.resolved_at is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
        try:
            episode = next(
                (
                    e
                    for e in episodes(notification_url, fault_at)
                    if e.fingerprint == first.fingerprint
                ),
                None,
            )
        except TargetError:
            continue
    resolved = episode is not None and episode.resolved_at is not None
    detail = (
        f"resolved {episode.resolved_at - fault_at:.1f} s after the fault"
        if episode is not None and episode.resolved_at is not None
        else f"still raised {RESOLVE_TIMEOUT_S:g} s after the component was back"
    )
    figures["blind_resolved_after_s"] = (
        round(episode.resolved_at - fault_at, 3)
        if episode is not None and episode.resolved_at is not None
        else None
    )
    checks.append(Check(resolved_name, resolved, detail))
    return checks, figures
