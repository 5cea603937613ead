"""notification-service: payload validation and the de-duplication state machine (pure logic)."""

from __future__ import annotations

import pytest

from auditflow.notification.model import (
    IncomingAlert,
    InvalidPayload,
    Status,
    apply,
    parse_alert,
    parse_alertmanager,
)

T0, T1, T2, T3 = (f"2024-05-01T10:00:0{i}.000000+00:00" for i in range(4))


def alert(status: Status = "firing", starts_at: str | None = None) -> IncomingAlert:
    return IncomingAlert(
        source="audit-log-analysis",
        name="FailedLoginBurst",
        severity="warning",
        fingerprint="actor:alice",
        summary="5 failed logins",
        labels={"actor": "alice"},
        status=status,
        starts_at=starts_at,
    )


def valid_body() -> dict[str, object]:
    return {
        "source": "audit-log-analysis",
        "name": "FailedLoginBurst",
        "severity": "warning",
        "fingerprint": "actor:alice",
        "summary": "5 failed logins in 60 s",
        "labels": {"actor": "alice"},
        "correlation_id": "abc123",
    }


def am_body(*alerts: dict[str, object]) -> dict[str, object]:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "notification-service",
        "groupKey": '{}:{alertname="X"}',
        "alerts": list(alerts),
    }


def am_alert(status: str = "firing", **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "status": status,
        "labels": {"alertname": "AuditAnalysisDown", "severity": "critical", "job": "x"},
        "annotations": {"summary": "analysis is down", "description": "long"},
        "startsAt": "2024-05-01T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "0123abcd",
    }
    base.update(over)
    return base


def test_first_firing_creates_with_count_one() -> None:
    """A first firing notification creates a firing record with count 1 stamped with now."""
    record, outcome = apply(None, alert(), T0)
    assert outcome == "created"
    assert (record.status, record.count) == ("firing", 1)
    assert record.first_received_at == record.last_received_at == record.created_at == T0


def test_repeat_firing_is_deduplicated() -> None:
    """A repeated firing bumps count and last_received_at but keeps first_received_at."""
    first, _ = apply(None, alert(), T0)
    second, outcome = apply(first, alert(), T1)
    assert outcome == "deduplicated"
    assert second.count == 2
    assert second.first_received_at == T0
    assert second.last_received_at == T1


def test_resolved_marks_resolved_without_counting() -> None:
    """A resolved notification for a firing alert resolves it and leaves count unchanged."""
    first, _ = apply(None, alert(), T0)
    done, outcome = apply(first, alert("resolved"), T1)
    assert outcome == "resolved"
    assert (done.status, done.count, done.resolved_at) == ("resolved", 1, T1)


def test_repeat_resolved_is_deduplicated() -> None:
    """A second resolved notification is a duplicate and does not move resolved_at."""
    first, _ = apply(None, alert(), T0)
    done, _ = apply(first, alert("resolved"), T1)
    again, outcome = apply(done, alert("resolved"), T2)
    assert outcome == "deduplicated"
    assert again.resolved_at == T1
    assert again.last_received_at == T2


def test_firing_after_resolution_reopens_with_new_episode_time() -> None:
    """Firing after resolution re-opens: count up, resolved_at cleared, new first_received_at."""
    first, _ = apply(None, alert(), T0)
    done, _ = apply(first, alert("resolved"), T1)
    again, outcome = apply(done, alert(), T2)
    assert outcome == "reopened"
    assert (again.status, again.count, again.resolved_at) == ("firing", 2, None)
    assert again.first_received_at == T2
    assert again.created_at == T0


def test_new_starts_at_while_firing_is_a_new_episode() -> None:
    """A firing with a different Alertmanager startsAt means a missed resolution: re-open."""
    first, _ = apply(None, alert(starts_at="2024-05-01T09:00:00Z"), T0)
    again, outcome = apply(first, alert(starts_at="2024-05-01T09:30:00Z"), T1)
    assert outcome == "reopened"
    assert again.first_received_at == T1
    same, outcome2 = apply(again, alert(starts_at="2024-05-01T09:30:00Z"), T2)
    assert outcome2 == "deduplicated"
    assert same.first_received_at == T1


def test_resolved_for_unknown_alert_is_stored_resolved() -> None:
    """A resolution for an alert never seen firing is stored resolved with count 0."""
    record, outcome = apply(None, alert("resolved"), T0)
    assert outcome == "resolved"
    assert (record.status, record.count) == ("resolved", 0)


def test_parse_alert_accepts_valid_body() -> None:
    """A complete alert body parses into a firing IncomingAlert carrying its correlation id."""
    parsed = parse_alert(valid_body())
    assert parsed.status == "firing"
    assert parsed.correlation_id == "abc123"
    assert parsed.labels == {"actor": "alice"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", None),
        ("source", ""),
        ("source", "has space"),
        ("name", 5),
        ("severity", ""),
        ("fingerprint", "x" * 500),
        ("summary", ["not", "text"]),
        ("labels", "nope"),
        ("status", "open"),
    ],
)
def test_parse_alert_names_bad_field(field: str, value: object) -> None:
    """Each bad or missing field is rejected with an error naming exactly that field."""
    body = valid_body()
    if value is None:
        del body[field]
    else:
        body[field] = value
    with pytest.raises(InvalidPayload) as info:
        parse_alert(body)
    assert info.value.field == field


def test_parse_alert_label_value_must_be_string() -> None:
    """A non-string label value is rejected naming labels.<key>."""
    body = valid_body()
    body["labels"] = {"actor": 7}
    with pytest.raises(InvalidPayload) as info:
        parse_alert(body)
    assert info.value.field == "labels.actor"


def test_parse_alert_rejects_non_object() -> None:
    """A JSON array body is rejected as 'body'."""
    with pytest.raises(InvalidPayload) as info:
        parse_alert([1, 2])
    assert info.value.field == "body"


def test_parse_alertmanager_maps_fields() -> None:
    """A v4 webhook alert maps alertname, severity, summary, startsAt; zero endsAt becomes None."""
    [parsed] = parse_alertmanager(am_body(am_alert()))
    assert parsed.source == "alertmanager"
    assert parsed.name == "AuditAnalysisDown"
    assert parsed.severity == "critical"
    assert parsed.summary == "analysis is down"
    assert parsed.starts_at == "2024-05-01T10:00:00.123456789Z"
    assert parsed.ends_at is None
    assert parsed.fingerprint == "0123abcd"


def test_parse_alertmanager_rejects_wrong_version() -> None:
    """Only webhook payload version "4" is accepted."""
    body = am_body(am_alert())
    body["version"] = "3"
    with pytest.raises(InvalidPayload) as info:
        parse_alertmanager(body)
    assert info.value.field == "version"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"status": "pending"}, "alerts[1].status"),
        ({"fingerprint": ""}, "alerts[1].fingerprint"),
        ({"labels": {"severity": "critical"}}, "alerts[1].labels.alertname"),
        ({"startsAt": "yesterday"}, "alerts[1].startsAt"),
    ],
)
def test_parse_alertmanager_names_bad_alert_field(over: dict[str, object], field: str) -> None:
    """A bad field in the second alert of a webhook is reported with its index and name."""
    with pytest.raises(InvalidPayload) as info:
        parse_alertmanager(am_body(am_alert(), am_alert() | over))
    assert info.value.field == field
