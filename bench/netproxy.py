"""netproxy: what the idle fault proxy costs the pipeline — drain throughput through it vs direct.

    .venv/bin/python bench/netproxy.py [--events 25000] [--rounds 4]

The sandbox keeps the analysis service's connections to RabbitMQ and PostgreSQL in the fault
proxy's path at all times (drills.netfault), so its cost with no fault active must be small:
target ≥ 95 % of the throughput without it. Measured where the proxy carries the most bytes per
second: the analysis service draining a backlog (validate, COPY + ON CONFLICT, commit, ack) as
fast as it can. In one sandbox, alternating rounds (direct, proxied, direct, proxied, …): with
the supervised service stopped, the generator publishes a burst (confirmed by the broker), then
the same service program is started by this script with its URLs pointing either at RabbitMQ and
PostgreSQL themselves or at the proxy's route ports, and drains it. Rate = rows / (last stored_at
- first stored_at), PostgreSQL's clock. Also: the proxy's CPU per event. Ledger per round: every
confirmed seq stored exactly once. A backlog stays under the analysis queue's bound (30,000
ready messages, `reject-publish`: past it the generator would re-publish until a consumer comes).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

from _amqp import depth
from _common import (
    Bench,
    burst_and_confirm,
    emit,
    ledger,
    log,
    machine,
    sandbox,
    wait_until,
)

from drills.sandbox.connections import amqp_url, pg_dsn
from drills.sandbox.procfs import tree_cpu_seconds
from drills.sandbox.programs import ANALYSIS_HEARTBEAT_S

QUEUE = "auditflow.analysis"
TARGET_RATIO = 0.95
MAX_EVENTS = 28_000
ANALYSIS = "audit-log-analysis"
PROXY = "netfault-proxy"


def _env(bench: Bench, proxied: bool) -> dict[str, str]:
    """The supervised service's environment, its URLs direct or through the proxy."""
    env = {**os.environ, **bench.sandbox.program(ANALYSIS).env}
    secrets = bench.sandbox.secrets
    broker = bench.port("netfault-proxy-analysis-rabbitmq" if proxied else "rabbitmq")
    database = bench.port("netfault-proxy-analysis-postgres" if proxied else "postgres")
    env["AUDITFLOW_AMQP_URL"] = (
        amqp_url(broker, secrets).reveal() + f"?heartbeat={ANALYSIS_HEARTBEAT_S}"
    )
    env["AUDITFLOW_PG_DSN"] = pg_dsn(database, secrets).reveal()
    return env


def drain_round(bench: Bench, events: int, proxied: bool) -> dict[str, Any]:
    run_id, first, last, publish_s = burst_and_confirm(bench, events)
    log(f"{'proxied' if proxied else 'direct'}: backlog {depth(bench.amqp_url, QUEUE)}; draining")
    program = bench.sandbox.program(ANALYSIS)
    proxy_pid = bench.pids()[PROXY]
    proxy_cpu = tree_cpu_seconds(proxy_pid)
    service = subprocess.Popen(
        list(program.argv),
        env=_env(bench, proxied),
        cwd=program.directory,
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
        service.send_signal(signal.SIGTERM)
        service.wait(60)
    proxy_us = 1e6 * (tree_cpu_seconds(proxy_pid) - proxy_cpu) / events
    with bench.pg() as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(stored_at) - min(stored_at)) "
            "FROM audit_events WHERE run_id = %s AND seq BETWEEN %s AND %s",
            (run_id, first, last),
        ).fetchone()
    assert row is not None
    span = float(row[1] or 0.0)
    accounted = ledger(bench, run_id, first, last)
    rate = accounted["stored"] / span if span else 0.0
    log(f"  {rate:.0f} events/s; proxy CPU {proxy_us:.1f} µs/event")
    return {
        "path": "proxied" if proxied else "direct",
        "events": events,
        "publish_confirm_seconds": round(publish_s, 2),
        "drain_events_per_second": round(rate, 0),
        "proxy_cpu_microseconds_per_event": round(proxy_us, 2),
        "ledger": accounted,
        "ok": accounted["lost"] == 0 and accounted["duplicated"] == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=25_000, help=f"at most {MAX_EVENTS}")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each path, alternated")
    args = parser.parse_args()
    if not 1 <= args.events <= MAX_EVENTS:
        parser.error(f"--events must be within 1..{MAX_EVENTS} (the queue's bound is 30,000)")
    info = machine()
    rounds: list[dict[str, Any]] = []
    with sandbox("netproxy") as bench:
        bench.stop(ANALYSIS)
        for _ in range(args.rounds):
            for through_proxy in (False, True):
                rounds.append(drain_round(bench, args.events, through_proxy))
                time.sleep(1.0)
        bench.start(ANALYSIS)
    direct = [r["drain_events_per_second"] for r in rounds if r["path"] == "direct"]
    via = [r["drain_events_per_second"] for r in rounds if r["path"] == "proxied"]
    ratio = statistics.median(via) / statistics.median(direct)
    ok = all(r["ok"] for r in rounds)
    emit(
        {
            "benchmark": "netproxy",
            "command": "python bench/netproxy.py",
            "machine": info,
            "rounds": rounds,
            "direct_median_events_per_second": statistics.median(direct),
            "proxied_median_events_per_second": statistics.median(via),
            "ratio_proxied_to_direct": round(ratio, 3),
            "proxy_cpu_microseconds_per_event_median": statistics.median(
                r["proxy_cpu_microseconds_per_event"] for r in rounds if r["path"] == "proxied"
            ),
            "target_ratio": TARGET_RATIO,
            "target_met": ratio >= TARGET_RATIO and ok,
            "zero_loss_zero_duplicates": ok,
        }
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
