"""Time to notify: read back from the notification service, which records when each
Alertmanager webhook first arrived — the end of the alerting path, not Prometheus's view of it.

TTN is never before TTD, by construction (DESIGN.md §4). Prometheus sends an alert to
Alertmanager only once it fires, so a notification of this fault is received after the alert's
first firing sample; one that reads earlier was either an older episode's or stamped by a clock
that disagrees with Prometheus's. `notify_time` therefore counts, per expected alert, only
notifications received since the injection for an alert Prometheus saw firing since the
injection, and never returns a time before that firing sample: a receipt stamped earlier (two
processes' clocks) counts as the firing time itself, and the reason says so and by how much.
Clamping keeps the figure a lower bound of the truth (the notification cannot have come sooner
than the firing) instead of dropping a notification that did arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

SOURCE = "notification-service: first_received_at of the Alertmanager webhook"


def time_to_notify(
    notify_url: str,
    alerts: tuple[str, ...],
    t_inject: float,
    firing_at: Mapping[str, float | None] | None = None,
) -> tuple[float | None, str, str]:
    """Seconds from the injection to the first expected alert the notification service received
    from Alertmanager (its own `first_received_at`), with the source and the reason (why it is
    missing, or that it was clamped to the firing time).

    `firing_at` is each expected alert's first raw firing sample after the injection (None: it
    did not fire); with it the figure is never before that firing (`notify_time`). Without it
    (older callers) every receipt since the injection counts, unchecked."""
    if not alerts:
        return None, SOURCE, "the drill expects no alert"
    receipts: dict[str, list[float]] = {}
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
                if int(alert.get("count", 1)) < 1:
                    continue  # only ever told "resolved": no firing was notified
                received = datetime.fromisoformat(alert["first_received_at"]).timestamp()
                receipts.setdefault(name, []).append(received)
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        return None, SOURCE, f"notification service could not be read: {exc}"
    if firing_at is None:
        firing_at = {name: t_inject for name in alerts}  # unchecked: any receipt since t_inject
    seconds, reason = notify_time(receipts, firing_at, t_inject)
    return seconds, SOURCE, reason


def notify_time(
    receipts: Mapping[str, Sequence[float]],
    firing_at: Mapping[str, float | None],
    t_inject: float,
) -> tuple[float | None, str]:
    """TTN (seconds, reason) from each alert's notification receipt times and its first firing
    sample after the injection. Pure, so the guarantee TTN >= TTD is unit-tested.

    A receipt counts for an alert that fired (per Prometheus) since the injection, when it was
    received at or after the injection; one stamped before the firing sample counts as that
    firing (clamped) and the reason states the clocks' disagreement. The earliest alert wins.
    """
    best: tuple[float, str] | None = None
    unfired: list[str] = []
    for name, times in receipts.items():
        fired = firing_at.get(name)
        since = [t for t in times if t >= t_inject]
        if fired is None:
            if since:
                unfired.append(name)
            continue
        if not since:
            continue
        received = min(since)
        if received >= fired:
            candidate = (received, "")
        else:
            candidate = (
                fired,
                f"{name}'s notification is stamped {fired - received:.3f} s before Prometheus's "
                "first firing sample (the notification service's and Prometheus's clocks "
                "disagree); counted at the firing time, as it cannot have come sooner",
            )
        if best is None or candidate[0] < best[0]:
            best = candidate
    if best is not None:
        return round(best[0] - t_inject, 3), best[1]
    if unfired:
        return None, (
            f"notifications for {', '.join(sorted(unfired))} arrived, but Prometheus has no "
            "firing sample of them since the injection: not this fault's"
        )
    if not any(fired is not None for fired in firing_at.values()):
        return None, "no expected alert fired, so none was notified"
    return None, "no expected alert reached the notification service"
