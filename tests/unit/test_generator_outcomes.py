"""The generator's per-seq publish outcomes: interval sets, the bounded history, the final
status Jepsen-style (a confirm lost with the connection is `info`), and `/admin/outcomes`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aio_pika.exceptions import DeliveryError
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands as spec

from auditflow.generator.admin import add_routes
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.factory import EventFactory
from auditflow.generator.outcomes import PublishHistory
from auditflow.generator.publisher import Publisher
from auditflow.generator.seq_ranges import SeqRanges
from auditflow.generator.service import Generator

FACTORY = EventFactory("run-o")


@given(st.lists(st.integers(1, 200), max_size=300), st.integers(0, 210), st.integers(0, 210))
def test_seq_ranges_hold_exactly_the_added_numbers(seqs: list[int], a: int, b: int) -> None:
    """Whatever the order of additions, membership and range counts match a plain set, and the
    intervals are as few as the numbers' runs."""
    ranges = SeqRanges()
    for seq in seqs:
        ranges.add(seq)
    members = set(seqs)
    assert all((n in ranges) == (n in members) for n in range(0, 202))
    first, last = min(a, b), max(a, b)
    assert ranges.count(first, last) == len([n for n in members if first <= n <= last])
    runs = len([n for n in members if n - 1 not in members])
    assert ranges.intervals == runs


def test_seq_ranges_forget_through_cuts_inside_an_interval() -> None:
    ranges = SeqRanges()
    for seq in (*range(1, 11), *range(20, 31)):
        ranges.add(seq)
    ranges.forget_through(5)
    assert ranges.count(1, 100) == 5 + 11 and 5 not in ranges and 6 in ranges
    ranges.forget_through(25)
    assert ranges.count(1, 100) == 5 and ranges.intervals == 1


def test_history_is_bounded_and_says_from_where_it_knows() -> None:
    """Every other seq confirmed (the worst pattern for intervals): the sets never hold more
    than the bound, and `known_from` moves past what was forgotten."""
    history = PublishHistory(max_intervals=100)
    for seq in range(1, 10_000, 2):
        history.ok(seq)
        history.unknown(seq)
    assert history.confirmed.intervals <= 100 and history.had_info.intervals <= 100
    assert history.known_from > 1
    assert history.confirmed.count(1, history.known_from - 1) == 0
    assert 9_999 in history.confirmed


def _make_publisher(seqs: range) -> tuple[Generator, PendingBuffer, Publisher]:
    buffer = PendingBuffer(100)
    publisher = Publisher("amqp://unused", buffer)
    generator = Generator("run-o", 0.0, buffer, publisher)
    for seq in seqs:
        buffer.add(FACTORY.make(seq))
    generator.last_seq = seqs[-1]
    return generator, buffer, publisher


def _in_flight(publisher: Publisher, buffer: PendingBuffer, count: int) -> list[Any]:
    """Take `count` waiting events and register a confirm future for each, as `_send` does."""
    loop = asyncio.get_running_loop()
    futures = []
    for event in buffer.take(count):
        future = loop.create_future()
        publisher._pending[future] = (event, loop.time() + 10)
        future.add_done_callback(publisher._settle)
        futures.append(future)
    return futures


def test_a_connection_drop_mid_confirm_leaves_the_unconfirmed_seqs_info() -> None:
    """Seqs 1-5 published; 1 and 2 confirmed; the connection drops before 3-5 are: 3-5 are
    `info` — not ok, not gone. Re-published after the reconnect: 3 confirmed (ok, had_info),
    4 nacked (still info: its first attempt may be queued), 5 in flight (info). Seq 6 is only
    ever nacked (fail), seq 7 never published (unpublished)."""

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        generator, buffer, publisher = _make_publisher(range(1, 8))
        futures = _in_flight(publisher, buffer, 5)
        futures[0].set_result(spec.Basic.Ack(1))
        futures[1].set_result(spec.Basic.Ack(2))
        await asyncio.sleep(0)
        await publisher._teardown()  # the broker connection is gone, confirms 3-5 with it
        after_drop = generator.outcomes(1, 7)
        again = _in_flight(publisher, buffer, 4)  # lowest seqs first: 3, 4, 5, then 6
        assert [publisher._pending[f][0].seq for f in again] == [3, 4, 5, 6]
        again[0].set_result(spec.Basic.Ack(3))
        again[1].set_exception(DeliveryError(None, spec.Basic.Nack(4)))
        again[3].set_exception(DeliveryError(None, spec.Basic.Nack(6)))
        await asyncio.sleep(0)
        return after_drop, generator.outcomes(1, 7)

    after_drop, later = asyncio.run(run())
    assert (after_drop["ok"], after_drop["info"], after_drop["fail"]) == (2, 3, 0)
    assert after_drop["info_seqs"] == [[3, 5]]
    assert after_drop["had_info"] == 3
    assert later["ok"] == 3 and later["had_info"] == 3
    assert later["info_seqs"] == [[4, 5]]
    assert later["fail_seqs"] == [[6, 6]] and later["had_fail"] == 2  # 4 and 6 were nacked
    assert later["unpublished_seqs"] == [[7, 7]]
    assert later["ok"] + later["info"] + later["fail"] + later["unpublished"] == 7


def test_unpublished_and_out_of_range_seqs() -> None:
    """Generated but never taken: unpublished. A range beyond the last seq is clipped."""
    generator, buffer, _ = _make_publisher(range(1, 11))
    buffer.take(4)  # 1-4 in flight: info until their confirms come
    answer = generator.outcomes(3, 50)
    assert answer["generated"] == 8
    assert answer["info_seqs"] == [[3, 4]] and answer["unpublished_seqs"] == [[5, 10]]
    assert not answer["truncated"]


def test_outcomes_report_cuts_long_lists_and_says_so() -> None:
    from auditflow.generator.outcomes import report

    history = PublishHistory()
    unconfirmed = dict.fromkeys(range(1, 40, 2), False)  # 20 separate unpublished seqs
    answer = report(history, unconfirmed, "r", 40, 1, 40, limit=5)
    assert len(answer["unpublished_seqs"]) == 5 and answer["truncated"]
    assert answer["unpublished"] == 20  # the count stays exact


@pytest.mark.parametrize(
    ("query", "headers", "status", "needle"),
    [
        ("first=1&last=5", {}, 401, "bearer token"),
        ("first=1&last=5", {"Authorization": "Bearer wrong"}, 401, "bearer token"),
        ("last=5", {"Authorization": "Bearer t0k"}, 400, '"first" is required'),
        ("first=x&last=5", {"Authorization": "Bearer t0k"}, 400, "must be an integer"),
        ("first=0&last=5", {"Authorization": "Bearer t0k"}, 400, "between 1 and"),
        ("first=9&last=5", {"Authorization": "Bearer t0k"}, 400, "must be >="),
        ("first=1&last=5", {"Authorization": "Bearer t0k"}, 200, ""),
    ],
)
def test_admin_outcomes_needs_the_token_and_valid_seqs(query, headers, status, needle) -> None:
    async def run() -> tuple[int, str]:
        generator, _, _ = _make_publisher(range(1, 6))
        app = web.Application()
        add_routes(app, generator, "t0k")
        async with TestClient(TestServer(app)) as client:
            response = await client.get(f"/admin/outcomes?{query}", headers=headers)
            return response.status, await response.text()

    got_status, text = asyncio.run(run())
    assert got_status == status
    body = json.loads(text)
    if status == 200:
        assert body["run_id"] == "run-o" and body["unpublished_seqs"] == [[1, 5]]
    else:
        assert needle in body["error"]
