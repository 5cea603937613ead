"""Sends security alerts to the notification service without ever holding up storage.

Each alert is a fire-and-forget task with a 5 s timeout; failures are logged. At most
`MAX_IN_FLIGHT` alerts are outstanding: beyond that (notification service hanging) new alerts are
dropped with a warning instead of piling up tasks — the notification service de-duplicates by
fingerprint, and the next threshold crossing raises the alert again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from auditflow.analysis import SERVICE
from auditflow.telemetry import ALERTS_TRIGGERED, CORRELATION_HEADER

log = logging.getLogger(SERVICE)

TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 100
ALERT_NAME = "RepeatedFailedLogins"


def failed_login_alert(
    actor: str, count: int, window_s: float, correlation_id: str
) -> dict[str, Any]:
    """The JSON body the notification service expects for the failed-login rule."""
    return {
        "source": SERVICE,
        "name": ALERT_NAME,
        "severity": "warning",
        "fingerprint": f"{ALERT_NAME}:{actor}",
        "summary": f"{count} failed logins by {actor} within {window_s:g} s",
        "labels": {"actor": actor},
        "correlation_id": correlation_id,
    }


class Notifier:
    """POSTs alerts to `{base_url}/api/v1/alerts` with the bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = f"{base_url}/api/v1/alerts"
        self._token = token
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._triggered = ALERTS_TRIGGERED.labels(SERVICE, "security_rule")

    def send(self, alert: dict[str, Any]) -> None:
        """Queue `alert` for delivery and return immediately."""
        self._triggered.inc()
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.warning(
                "too many alerts in flight; dropping one",
                extra={"fields": {"fingerprint": alert["fingerprint"]}},
            )
            return
        task = asyncio.create_task(self._post(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=TIMEOUT_S)
        if self._session is not None:
            await self._session.close()

    async def _post(self, alert: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        headers = {
            "Authorization": f"Bearer {self._token}",
            CORRELATION_HEADER: str(alert["correlation_id"]),
        }
        fields = {"fingerprint": alert["fingerprint"], "correlation_id": alert["correlation_id"]}
        try:
            async with self._session.post(self.url, json=alert, headers=headers) as response:
                if response.status >= 300:
                    text = (await response.text())[:200]
                    log.warning(
                        "notification service refused alert",
                        extra={"fields": {**fields, "status": response.status, "body": text}},
                    )
                    return
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning(
                "could not deliver alert",
                extra={"fields": {**fields, "error": repr(exc)[:200]}},
            )
            return
        log.info("alert delivered", extra={"fields": fields})
