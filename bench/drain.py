"""drain: events/s the analysis service drains from a backlog, with full processing.

    .venv/bin/python bench/drain.py [--events 200000] [--profile out.txt]

With the analysis service stopped, the generator publishes a burst (confirmed by the broker) that
lands both in `auditflow.analysis` and in a tap queue bound the same way. Baseline: a bare
consumer (no parsing, multi-ack every 500) empties the tap queue. Then the analysis service is
started and drains its queue: validate, COPY + ON CONFLICT, commit, ack, counters. The rate is
rows / (last stored_at - first stored_at) from PostgreSQL's own clock, plus the wall time from
the service's start. Ledger: every confirmed seq stored exactly once (0 lost, 0 duplicated).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _amqp import declare_tap, delete, depth, raw_consume
from _common import Bench, burst_and_confirm, emit, ledger, log, machine, sandbox, wait_until

from auditflow import topology
from auditflow.topology import QUEUE_MAX_LENGTH
from drills.sandbox import rabbitmq_policy

TAP = "bench.drain.tap"
QUEUE = "auditflow.analysis"
TARGET = 10_000


def lift_queue_bound(bench: Bench) -> None:
    """Clear the analysis queue's length bound on this private sandbox.

    The sandbox bounds `auditflow.analysis` at 30,000 messages with `reject-publish`
    (auditflow.topology.QUEUE_POLICY, the queue-full drill's limit): a 200,000-event backlog
    built with the consumer stopped would be refused past the bound and re-published by the
    generator until a consumer came, so the burst never completes. The drain rate is what this
    benchmark measures, not the bound, so its own broker runs without the policy.
    """
    program = next(p for p in bench.sandbox.programs if p.name == "rabbitmq")
    argv, env = rabbitmq_policy.command(program)
    at = argv.index("set_policy")
    clear = [*argv[:at], "clear_policy", topology.QUEUE_POLICY_NAME]
    subprocess.run(clear, env=env, check=True, capture_output=True, timeout=60)


def drain_once(bench: Bench, events: int, profile: str | None) -> dict[str, Any]:
    if events > QUEUE_MAX_LENGTH:
        lift_queue_bound(bench)
    bench.stop("audit-log-analysis")
    declare_tap(bench.amqp_url, TAP)
    log(f"publishing a backlog of {events} events (analysis stopped)")
    run_id, first, last, publish_s = burst_and_confirm(bench, events)
    backlog = depth(bench.amqp_url, QUEUE)
    log(f"backlog {backlog} in {QUEUE}, confirmed in {publish_s:.1f} s; raw baseline")
    raw_s = raw_consume(bench.amqp_url, TAP, last - first + 1)
    delete(bench.amqp_url, TAP)
    log(f"raw consume: {events / raw_s:.0f}/s; starting the analysis service")

    components = ("audit-log-analysis", "rabbitmq", "postgres")
    cpu_before = bench.cpu_by_component(components[1:])
    started = time.monotonic()
    bench.start("audit-log-analysis")
    spy = None
    if profile:
        pid = bench.pids()["audit-log-analysis"]
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "-p",
                str(pid),
                "-f",
                "raw",
                "-o",
                profile,
                "-r",
                "50",
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_until(
            lambda: bench.stored(run_id, first, last)[1] >= last - first + 1,
            900,
            "the backlog stored",
            every=0.25,
        )
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
    wall_s = time.monotonic() - started
    cpu_after = bench.cpu_by_component(components)
    cpu_us = {
        name: round(1e6 * (cpu_after[name] - cpu_before.get(name, 0.0)) / events, 1)
        for name in components
    }
    time.sleep(1.0)  # a redelivered duplicate would arrive within a moment
    with bench.pg() as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(stored_at) - min(stored_at)) "
            "FROM audit_events WHERE run_id = %s AND seq BETWEEN %s AND %s",
            (run_id, first, last),
        ).fetchone()
    assert row is not None  # an aggregate query always answers one row
    span_s = float(row[1] or 0.0)
    accounted = ledger(bench, run_id, first, last)
    left = depth(bench.amqp_url, QUEUE)
    return {
        "events": last - first + 1,
        "publish_confirm_seconds": round(publish_s, 2),
        "drain_events_per_second": round(accounted["stored"] / span_s, 0) if span_s else None,
        "drain_seconds_first_to_last_row": round(span_s, 2),
        "drain_wall_seconds_from_service_start": round(wall_s, 2),
        "baseline_raw_consume_events_per_second": round(events / raw_s, 0),
        "baseline_raw_consume_seconds": round(raw_s, 2),
        "cpu_microseconds_per_event": cpu_us,
        "queue_left": left,
        "ledger": accounted,
        "zero_loss_zero_duplicates": accounted["lost"] == 0
        and accounted["duplicated"] == 0
        and left == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profile", help="py-spy raw (collapsed) profile of the analysis service")
    parser.add_argument("--python", help="interpreter/wrapper for the services (A/B runs)")
    args = parser.parse_args()
    info = machine()
    with sandbox("drain", args.python) as bench:
        figures = drain_once(bench, args.events, args.profile)
    rate = figures["drain_events_per_second"] or 0
    emit(
        {
            "benchmark": "drain",
            "command": "python bench/drain.py",
            "machine": info,
            **figures,
            "ratio_to_raw_consume": round(
                rate / figures["baseline_raw_consume_events_per_second"], 3
            ),
            "target_events_per_second": TARGET,
            "target_met": rate >= TARGET and figures["zero_loss_zero_duplicates"],
        }
    )
    return 0 if figures["zero_loss_zero_duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
