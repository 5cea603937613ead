"""The audit event: its schema, how it is encoded, and how a received message is validated.

The generator encodes, the analysis service decodes. Validation never raises anything but
`MalformedEvent`, whose `reason` is a short machine-readable code that travels to the dead-letter
queue in the `x-auditflow-reason` header — so a drill can prove *why* each message was rejected.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
DEFAULT_MAX_EVENT_BYTES = 64 * 1024

OUTCOMES = ("success", "failure", "denied", "error")

# Every reason a message can be dead-lettered for; the keys are stable API (headers, metrics).
REASONS = {
    "oversized": "message body larger than the configured limit",
    "wrong_content_type": "content type is not application/json",
    "invalid_utf8": "body is not valid UTF-8",
    "bad_json": "body is not parseable JSON",
    "not_an_object": "JSON body is not an object",
    "unknown_schema_version": "schema_version is not one this service understands",
    "missing_field": "a required field is absent",
    "wrong_type": "a field has the wrong type or format",
}


class MalformedEvent(ValueError):
    """A message that is not a valid audit event; `reason` is a key of `REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class AuditEvent:
    """One audit event as published by the generator and stored by the analysis service."""

    event_id: str
    run_id: str
    seq: int
    occurred_at: str
    published_at: str
    actor: str
    action: str
    resource: str
    outcome: str
    source_ip: str
    correlation_id: str
    schema_version: int = SCHEMA_VERSION

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()


# The string fields of an event, in schema order (the harness breaks them one at a time).
STRING_FIELDS = (
    "event_id",
    "run_id",
    "occurred_at",
    "published_at",
    "actor",
    "action",
    "resource",
    "outcome",
    "source_ip",
    "correlation_id",
)
_MAX_TEXT = 512
_REQUIRED = (*STRING_FIELDS, "seq")
_string_fields = operator.itemgetter(*STRING_FIELDS)
# What `json.loads` runs after skipping leading whitespace (the C scanner, same defaults).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def event_id_for(run_id: str, seq: int) -> str:
    """Deterministic event id: a re-published event keeps its id, so storage can de-duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"auditflow:{run_id}:{seq}"))


# Fast acceptance of the common spellings; anything else is judged by `uuid` / `ipaddress`
# themselves, so what is accepted or refused is exactly what it was.
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
).fullmatch
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}", re.ASCII).fullmatch

# A validated event as the analysis service stores it: the `AuditEvent` fields in schema order
# (without schema_version), with both times parsed.
EventRow = tuple[str, str, int, datetime, datetime, str, str, str, str, str, str]


def decode(
    body: bytes, content_type: str | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AuditEvent:
    """Validate a raw message; return the event or raise `MalformedEvent` naming the reason."""
    raw = _load(body, content_type, max_bytes)
    _check(raw)
    return AuditEvent(
        event_id=raw["event_id"],
        run_id=raw["run_id"],
        seq=raw["seq"],
        occurred_at=raw["occurred_at"],
        published_at=raw["published_at"],
        actor=raw["actor"],
        action=raw["action"],
        resource=raw["resource"],
        outcome=raw["outcome"],
        source_ip=raw["source_ip"],
        correlation_id=raw["correlation_id"],
        schema_version=raw["schema_version"],
    )


def decode_row(
    body: bytes, content_type: str | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> tuple[EventRow, float, float]:
    """As `decode` (same validation, same errors), but return what the analysis service stores:
    `(row, occurred_at timestamp, published_at timestamp)`, without an `AuditEvent` object and
    without parsing the times twice."""
    raw = _load(body, content_type, max_bytes)
    occurred, published = _check(raw)
    row = (
        raw["event_id"],
        raw["run_id"],
        raw["seq"],
        occurred,
        published,
        raw["actor"],
        raw["action"],
        raw["resource"],
        raw["outcome"],
        raw["source_ip"],
        raw["correlation_id"],
    )
    return row, occurred.timestamp(), published.timestamp()


def _load(body: bytes, content_type: str | None, max_bytes: int) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise MalformedEvent("oversized", f"{len(body)} bytes > {max_bytes}")
    if (
        content_type is not None
        and content_type != CONTENT_TYPE
        and content_type.split(";")[0].strip() != CONTENT_TYPE
    ):
        raise MalformedEvent("wrong_content_type", f"{content_type[:64]!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedEvent("invalid_utf8", f"at byte {exc.start}") from None
    try:
        raw, end = _scan_once(text, 0)  # json.loads without its whitespace handling
        if end != len(text):
            raise ValueError
    except (StopIteration, ValueError, RecursionError):
        try:  # the exact result or error of json.loads
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise MalformedEvent("bad_json", str(exc)[:120]) from None
    if not isinstance(raw, dict):
        raise MalformedEvent("not_an_object", type(raw).__name__)
    return raw


def _check(raw: dict[str, Any]) -> tuple[datetime, datetime]:
    """Raise `MalformedEvent` for the first problem; return (occurred_at, published_at)."""
    stamps = _check_usual(raw)
    return stamps if stamps is not None else _check_each(raw)


def _check_usual(raw: dict[str, Any]) -> tuple[datetime, datetime] | None:  # noqa: PLR0911
    """The times of an event that is plainly valid, checked in bulk; None when in any doubt
    (then `_check_each` decides, and names the problem). Accepts only what it would accept."""
    version = raw.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        return None
    try:
        values = _string_fields(raw)
        seq = raw["seq"]
        joined = "".join(values)  # TypeError unless all are strings
    except (KeyError, TypeError):
        return None
    if "\x00" in joined or not joined.isascii():
        return None
    if min(map(len, values)) == 0 or max(map(len, values)) > _MAX_TEXT:
        return None
    if type(seq) is not int or not 0 <= seq < 2**63 or values[7] not in OUTCOMES:
        return None
    if not _CANONICAL_UUID(values[0]) or not _DOTTED_IPV4(values[8]):
        return None
    try:
        occurred = datetime.fromisoformat(values[2])
        published = datetime.fromisoformat(values[3])
    except ValueError:
        return None
    if occurred.tzinfo is None or published.tzinfo is None:
        return None
    return occurred, published


def _check_each(raw: dict[str, Any]) -> tuple[datetime, datetime]:  # noqa: PLR0912 - flat list
    """One check after the other, in a fixed order: the first problem is the one named."""
    if "schema_version" not in raw:
        raise MalformedEvent("missing_field", "schema_version")
    version = raw["schema_version"]
    if type(version) is not int:
        raise MalformedEvent("wrong_type", "schema_version must be an integer")
    if version != SCHEMA_VERSION:
        raise MalformedEvent("unknown_schema_version", str(version)[:20])
    for name in _REQUIRED:
        if name not in raw:
            raise MalformedEvent("missing_field", name)
    for name in STRING_FIELDS:
        value = raw[name]
        if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
            raise MalformedEvent("wrong_type", f"{name} must be a non-empty string")
        if "\x00" in value:
            raise MalformedEvent("wrong_type", f"{name} contains NUL")
        if not value.isascii():
            try:
                value.encode("utf-8")  # a JSON-escaped lone surrogate decodes but cannot be stored
            except UnicodeEncodeError:
                raise MalformedEvent("wrong_type", f"{name} is not valid Unicode") from None
    seq = raw["seq"]
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise MalformedEvent("wrong_type", "seq must be a non-negative integer")
    if raw["outcome"] not in OUTCOMES:
        raise MalformedEvent("wrong_type", "outcome is not one of " + ",".join(OUTCOMES))
    if not _CANONICAL_UUID(raw["event_id"]):
        try:
            uuid.UUID(raw["event_id"])
        except ValueError:
            raise MalformedEvent("wrong_type", "event_id must be a UUID") from None
    stamps = []
    for name in ("occurred_at", "published_at"):
        try:
            stamp = datetime.fromisoformat(raw[name])
        except ValueError:
            raise MalformedEvent("wrong_type", f"{name} must be an ISO-8601 time") from None
        if stamp.tzinfo is None:
            raise MalformedEvent("wrong_type", f"{name} must carry a UTC offset")
        stamps.append(stamp)
    if not _DOTTED_IPV4(raw["source_ip"]):
        try:
            ipaddress.ip_address(raw["source_ip"])
        except ValueError:
            raise MalformedEvent("wrong_type", "source_ip must be an IP address") from None
    return stamps[0], stamps[1]
