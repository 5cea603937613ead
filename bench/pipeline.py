"""pipeline: the highest sustained offered load at which p99 publish→committed latency ≤ 500 ms.

    .venv/bin/python bench/pipeline.py [--step-seconds 60] [--rates 1000,2000,...]

The generator's rate is stepped up; each step holds for `--step-seconds` (60 s, the issue's
definition) and passes when, over the step: the broker confirmed ≥ 97% of the offered rate, the
generator's buffer did not build up, and ≥ 99% of the events committed in the step were committed
within 500 ms of publication (read exactly from the analysis service's
`event_processing_duration_seconds` histogram, whose 0.5 s bucket is the SLO edge). The first
failing step ends the climb. Afterwards every event confirmed during the climb is checked in
PostgreSQL: 0 lost, 0 duplicated.

Baselines in the same run, on the same sandbox, each for `--baseline-seconds`:
(a) raw broker — this process publishes flat out with confirms (window 4000, batched writes)
    while a child process consumes the same messages with no processing (multi-ack every 500);
    end to end = consumed / (last delivery - first publish);
(b) naive pipeline — pika, one blocking confirm per message; a consumer storing each event with
    one INSERT and one commit, then acking it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from typing import Any

import aiormq
import httpx
import pika
import psycopg
from _common import Bench, emit, ledger, log, machine, sandbox, wait_until
from prometheus_client.parser import text_string_to_metric_families

from auditflow.generator.amqp_batch import Outgoing, publish_many
from drills.capacity.plan import judge_step

RATES = (500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000)
COMPONENTS = ("audit-event-generator", "audit-log-analysis", "rabbitmq", "postgres")
SLO_S = 0.5
TARGET = 5000
RAW_QUEUE = "bench.pipeline.raw"
NAIVE_QUEUE = "bench.pipeline.naive"


# --- the AuditFlow pipeline at stepped load ------------------------------------------------------


def latency_histogram(bench: Bench) -> dict[float, float]:
    """Cumulative bucket counts (le → count) of event_processing_duration_seconds."""
    text = httpx.get(f"http://127.0.0.1:{bench.port('audit-log-analysis')}/metrics", timeout=5).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "event_processing_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def quantile(delta: dict[float, float], q: float) -> float | None:
    """Quantile by linear interpolation inside the bucket (as PromQL's histogram_quantile)."""
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le in sorted(delta):
        count = delta[le]
        if count >= rank:
            if le == float("inf"):
                return lower
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = le, count
    return None


def step(bench: Bench, rate: int, seconds: float) -> dict[str, Any]:
    admin = bench.generator()
    try:
        admin.set_rate(rate)
        time.sleep(min(5.0, seconds / 6))  # settle: the previous step's tail drains
        start_stats, start_hist, t0 = admin.stats(), latency_histogram(bench), time.monotonic()
        start_cpu = bench.cpu_by_component(COMPONENTS)
        peak_buffer = 0
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            peak_buffer = max(peak_buffer, int(admin.stats()["buffered"]))
        end_stats, end_hist, t1 = admin.stats(), latency_histogram(bench), time.monotonic()
        end_cpu = bench.cpu_by_component(COMPONENTS)
    finally:
        admin.close()
    elapsed = t1 - t0
    confirmed = int(end_stats["confirmed"]) - int(start_stats["confirmed"])
    delta = {le: end_hist.get(le, 0.0) - start_hist.get(le, 0.0) for le in end_hist}
    committed = delta.get(float("inf"), 0.0)
    within = delta.get(SLO_S, 0.0) / committed if committed else 0.0
    confirmed_rate = confirmed / elapsed
    # The same rule as `genesis-drill capacity` (drills.capacity.plan), on exact /metrics counts.
    verdict = judge_step(rate, confirmed_rate, peak_buffer, committed, within, 0.99, SLO_S)
    passed = verdict.held
    p99 = quantile(delta, 0.99)
    return {
        "offered_per_second": rate,
        "confirmed_per_second": round(confirmed_rate, 1),
        "committed_per_second": round(committed / elapsed, 1),
        "share_within_500ms": round(within, 5),
        "p50_seconds": round(quantile(delta, 0.5) or 0.0, 4),
        "p99_seconds": round(p99, 4) if p99 is not None else None,
        "peak_generator_buffer": peak_buffer,
        # Where the CPU goes: what limits the rate on a given number of cores.
        "cpu_microseconds_per_event": {
            name: round(1e6 * (end_cpu[name] - start_cpu.get(name, 0.0)) / max(confirmed, 1), 1)
            for name in end_cpu
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seconds": round(elapsed, 1),
        "passed": passed,
    }


def climb(bench: Bench, rates: list[int], seconds: float) -> dict[str, Any]:
    admin = bench.generator()
    try:
        before = admin.stats()
    finally:
        admin.close()
    run_id, first = str(before["run_id"]), int(before["last_seq"]) + 1
    steps = []
    try:
        for rate in rates:
            log(f"step: {rate} events/s for {seconds:.0f} s")
            result = step(bench, rate, seconds)
            log(f"  → {result}")
            steps.append(result)
            if not result["passed"]:
                break
    finally:
        admin = bench.generator()
        try:
            admin.set_rate(0)
            wait_until(lambda: admin.stats()["buffered"] == 0, 300, "generator buffer empty")
            after = admin.stats()
        finally:
            admin.close()
    if str(after["run_id"]) != run_id:
        raise RuntimeError("the generator restarted during the climb; the ledger would be wrong")
    last = int(after["last_seq"])
    wait_until(
        lambda: bench.stored(run_id, first, last)[1] >= last - first + 1,
        600,
        "every confirmed event stored",
        every=0.5,
    )
    time.sleep(2.0)  # a late duplicate would show up now
    passed = [s["offered_per_second"] for s in steps if s["passed"]]
    return {
        "sustained_events_per_second": max(passed) if passed else 0,
        "steps": steps,
        "ledger": ledger(bench, run_id, first, last),
    }


# --- baseline (a): raw broker --------------------------------------------------------------------


def _raw_consumer(url: str, results: Any) -> None:
    """Child process: count and multi-ack deliveries until 3 s pass without one."""

    async def consume() -> tuple[int, float, float]:
        connection = await aiormq.connect(url)
        try:
            channel = await connection.channel()
            await channel.basic_qos(prefetch_count=2000)
            state = {"n": 0, "first": 0.0, "last": 0.0}

            async def on_message(message: Any) -> None:
                now = time.time()
                if not state["n"]:
                    state["first"] = now
                state["n"] += 1
                state["last"] = now
                if state["n"] % 500 == 0:
                    await channel.basic_ack(message.delivery.delivery_tag, multiple=True)

            await channel.basic_consume(RAW_QUEUE, on_message, no_ack=False)
            while not state["n"] or time.time() - state["last"] < 3.0:
                await asyncio.sleep(0.5)
            return int(state["n"]), state["first"], state["last"]
        finally:
            await connection.close()

    results.put(asyncio.run(consume()))


async def _raw_publish(url: str, seconds: float, window: int = 4000) -> tuple[int, float, float]:
    """Publish flat out with confirms for `seconds` (the generator's batched writer,
    `amqp_batch.publish_many`, the fastest publisher here); (confirmed, start, end) epoch."""
    connection = await aiormq.connect(url)
    try:
        pub = await connection.channel(publisher_confirms=True)
        state = {"in_flight": 0, "confirmed": 0}
        room = asyncio.Event()

        def settled(_: asyncio.Future[Any]) -> None:
            state["in_flight"] -= 1
            state["confirmed"] += 1
            room.set()

        pad = "x" * 300
        t0 = time.time()
        seq = 0
        while time.time() - t0 < seconds:
            free = min(window - state["in_flight"], 500)
            if free <= 0:
                room.clear()
                await room.wait()
                continue
            batch = []
            for _ in range(free):
                seq += 1
                event_id = str(uuid.uuid4())
                body = json.dumps({"event_id": event_id, "seq": seq, "pad": pad}).encode()
                batch.append(Outgoing(body, RAW_QUEUE, event_id, event_id))
            futures = await publish_many(
                pub, "", batch, content_type="application/json", header_name="x-correlation-id"
            )
            state["in_flight"] += len(futures)
            for future in futures:
                future.add_done_callback(settled)
            await asyncio.sleep(0)
        while state["in_flight"] > 0:
            room.clear()
            await asyncio.wait_for(room.wait(), 30)
        return state["confirmed"], t0, time.time()
    finally:
        await connection.close()


async def _declare_raw(url: str, delete: bool) -> None:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        if delete:
            await channel.queue_delete(RAW_QUEUE)
        else:
            await channel.queue_declare(RAW_QUEUE, durable=True)
    finally:
        await connection.close()


def raw_broker(url: str, seconds: float) -> dict[str, Any]:
    """Publisher (this process) and bare consumer (a child process) on one durable queue."""
    asyncio.run(_declare_raw(url, delete=False))
    results: Any = multiprocessing.Queue()
    consumer = multiprocessing.Process(target=_raw_consumer, args=(url, results), daemon=True)
    consumer.start()
    try:
        time.sleep(1.0)  # the consumer is attached before the first publish
        confirmed, t0, t1 = asyncio.run(_raw_publish(url, seconds))
        consumed, _first, last = results.get(timeout=300)
    finally:
        consumer.join(10)
        if consumer.is_alive():
            consumer.terminate()
        asyncio.run(_declare_raw(url, delete=True))
    return {
        "published_confirmed_per_second": round(confirmed / (t1 - t0), 0),
        "end_to_end_events_per_second": round(consumed / (last - t0), 0),
        "consumed": consumed,
        "confirmed": confirmed,
        "seconds": round(t1 - t0, 1),
    }


# --- baseline (b): naive pipeline ----------------------------------------------------------------


def naive_pipeline(bench: Bench, seconds: float) -> dict[str, Any]:
    """One blocking confirm per message; one INSERT + commit per event; ack each after commit."""
    params = pika.URLParameters(bench.amqp_url)
    run = str(uuid.uuid4())
    with bench.pg() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_naive (LIKE audit_events INCLUDING ALL)")
        conn.execute("TRUNCATE bench_naive")
    stop = threading.Event()
    stored = {"n": 0}

    def consume() -> None:
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=100)
        with psycopg.connect(bench.pg_dsn) as db:
            for method, _props, body in channel.consume(NAIVE_QUEUE, inactivity_timeout=1.0):
                if method is None:
                    if stop.is_set():
                        break
                    continue
                event = json.loads(body)
                db.execute(
                    "INSERT INTO bench_naive (event_id, run_id, seq, occurred_at, published_at, "
                    "actor, action, resource, outcome, source_ip, correlation_id) VALUES "
                    "(%s, %s, %s, now(), now(), 'a', 'login', 'r', 'success', '127.0.0.1', 'c') "
                    "ON CONFLICT (event_id) DO NOTHING",
                    (event["event_id"], run, event["seq"]),
                )
                db.commit()
                channel.basic_ack(method.delivery_tag)
                stored["n"] += 1
        channel.cancel()
        connection.close()

    publisher = pika.BlockingConnection(params)
    channel = publisher.channel()
    channel.queue_declare(NAIVE_QUEUE, durable=True)
    channel.confirm_delivery()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    published = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        published += 1
        body = json.dumps({"event_id": str(uuid.uuid4()), "seq": published}).encode()
        channel.basic_publish(
            "", NAIVE_QUEUE, body, props, mandatory=True
        )  # blocks for the confirm
    elapsed = time.perf_counter() - t0
    stored_in_window = stored["n"]
    wait_until(lambda: stored["n"] >= published, 300, "naive consumer caught up", every=0.2)
    stop.set()
    consumer.join(30)
    channel.queue_delete(NAIVE_QUEUE)
    publisher.close()
    with bench.pg() as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT seq) FROM bench_naive WHERE run_id = %s", (run,)
        ).fetchone()
        conn.execute("DROP TABLE bench_naive")
    assert row is not None  # an aggregate query always answers one row
    rows, distinct = int(row[0]), int(row[1])
    end_to_end = min(published, stored_in_window) / elapsed
    return {
        "published_confirmed_per_second": round(published / elapsed, 0),
        "stored_per_second": round(stored_in_window / elapsed, 0),
        "end_to_end_events_per_second": round(end_to_end, 0),
        "ledger": {
            "confirmed": published,
            "stored": distinct,
            "lost": max(0, published - distinct),
            "duplicated": rows - distinct,
        },
        "seconds": round(elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES))
    parser.add_argument("--python", help="interpreter/wrapper for the services (A/B runs)")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    info = machine()
    with sandbox("pipeline", args.python) as bench:
        log("baseline (a): raw broker, publish + consume, no processing")
        raw = raw_broker(bench.amqp_url, args.baseline_seconds)
        log(f"  → {raw}")
        log("baseline (b): naive pipeline")
        naive = naive_pipeline(bench, args.baseline_seconds)
        log(f"  → {naive}")
        result = climb(bench, rates, args.step_seconds)
    sustained = result["sustained_events_per_second"]
    clean = (
        result["ledger"]["lost"] == 0
        and result["ledger"]["duplicated"] == 0
        and naive["ledger"]["lost"] == 0
        and naive["ledger"]["duplicated"] == 0
    )
    naive_rate = naive["end_to_end_events_per_second"] or 1
    emit(
        {
            "benchmark": "pipeline",
            "command": "python bench/pipeline.py",
            "machine": info,
            "step_seconds": args.step_seconds,
            **result,
            "baseline_raw_broker": raw,
            "baseline_naive_pipeline": naive,
            "ratio_to_naive": round(sustained / naive_rate, 2),
            "ratio_to_raw_broker": round(sustained / (raw["end_to_end_events_per_second"] or 1), 3),
            "zero_loss_zero_duplicates": clean,
            "target_events_per_second": TARGET,
            "target_met": sustained >= TARGET and sustained >= 5 * naive_rate and clean,
        }
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
