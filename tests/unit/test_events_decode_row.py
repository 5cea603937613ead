"""`decode_row` (the analysis service's decoder) validates exactly as `decode` does."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditflow.events import (
    _CANONICAL_UUID,
    _DOTTED_IPV4,
    CONTENT_TYPE,
    OUTCOMES,
    AuditEvent,
    MalformedEvent,
    decode,
    decode_row,
    event_id_for,
)

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),  # no surrogates
    min_size=1,
    max_size=30,
)


def _valid(**changes: Any) -> dict[str, Any]:
    event = {
        "event_id": event_id_for("r", 1),
        "run_id": "r",
        "seq": 1,
        "occurred_at": "2024-01-01T00:00:00+00:00",
        "published_at": "2024-01-01T00:00:00.5+02:00",
        "actor": "alice",
        "action": "login",
        "resource": "user/1",
        "outcome": "success",
        "source_ip": "10.1.2.3",
        "correlation_id": "c",
        "schema_version": 1,
    }
    event.update(changes)
    return event


def outcome(body: bytes, content_type: str | None = CONTENT_TYPE) -> Any:
    """What `decode` makes of `body`, and what `decode_row` makes of it, comparably."""
    try:
        event = decode(body, content_type)
    except MalformedEvent as exc:
        expected: Any = ("malformed", exc.reason, exc.detail)
    else:
        occurred = datetime.fromisoformat(event.occurred_at)
        published = datetime.fromisoformat(event.published_at)
        expected = (
            (
                event.event_id,
                event.run_id,
                event.seq,
                occurred,
                published,
                event.actor,
                event.action,
                event.resource,
                event.outcome,
                event.source_ip,
                event.correlation_id,
            ),
            occurred.timestamp(),
            published.timestamp(),
        )
    try:
        got: Any = decode_row(body, content_type)
    except MalformedEvent as exc:
        got = ("malformed", exc.reason, exc.detail)
    return expected, got


def test_valid_event_row() -> None:
    row, occurred, published = decode_row(json.dumps(_valid()).encode(), CONTENT_TYPE)
    assert row[0] == event_id_for("r", 1)
    assert row[2] == 1
    assert row[3] == datetime(2024, 1, 1, tzinfo=UTC)
    assert occurred == row[3].timestamp()
    assert published == row[4].timestamp() == occurred + 0.5 - 7200
    assert row[5:] == ("alice", "login", "user/1", "success", "10.1.2.3", "c")


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "not-a-uuid"},
        {"event_id": event_id_for("r", 1).upper()},
        {"event_id": "{" + event_id_for("r", 1) + "}"},
        {"event_id": "urn:uuid:" + event_id_for("r", 1)},
        {"event_id": event_id_for("r", 1).replace("-", "")},
        {"event_id": event_id_for("r", 1) + "\n"},
        {"source_ip": "::1"},
        {"source_ip": "010.0.0.1"},
        {"source_ip": "256.0.0.1"},
        {"source_ip": "1.2.3.4\n"},
        {"source_ip": "1.2.3"},
        {"source_ip": "0.0.0.0"},
        {"source_ip": "٣.1.1.1"},  # a non-ASCII digit
        {"occurred_at": "2024-01-01T00:00:00"},
        {"published_at": "yesterday"},
        {"outcome": "maybe"},
        {"seq": -1},
        {"seq": True},
        {"schema_version": 2},
        {"actor": ""},
        {"actor": "a\x00"},
        {"actor": "\ud800"},
    ],
)
def test_same_verdict_as_decode(changes: dict[str, Any]) -> None:
    expected, got = outcome(json.dumps(_valid(**changes)).encode())
    assert got == expected


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff", CONTENT_TYPE),
        (b"[1]", CONTENT_TYPE),
        (b"{", CONTENT_TYPE),
        (b"{}", "text/plain"),
        (b"{}", "application/json; charset=utf-8"),
        (b"{}", None),
        (b"x" * 70_000, CONTENT_TYPE),
    ],
)
def test_same_verdict_on_bad_bodies(body: bytes, content_type: str | None) -> None:
    expected, got = outcome(body, content_type)
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(_valid())),
        st.one_of(text, st.integers(), st.none(), st.ip_addresses().map(str), st.uuids().map(str)),
    )
)
def test_fuzz_same_verdict(changes: dict[str, Any]) -> None:
    expected, got = outcome(json.dumps(_valid(**changes)).encode())
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=4))
def test_every_ipv4_address_takes_the_fast_path(address: ipaddress.IPv4Address) -> None:
    assert _DOTTED_IPV4(str(address))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.", max_size=16))
def test_fast_ipv4_acceptance_implies_ipaddress_acceptance(value: str) -> None:
    if _DOTTED_IPV4(value):
        assert str(ipaddress.ip_address(value)) == value


@settings(max_examples=300, deadline=None)
@given(st.uuids(), st.booleans())
def test_fast_uuid_acceptance(value: uuid.UUID, upper: bool) -> None:
    spelled = str(value).upper() if upper else str(value)
    assert _CANONICAL_UUID(spelled)
    assert uuid.UUID(spelled) == value


@given(st.text(alphabet="0123456789abcdefABCDEF-{}xg", max_size=40))
def test_fast_uuid_acceptance_implies_uuid_acceptance(value: str) -> None:
    if _CANONICAL_UUID(value):
        uuid.UUID(value)


def test_outcomes_and_event_type_unchanged() -> None:
    event = decode(json.dumps(_valid()).encode(), CONTENT_TYPE)
    assert isinstance(event, AuditEvent)
    assert event.outcome in OUTCOMES
