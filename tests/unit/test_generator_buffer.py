"""The generator's pending buffer, pacing and wire encoding, as pure logic."""

from __future__ import annotations

import pamqp.frame
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from auditflow.events import CONTENT_TYPE, decode
from auditflow.generator.amqp_wire import publish_frames
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.factory import EventFactory
from auditflow.generator.pacing import Pacer
from auditflow.generator.publisher import encode_event

FACTORY = EventFactory("test-run")


def _fill(buffer: PendingBuffer, seqs: range) -> None:
    for seq in seqs:
        assert buffer.add(FACTORY.make(seq))


def test_buffer_is_bounded_and_refuses_when_full() -> None:
    """A full buffer refuses new events (the caller pauses) and keeps exactly its capacity."""
    buffer = PendingBuffer(3)
    _fill(buffer, range(1, 4))
    assert buffer.full
    assert not buffer.add(FACTORY.make(4))
    assert len(buffer) == 3


def test_in_flight_events_still_count_against_capacity() -> None:
    """Published-but-unconfirmed events occupy the buffer until confirmed."""
    buffer = PendingBuffer(2)
    _fill(buffer, range(1, 3))
    buffer.take(2)
    assert not buffer.add(FACTORY.make(3))
    assert buffer.confirm(1)
    assert buffer.add(FACTORY.make(3))


def test_take_hands_out_lowest_seq_first() -> None:
    """Waiting events are published in sequence order."""
    buffer = PendingBuffer(10)
    _fill(buffer, range(1, 6))
    assert [e.seq for e in buffer.take(3)] == [1, 2, 3]
    assert [e.seq for e in buffer.take(10)] == [4, 5]


def test_retried_event_goes_before_newer_ones() -> None:
    """A nacked event is re-published before events generated after it, same event id."""
    buffer = PendingBuffer(10)
    _fill(buffer, range(1, 4))
    first = buffer.take(2)
    assert buffer.retry(1)
    again = buffer.take(2)
    assert [e.seq for e in again] == [1, 3]
    assert again[0].event_id == first[0].event_id


def test_connection_loss_requeues_everything_in_flight() -> None:
    """Losing the connection puts every unconfirmed event back, nothing is lost."""
    buffer = PendingBuffer(10)
    _fill(buffer, range(1, 6))
    buffer.take(4)
    assert buffer.retry_all_in_flight() == 4
    assert buffer.in_flight == 0
    assert [e.seq for e in buffer.take(10)] == [1, 2, 3, 4, 5]


def test_late_or_duplicate_confirm_is_ignored() -> None:
    """A confirm for an event not in flight changes nothing (no double count)."""
    buffer = PendingBuffer(10)
    _fill(buffer, range(1, 3))
    buffer.take(1)
    assert buffer.confirm(1)
    assert not buffer.confirm(1)
    assert not buffer.confirm(2)  # waiting, not in flight
    assert len(buffer) == 1


@given(st.lists(st.sampled_from(["add", "take", "confirm", "nack", "lose"]), max_size=200))
def test_buffer_never_loses_or_duplicates(ops: list[str]) -> None:
    """Under any interleaving, every generated event is either confirmed once or still held."""
    buffer = PendingBuffer(20)
    next_seq = 1
    confirmed: set[int] = set()
    in_flight: list[int] = []
    for op in ops:
        if op == "add":
            if buffer.add(FACTORY.make(next_seq)):
                next_seq += 1
        elif op == "take":
            in_flight.extend(e.seq for e in buffer.take(3))
        elif op in {"confirm", "nack"} and in_flight:
            seq = in_flight.pop(0)
            if op == "confirm":
                assert buffer.confirm(seq)
                assert seq not in confirmed
                confirmed.add(seq)
            else:
                buffer.retry(seq)
        elif op == "lose":
            buffer.retry_all_in_flight()
            in_flight.clear()
        assert len(buffer) <= 20
    held = {e.seq for e in buffer.take(100)} | set(in_flight)
    assert confirmed.isdisjoint(held)
    assert confirmed | held == set(range(1, next_seq))


def test_pacer_earns_rate_times_elapsed() -> None:
    """At 8000/s, 10 ms ticks owe 80 events each and a second owes 8000."""
    pacer = Pacer(8000, now=0.0)
    total = 0
    for tick in range(1, 101):
        owed = pacer.owed(tick * 0.01)
        pacer.spend(owed)
        total += owed
    assert total == pytest.approx(8000, abs=1)


def test_pacer_caps_debt_after_a_stall() -> None:
    """After a long pause the generator does not burst out the whole backlog."""
    pacer = Pacer(1000, now=0.0)
    assert pacer.owed(60.0) <= 500


def test_pacer_rate_zero_pauses() -> None:
    """Rate 0 owes nothing however long it waits."""
    pacer = Pacer(0, now=0.0)
    assert pacer.owed(100.0) == 0


def test_fast_encoding_matches_event_encode() -> None:
    """The generator's encoder produces a body that decodes to the event with the new stamp."""
    event = FACTORY.make(42)
    stamp = "2030-01-01T00:00:00+00:00"
    decoded = decode(encode_event(event, stamp), CONTENT_TYPE)
    assert decoded.published_at == stamp
    assert decoded.event_id == event.event_id
    assert decoded.seq == 42


def test_wire_frames_identical_to_pamqp() -> None:
    """Hand-encoded publish frames are byte-identical to pamqp's, including split bodies."""
    body = b'{"x":"' + b"y" * 300 + b'"}'
    props = spec.Basic.Properties(
        content_type=CONTENT_TYPE,
        delivery_mode=2,
        message_id="mid",
        correlation_id="cid",
        headers={"x-correlation-id": "cid"},
    )
    expected = (
        pamqp.frame.marshal(
            spec.Basic.Publish(exchange="ex", routing_key="audit.read", mandatory=True), 5
        )
        + pamqp.frame.marshal(ContentHeader(properties=props, body_size=len(body)), 5)
        + pamqp.frame.marshal(ContentBody(body[:100]), 5)
        + pamqp.frame.marshal(ContentBody(body[100:200]), 5)
        + pamqp.frame.marshal(ContentBody(body[200:300]), 5)
        + pamqp.frame.marshal(ContentBody(body[300:]), 5)
    )
    actual = publish_frames(
        5,
        "ex",
        "audit.read",
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=2,
        message_id="mid",
        correlation_id="cid",
        header_name="x-correlation-id",
        max_body_frame=100,
    )
    assert actual == expected
