"""Catch up, on start, on the alerts that fired while the notification service was down.

Alertmanager delivers a firing alert once per group flush and retries a failed webhook only
until the group's next flush; when the alert resolves before the service is back, the firing
notification is never sent again and only the resolution arrives. The notification-outage drill
showed exactly that: a page lost for an outage of the very service that delivers pages. So on
start the service asks Alertmanager's API v2 for the alerts that are active now and routed to
it (`GET /api/v2/alerts?active=true&silenced=false&inhibited=false&receiver=R`) and records them
as if the webhook had delivered them: one it already holds firing is a de-duplication, a new one
is received now — after the restart, never before.

Optional: without `AUDITFLOW_ALERTMANAGER_URL` the service does not catch up. Alertmanager may
be down or still starting as well, so the query is retried for a bounded time, in the
background: serving never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from auditflow.config import Env
from auditflow.notification import SERVICE
from auditflow.notification.model import (
    IncomingAlert,
    InvalidPayload,
    Record,
    parse_alertmanager,
)

log = logging.getLogger(SERVICE)

TIMEOUT_S = 5.0
RETRY_EVERY_S = 2.0
DEFAULT_ATTEMPTS = 15  # about 30 s of Alertmanager not answering, then give up (logged)
MAX_ALERTS = 1000  # the webhook's own limit per notification


@dataclass(frozen=True)
class CatchUpSettings:
    """Where Alertmanager is and how to authenticate; `url` empty means no catch-up."""

    url: str
    receiver: str
    user: str
    password: str
    attempts: int

    @classmethod
    def from_env(cls, env: Env) -> CatchUpSettings:
        url = env.text("AUDITFLOW_ALERTMANAGER_URL", "")
        if url:
            url = env.url("AUDITFLOW_ALERTMANAGER_URL", None, ("http", "https")).rstrip("/")
        return cls(
            url=url,
            receiver=env.text("AUDITFLOW_ALERTMANAGER_RECEIVER", "notification-service"),
            user=env.text("AUDITFLOW_ALERTMANAGER_USER", ""),
            password=env.text("AUDITFLOW_ALERTMANAGER_PASSWORD", ""),
            attempts=env.integer(
                "AUDITFLOW_ALERTMANAGER_ATTEMPTS", DEFAULT_ATTEMPTS, minimum=1, maximum=1000
            ),
        )

    def __repr__(self) -> str:  # never print the password
        return (
            f"CatchUpSettings(url={self.url!r}, receiver={self.receiver!r}, user={self.user!r}, "
            f"password='***', attempts={self.attempts})"
        )


def as_webhook(active: Any) -> list[IncomingAlert]:
    """API v2 alerts as the webhook's alerts, validated by the webhook's own parser (the same
    limits and errors). Every one is firing and has no end yet: Alertmanager's `endsAt` for an
    active alert is only its resolve timeout, not an end."""
    if not isinstance(active, list):
        raise InvalidPayload("body", "must be a list of alerts (Alertmanager API v2)")
    alerts = [
        {
            "status": "firing",
            "labels": item.get("labels"),
            "annotations": item.get("annotations"),
            "fingerprint": item.get("fingerprint"),
            "startsAt": item.get("startsAt"),
        }
        for item in active[:MAX_ALERTS]
        if isinstance(item, dict)
    ]
    return parse_alertmanager({"version": "4", "alerts": alerts})


async def fetch_active(settings: CatchUpSettings, session: aiohttp.ClientSession) -> Any:
    params: Mapping[str, str] = {
        "active": "true",
        "silenced": "false",
        "inhibited": "false",
        "receiver": settings.receiver,
    }
    auth = aiohttp.BasicAuth(settings.user, settings.password) if settings.user else None
    async with session.get(
        f"{settings.url}/api/v2/alerts",
        params=params,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
    ) as response:
        response.raise_for_status()
        return await response.json()


async def catch_up(settings: CatchUpSettings, record: Record, stop: asyncio.Event) -> int | None:
    """Record the active alerts; the number recorded, or None when Alertmanager never answered
    (or answered with something that is not its alert list) within the attempts."""
    if not settings.url:
        return None
    last_error = ""
    async with aiohttp.ClientSession() as session:
        for attempt in range(settings.attempts):
            if stop.is_set():
                return None
            try:
                alerts = as_webhook(await fetch_active(settings, session))
            except InvalidPayload as exc:
                log.warning(
                    "alert catch-up: Alertmanager's answer is not an alert list",
                    extra={"fields": {"field": exc.field, "why": exc.why}},
                )
                return None
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                if attempt + 1 < settings.attempts:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), RETRY_EVERY_S)
                continue
            if alerts:
                await record(alerts)
            log.info(
                "alert catch-up done",
                extra={"fields": {"active": len(alerts), "attempts": attempt + 1}},
            )
            return len(alerts)
    log.warning(
        "alert catch-up gave up: Alertmanager did not answer",
        extra={"fields": {"attempts": settings.attempts, "error": last_error[:200]}},
    )
    return None
