"""Time to notify: read back from the notification service, which records when each
Alertmanager webhook first arrived — the end of the alerting path, not Prometheus's view of it.
"""

from __future__ import annotations

from datetime import datetime

import httpx


def time_to_notify(
    notify_url: str, alerts: tuple[str, ...], t_inject: float
) -> tuple[float | None, str, str]:
    """Seconds from the injection to the first expected alert the notification service received
    from Alertmanager (its own `first_received_at`), with the source and, when missing, why."""
    source = "notification-service: first_received_at of the Alertmanager webhook"
    if not alerts:
        return None, source, "the drill expects no alert"
    best: float | None = None
    try:
        for name in alerts:
            response = httpx.get(
                f"{notify_url}/api/v1/alerts",
                params={"name": name, "source": "alertmanager"},
                timeout=5,
                verify=notify_url.lower().startswith("https://"),  # no CA bundle for http
            )
            response.raise_for_status()
            for alert in response.json().get("alerts", []):
                received = datetime.fromisoformat(alert["first_received_at"]).timestamp()
                if received >= t_inject and (best is None or received < best):
                    best = received
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return None, source, f"notification service could not be read: {exc}"
    if best is None:
        return None, source, "no expected alert reached the notification service"
    return round(best - t_inject, 3), source, ""
