"""queue-full: the analysis queue's bound reached under load, and nothing confirmed dropped.

Ground truth from the broker and the generator themselves, not from the harness's Prometheus
queries: a passive queue.declare over AMQP (pika) every 0.25 s reads the queue's ready count and
consumers; `rabbitmqctl list_queues` names the policy on the queue; the generator's own
/metrics counts the nacks. The queue must reach its bound and never exceed it (reject-publish,
not drop-head), the broker must have nacked events, and PostgreSQL must hold every confirmed
event of the run exactly once (the harness's ledger, checked by assert_drill_passed, and a psql
count here).
"""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pika
import pytest

from auditflow import topology
from drills.sandbox.rabbitmq_policy import rabbitmqctl
from tests.integration.test_drills import assert_drill_passed
from tests.integration.test_drills_more import run_drill
from tests.sampler import Sampler

pytestmark = pytest.mark.integration


class QueueWatch(Sampler):
    """Ready messages and consumers of auditflow.analysis, straight from the broker."""

    def __init__(self, live) -> None:
        super().__init__()
        self.live = live
        self.samples: list[tuple[float, int, int]] = []
        self.errors: list[str] = []

    def _run(self) -> None:
        params = pika.URLParameters(self.live.amqp_url)
        while not self.stop.is_set():
            try:
                with pika.BlockingConnection(params) as conn:
                    channel = conn.channel()
                    while not self.stop.wait(0.25):
                        ok = channel.queue_declare(topology.QUEUE, passive=True).method
                        self.samples.append((time.time(), ok.message_count, ok.consumer_count))
            except pika.exceptions.AMQPError as exc:
                self.errors.append(repr(exc))
                self.stop.wait(0.5)


def _nacks(live) -> float:
    text = httpx.get(f"{live.url('audit-event-generator')}/metrics", timeout=5).text
    match = re.search(
        r'^messages_publish_failures_total\{[^}]*reason="nack"[^}]*\} (\S+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


def _policy_of_queue(live) -> str:
    broker = next(p for p in live.sandbox.programs if p.name == "rabbitmq")
    env = {key: broker.env[key] for key in ("HOME", "ERL_EPMD_PORT", "ERL_EPMD_ADDRESS")}
    done = subprocess.run(
        [
            rabbitmqctl(broker.argv[0]),
            "-n",
            broker.env["RABBITMQ_NODENAME"],
            "-q",
            "list_queues",
            "name",
            "policy",
        ],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    return rows.get(topology.QUEUE, "").strip()


def test_queue_full_reaches_the_bound_and_drops_nothing_confirmed(live, tmp_path):
    assert _policy_of_queue(live) == topology.QUEUE_POLICY_NAME
    nacks_before = _nacks(live)
    with QueueWatch(live) as watch:
        spec, result = run_drill(live, tmp_path, "queue-full")
    print("alerts:", result.alerts)
    nacked = _nacks(live) - nacks_before
    peak = max((ready for _t, ready, _c in watch.samples), default=0)
    print(
        f"broker: peak ready {peak}, {nacked:g} publishes nacked; watch errors {watch.errors[:3]}"
    )
    assert_drill_passed(live, spec, result)
    assert result.alerts is not None and result.ledger is not None
    # The bound was reached and never passed: reject-publish refused the rest.
    assert topology.QUEUE_MAX_LENGTH * 0.99 <= peak <= topology.QUEUE_MAX_LENGTH, peak
    assert nacked > 0
    # Every event that was nacked at least once was published again and confirmed once.
    assert result.ledger.had_fail > 0, result.ledger
    # Nobody consumed while the service was stopped (AnalysisNoConsumers' premise).
    assert any(consumers == 0 for _t, _r, consumers in watch.samples)
    assert watch.samples[-1][2] >= 1, watch.samples[-1]
    with live.pg() as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT seq) FROM audit_events "
            "WHERE run_id = %s AND seq BETWEEN %s AND %s",
            (result.ledger.run_id, result.ledger.first_seq, result.ledger.last_seq),
        ).fetchone()
    assert row is not None
    assert row[0] == row[1] == result.ledger.confirmed, (row, result.ledger.confirmed)
