"""Malformed messages of every kind end in the dead-letter queue with a reason, and the consumer
keeps running and storing valid events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pika
import pytest

from auditflow import topology
from auditflow.events import AuditEvent, event_id_for
from tests.support import wait_for

pytestmark = pytest.mark.integration


def valid_event(run_id: str, seq: int, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    event = AuditEvent(
        event_id=event_id_for(run_id, seq),
        run_id=run_id,
        seq=seq,
        occurred_at=now,
        published_at=now,
        actor="test-actor",
        action="read",
        resource="doc/1",
        outcome="success",
        source_ip="127.0.0.1",
        correlation_id=uuid.uuid4().hex,
    )
    raw: dict[str, object] = json.loads(event.encode())
    raw.update(overrides)
    return raw


def malformed_messages(nonce: str) -> dict[str, tuple[bytes, str]]:
    """Each kind of malformed message → (body, content type); every body contains the nonce."""
    run = f"malformed-{nonce}"
    missing = valid_event(run, 3)
    del missing["actor"]
    return {
        "bad_json": (b'{"nonce": "' + nonce.encode() + b'", ', "application/json"),
        "wrong_type": (
            json.dumps((valid_event(run, 1) | {"seq": "one"}) | {"n": nonce}).encode(),
            "application/json",
        ),
        "missing_field": (json.dumps(missing | {"n": nonce}).encode(), "application/json"),
        "invalid_utf8": (b"\xff\xfe" + nonce.encode() + b"\xc3\x28", "application/json"),
        "oversized": (
            json.dumps(valid_event(run, 4, resource="x" * 70_000) | {"n": nonce}).encode(),
            "application/json",
        ),
        "unknown_schema_version": (
            json.dumps(valid_event(run, 5, schema_version=99) | {"n": nonce}).encode(),
            "application/json",
        ),
        "wrong_content_type": (
            json.dumps(valid_event(run, 6) | {"n": nonce}).encode(),
            "text/plain",
        ),
        "not_an_object": (json.dumps([nonce, 1, 2]).encode(), "application/json"),
    }


def test_malformed_messages_are_dead_lettered_with_reason_and_consumer_survives(live):
    """Every malformed kind reaches the DLQ with its reason header; the analysis process keeps
    its PID and stores a valid event published right after."""
    nonce = uuid.uuid4().hex
    pid_before = live.sandbox.supervisor.process("audit-log-analysis").pid
    messages = malformed_messages(nonce)
    connection = pika.BlockingConnection(pika.URLParameters(live.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for kind, (body, content_type) in messages.items():
            channel.basic_publish(
                topology.EXCHANGE,
                topology.routing_key("read"),
                body,
                pika.BasicProperties(
                    content_type=content_type,
                    delivery_mode=2,
                    headers={topology.CORRELATION_HEADER: f"{nonce}-{kind}"},
                ),
            )
        good = valid_event(f"valid-{nonce}", 1)
        channel.basic_publish(
            topology.EXCHANGE,
            topology.routing_key("read"),
            json.dumps(good).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2),
        )

        found: dict[str, dict[str, object]] = {}

        def drain_dlq() -> bool:
            while True:
                method, properties, body = channel.basic_get(topology.DEAD_LETTER_QUEUE)
                if method is None:
                    break
                channel.basic_ack(method.delivery_tag)
                if nonce.encode() in body:
                    for kind, (sent, _) in messages.items():
                        if body == sent:
                            found[kind] = dict(properties.headers or {})
            return len(found) == len(messages)

        wait_for(drain_dlq, 30, f"all {len(messages)} malformed messages in the DLQ")
    finally:
        connection.close()

    for kind, headers in found.items():
        assert headers.get(topology.REASON_HEADER) == kind, (kind, headers)
        assert headers.get(topology.DETAIL_HEADER)

    def stored() -> bool:
        with live.pg() as conn:
            row = conn.execute(
                "SELECT count(*) FROM audit_events WHERE event_id = %s", (good["event_id"],)
            ).fetchone()
        return bool(row and row[0] == 1)

    wait_for(stored, 15, "the valid event after the malformed ones to be stored")
    info = live.sandbox.supervisor.process("audit-log-analysis")
    assert info.state == "RUNNING"
    assert info.pid == pid_before, "the consumer restarted while handling malformed messages"
    assert live.healthy("audit-log-analysis")
