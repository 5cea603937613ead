"""Alerts as the notification service sees them: payload validation and the de-duplication rules.

Pure logic, no I/O, so the state machine can be tested on its own.

An alert is identified by `(source, fingerprint)`. Its record moves between two states:

| stored \\ incoming | firing                                  | resolved                   |
|-------------------|-----------------------------------------|----------------------------|
| (none)            | `created`: count 1                      | `resolved`: count 0        |
| firing            | `deduplicated`: count + 1               | `resolved`                 |
|                   | (`reopened` if Alertmanager's startsAt  |                            |
|                   | moved on: we missed the resolution)     |                            |
| resolved          | `reopened`: count + 1                   | `deduplicated`             |

`first_received_at` is the moment this service received the *first notification of the current
firing episode* — a re-opened alert gets a new one, so the harness can use it as the
time-to-notify timestamp for every drill, not just the first. `created_at` never changes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

Status = Literal["firing", "resolved"]
Outcome = Literal["created", "deduplicated", "reopened", "resolved"]

STATUSES: tuple[Status, ...] = ("firing", "resolved")
ALERTMANAGER_SOURCE = "alertmanager"

MAX_SHORT = 200
MAX_SUMMARY = 4000
MAX_LABELS = 64
MAX_LABEL_VALUE = 1024
MAX_ALERTS_PER_WEBHOOK = 1000
_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class InvalidPayload(ValueError):
    """A request body that is not an acceptable alert; `field` names the offending field."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(f"{field}: {why}")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert notification, whichever endpoint it arrived on."""

    source: str
    name: str
    severity: str
    fingerprint: str
    summary: str
    labels: dict[str, str]
    status: Status = "firing"
    correlation_id: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None


# How the catch-up and the watchdog store alerts: the service's record path, as a callable.
Record = Callable[[list[IncomingAlert]], Awaitable[object]]


@dataclass(frozen=True)
class AlertRecord:
    """The stored, de-duplicated state of one alert."""

    source: str
    fingerprint: str
    name: str
    severity: str
    summary: str
    labels: dict[str, str]
    status: Status
    count: int
    created_at: str
    first_received_at: str
    last_received_at: str
    resolved_at: str | None
    starts_at: str | None
    ends_at: str | None
    correlation_id: str | None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "name": self.name,
            "severity": self.severity,
            "summary": self.summary,
            "labels": dict(self.labels),
            "status": self.status,
            "count": self.count,
            "created_at": self.created_at,
            "first_received_at": self.first_received_at,
            "last_received_at": self.last_received_at,
            "resolved_at": self.resolved_at,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "correlation_id": self.correlation_id,
        }


def apply(
    stored: AlertRecord | None, incoming: IncomingAlert, now: str
) -> tuple[AlertRecord, Outcome]:
    """The record after receiving `incoming` at `now` (ISO UTC), and what happened to it."""
    if stored is None:
        firing = incoming.status == "firing"
        record = AlertRecord(
            source=incoming.source,
            fingerprint=incoming.fingerprint,
            name=incoming.name,
            severity=incoming.severity,
            summary=incoming.summary,
            labels=dict(incoming.labels),
            status=incoming.status,
            count=1 if firing else 0,
            created_at=now,
            first_received_at=now,
            last_received_at=now,
            resolved_at=None if firing else now,
            starts_at=incoming.starts_at,
            ends_at=incoming.ends_at,
            correlation_id=incoming.correlation_id,
        )
        return record, "created" if firing else "resolved"

    # Whatever happens, the latest notification's content and arrival time win.
    latest = replace(
        stored,
        name=incoming.name,
        severity=incoming.severity,
        summary=incoming.summary,
        labels=dict(incoming.labels),
        correlation_id=incoming.correlation_id or stored.correlation_id,
        ends_at=incoming.ends_at,
        last_received_at=now,
        starts_at=stored.starts_at or incoming.starts_at,
    )
    if incoming.status == "firing":
        new_episode = stored.status == "resolved" or (
            incoming.starts_at is not None
            and stored.starts_at is not None
            and incoming.starts_at != stored.starts_at
        )
        if new_episode:
            reopened = replace(
                latest,
                status="firing",
                count=stored.count + 1,
                first_received_at=now,
                resolved_at=None,
                starts_at=incoming.starts_at,
            )
            return reopened, "reopened"
        return replace(latest, count=stored.count + 1), "deduplicated"
    if stored.status == "resolved":
        return latest, "deduplicated"
    return replace(latest, status="resolved", resolved_at=now), "resolved"


# -- validation ------------------------------------------------------------------------------


def _text(
    raw: dict[str, Any],
    field: str,
    *,
    prefix: str = "",
    limit: int = MAX_SHORT,
    empty: bool = False,
) -> str:
    name = prefix + field
    if field not in raw:
        raise InvalidPayload(name, "is required")
    value = raw[field]
    if not isinstance(value, str):
        raise InvalidPayload(name, "must be a string")
    if not empty and not value.strip():
        raise InvalidPayload(name, "must not be empty")
    if len(value) > limit:
        raise InvalidPayload(name, f"must be at most {limit} characters")
    if "\x00" in value:
        raise InvalidPayload(name, "must not contain NUL")
    return value


def _optional_text(raw: dict[str, Any], field: str, *, prefix: str = "") -> str | None:
    if raw.get(field) is None:
        return None
    return _text(raw, field, prefix=prefix)


def _labels(raw: dict[str, Any], field: str, *, prefix: str = "") -> dict[str, str]:
    name = prefix + field
    value = raw.get(field, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(name, "must be an object of string values")
    if len(value) > MAX_LABELS:
        raise InvalidPayload(name, f"must have at most {MAX_LABELS} entries")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > MAX_LABEL_VALUE or len(key) > MAX_SHORT:
            raise InvalidPayload(f"{name}.{key[:MAX_SHORT]}", "must be a string of sane length")
        out[key] = item
    return out


def _status(raw: dict[str, Any], field: str, *, prefix: str = "", default: Status | None) -> Status:
    value = raw.get(field, default)
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    if value is None:
        raise InvalidPayload(prefix + field, "is required")
    raise InvalidPayload(prefix + field, "must be 'firing' or 'resolved'")


def parse_alert(raw: Any, *, header_correlation_id: str | None = None) -> IncomingAlert:
    """Validate a `POST /api/v1/alerts` body; raise `InvalidPayload` naming the bad field."""
    if not isinstance(raw, dict):
        raise InvalidPayload("body", "must be a JSON object")
    source = _text(raw, "source", limit=64)
    if not _SOURCE_RE.match(source):
        raise InvalidPayload("source", "must be letters, digits, '_', '.', ':' or '-'")
    return IncomingAlert(
        source=source,
        name=_text(raw, "name"),
        severity=_text(raw, "severity", limit=32),
        fingerprint=_text(raw, "fingerprint"),
        summary=_text(raw, "summary", limit=MAX_SUMMARY, empty=True),
        labels=_labels(raw, "labels"),
        status=_status(raw, "status", default="firing"),
        correlation_id=_optional_text(raw, "correlation_id") or header_correlation_id,
    )


def parse_alertmanager(
    raw: Any, *, header_correlation_id: str | None = None
) -> list[IncomingAlert]:
    """Validate an Alertmanager webhook (version 4) body into one `IncomingAlert` per alert."""
    if not isinstance(raw, dict):
        raise InvalidPayload("body", "must be a JSON object")
    if raw.get("version") != "4":
        raise InvalidPayload("version", 'must be "4" (Alertmanager webhook format)')
    alerts = raw.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidPayload("alerts", "must be a list")
    if len(alerts) > MAX_ALERTS_PER_WEBHOOK:
        raise InvalidPayload("alerts", f"must hold at most {MAX_ALERTS_PER_WEBHOOK} alerts")
    out: list[IncomingAlert] = []
    for index, alert in enumerate(alerts):
        prefix = f"alerts[{index}]."
        if not isinstance(alert, dict):
            raise InvalidPayload(f"alerts[{index}]", "must be an object")
        labels = _labels(alert, "labels", prefix=prefix)
        annotations = _labels(alert, "annotations", prefix=prefix)
        if not labels.get("alertname"):
            raise InvalidPayload(prefix + "labels.alertname", "is required")
        summary = annotations.get("summary") or annotations.get("description") or ""
        out.append(
            IncomingAlert(
                source=ALERTMANAGER_SOURCE,
                name=labels["alertname"][:MAX_SHORT],
                severity=(labels.get("severity") or "none")[:32],
                fingerprint=_text(alert, "fingerprint", prefix=prefix),
                summary=summary[:MAX_SUMMARY],
                labels=labels,
                status=_status(alert, "status", prefix=prefix, default=None),
                correlation_id=header_correlation_id,
                starts_at=_timestamp(alert, "startsAt", prefix),
                ends_at=_timestamp(alert, "endsAt", prefix),
            )
        )
    return out


def _timestamp(raw: dict[str, Any], field: str, prefix: str) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidPayload(prefix + field, "must be an RFC 3339 time")
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayload(prefix + field, "must be an RFC 3339 time") from None
    # Alertmanager sends endsAt "0001-01-01T00:00:00Z" for alerts with no end yet.
    if stamp.year <= 1:
        return None
    return value
