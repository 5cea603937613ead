"""Property tests for the audit event codec: round-trips, and every malformed kind is named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditflow.events import (
    CONTENT_TYPE,
    OUTCOMES,
    REASONS,
    AuditEvent,
    MalformedEvent,
    decode,
    event_id_for,
)

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),  # no surrogates
    min_size=1,
    max_size=40,
)
stamps = st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(lambda d: d.isoformat())
ips = st.ip_addresses().map(str)


@st.composite
def events(draw: st.DrawFn) -> AuditEvent:
    run_id = draw(text)
    seq = draw(st.integers(min_value=0, max_value=2**63 - 1))
    return AuditEvent(
        event_id=event_id_for(run_id, seq),
        run_id=run_id,
        seq=seq,
        occurred_at=draw(stamps),
        published_at=draw(stamps),
        actor=draw(text),
        action=draw(text),
        resource=draw(text),
        outcome=draw(st.sampled_from(OUTCOMES)),
        source_ip=draw(ips),
        correlation_id=draw(text),
    )


def _valid() -> dict[str, Any]:
    return {
        "event_id": event_id_for("r", 1),
        "run_id": "r",
        "seq": 1,
        "occurred_at": "2024-01-01T00:00:00+00:00",
        "published_at": "2024-01-01T00:00:00.5+00:00",
        "actor": "alice",
        "action": "login",
        "resource": "user/1",
        "outcome": "success",
        "source_ip": "10.0.0.1",
        "correlation_id": "abc",
        "schema_version": 1,
    }


def _reason(body: bytes, content_type: str | None = CONTENT_TYPE, max_bytes: int = 65536) -> str:
    with pytest.raises(MalformedEvent) as caught:
        decode(body, content_type, max_bytes)
    assert caught.value.reason in REASONS
    return caught.value.reason


@given(events())
def test_valid_events_round_trip(event: AuditEvent) -> None:
    """Any valid event encodes and decodes back to an equal event."""
    assert decode(event.encode(), CONTENT_TYPE) == event


def test_deterministic_event_id() -> None:
    """The same (run_id, seq) always yields the same event id; different seqs differ."""
    assert event_id_for("run", 7) == event_id_for("run", 7)
    assert event_id_for("run", 7) != event_id_for("run", 8)


@given(st.binary(min_size=1, max_size=200).filter(lambda b: not _is_json(b)))
def test_bad_json_is_named(body: bytes) -> None:
    """Unparseable (but valid UTF-8) bodies are rejected as bad_json or invalid_utf8."""
    assert _reason(body) in {"bad_json", "invalid_utf8"}


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def test_invalid_utf8_is_named() -> None:
    """A body that is not UTF-8 is rejected as invalid_utf8."""
    assert _reason(b'{"a": "\xff\xfe"}') == "invalid_utf8"


def test_oversized_is_named() -> None:
    """A body above the limit is rejected as oversized before parsing."""
    assert _reason(json.dumps(_valid()).encode(), max_bytes=10) == "oversized"


@given(st.text(min_size=1, max_size=30).filter(lambda t: t.split(";")[0].strip() != CONTENT_TYPE))
def test_wrong_content_type_is_named(content_type: str) -> None:
    """Any content type other than application/json is rejected as wrong_content_type."""
    assert _reason(json.dumps(_valid()).encode(), content_type) == "wrong_content_type"


@given(st.one_of(st.lists(st.integers()), st.integers(), st.text(), st.none(), st.booleans()))
def test_non_object_is_named(value: object) -> None:
    """JSON that is not an object is rejected as not_an_object."""
    assert _reason(json.dumps(value).encode()) == "not_an_object"


@given(st.integers().filter(lambda v: v != 1))
def test_unknown_schema_version_is_named(version: int) -> None:
    """A schema_version other than 1 is rejected as unknown_schema_version."""
    payload = _valid() | {"schema_version": version}
    assert _reason(json.dumps(payload).encode()) == "unknown_schema_version"


@given(st.sampled_from(sorted(_valid())))
def test_missing_field_is_named(field: str) -> None:
    """Dropping any field is rejected as missing_field."""
    payload = _valid()
    del payload[field]
    assert _reason(json.dumps(payload).encode()) == "missing_field"


@given(
    st.sampled_from(sorted(set(_valid()) - {"schema_version"})),
    st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.integers()), st.none()),
)
def test_wrong_type_is_named(field: str, value: object) -> None:
    """A field holding a value of the wrong type is rejected as wrong_type."""
    if field == "seq" and type(value) is int and 0 <= value < 2**63:
        return
    payload = _valid() | {field: value}
    assert _reason(json.dumps(payload).encode()) == "wrong_type"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "not-a-uuid"),
        ("occurred_at", "yesterday"),
        ("published_at", "2024-01-01T00:00:00"),  # no offset
        ("source_ip", "999.1.1.1"),
        ("outcome", "maybe"),
        ("actor", ""),
        ("actor", "a\x00b"),
        ("seq", -1),
        ("seq", True),
        ("schema_version", "1"),
    ],
)
def test_wrong_format_is_named(field: str, value: object) -> None:
    """Strings in the wrong format, empty, NUL-bearing or mis-typed are rejected as wrong_type."""
    payload = _valid() | {field: value}
    assert _reason(json.dumps(payload).encode()) == "wrong_type"


@settings(max_examples=500)
@given(st.binary(max_size=300), st.one_of(st.none(), st.just(CONTENT_TYPE), st.text(max_size=20)))
def test_fuzz_only_malformed_or_valid(body: bytes, content_type: str | None) -> None:
    """Arbitrary bytes either decode to an event or raise MalformedEvent, never anything else."""
    try:
        decode(body, content_type)
    except MalformedEvent as exc:
        assert exc.reason in REASONS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(_valid())), json_values, max_size=12))
def test_fuzz_structured_only_malformed_or_valid(fields: dict[str, Any]) -> None:
    """Objects with arbitrary field values either decode or raise MalformedEvent only."""
    body = json.dumps(_valid() | fields).encode()
    try:
        decode(body, CONTENT_TYPE)
    except MalformedEvent as exc:
        assert exc.reason in REASONS


def test_lone_surrogate_is_wrong_type() -> None:
    """A JSON-escaped lone surrogate (unstorable text) is rejected as wrong_type, not stored."""
    body = json.dumps(_valid() | {"actor": "\ud800"}).encode()
    assert _reason(body) == "wrong_type"
