"""footprint: resident memory of the whole sandbox at idle and at 1,000 events/s.

    .venv/bin/python bench/footprint.py [--idle-seconds 20] [--load-seconds 60] [--rate 1000]

"Whole sandbox" is every supervised program's process tree (the Erlang VM under its wrapper,
PostgreSQL's backends under the postmaster, ...) plus supervisord itself, read from /proc.
Idle: the generator paused, sampled every 2 s, the peak reported. Load: the generator at
`--rate` for `--load-seconds`, sampled every 2 s, the peak reported with its per-component
split. RSS summed over processes counts shared memory (PostgreSQL's shared buffers) once per
process that touched it, so PSS (shared pages divided among their users) is reported beside it.
Then, to measure what the `auditflow.archive` stream costs, the same load is held
`--archive-seconds` with the stream's binding removed (re-bound afterwards, in a `finally`), and
the broker's CPU per confirmed event is compared. The events of the load window are then checked
in PostgreSQL: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from _amqp import archive_binding
from _common import Bench, emit, ledger, log, machine, sandbox, wait_until

TARGET_BYTES = int(1.5 * 2**30)
MIB = 2**20


def peak(bench: Bench, seconds: float) -> dict[str, Any]:
    """Peak over 2 s samples of the summed RSS (the issue's "resident memory", which counts
    shared pages once per process) and of the summed PSS (shared pages counted once)."""
    best: dict[str, int] = {}
    best_pss = 0
    samples = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sizes = bench.rss_by_component()
        best_pss = max(best_pss, sum(bench.pss_by_component().values()))
        samples += 1
        if sum(sizes.values()) > sum(best.values()):
            best = sizes
        time.sleep(2.0)
    return {
        "total_mib": round(sum(best.values()) / MIB, 1),
        "total_pss_mib": round(best_pss / MIB, 1),
        "by_component_mib": {
            name: round(size / MIB, 1)
            for name, size in sorted(best.items(), key=lambda item: -item[1])
        },
        "samples": samples,
    }


BROKER = ("rabbitmq",)


def _per_event(before: dict[str, float], after: dict[str, float], n0: int, n1: int) -> float:
    return round(1e6 * (after["rabbitmq"] - before["rabbitmq"]) / max(int(n1) - int(n0), 1), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument(
        "--archive-seconds",
        type=float,
        default=30.0,
        help="then hold the load this long with the archive stream unbound (its cost); 0: skip",
    )
    parser.add_argument("--python", help="interpreter/wrapper for the services (A/B runs)")
    args = parser.parse_args()
    info = machine()
    archive: dict[str, Any] | None = None
    with sandbox("footprint", args.python) as bench:
        up_seconds = bench.up_seconds
        admin = bench.generator()
        try:
            admin.set_rate(0)
            time.sleep(3.0)
            log(f"idle for {args.idle_seconds:.0f} s")
            idle = peak(bench, args.idle_seconds)
            before = admin.stats()
            log(f"{args.rate} events/s for {args.load_seconds:.0f} s")
            admin.set_rate(args.rate)
            cpu0, t0 = bench.cpu_by_component(BROKER), admin.stats()["confirmed"]
            load_started = time.monotonic()
            loaded = peak(bench, args.load_seconds)
            cpu1, t1 = bench.cpu_by_component(BROKER), admin.stats()["confirmed"]
            confirmed_rate = (int(t1) - int(t0)) / (time.monotonic() - load_started)
            if args.archive_seconds > 0:
                log(f"the same load for {args.archive_seconds:.0f} s without the archive binding")
                archive_binding(bench.amqp_url, bound=False)
                try:
                    time.sleep(2.0)
                    cpu2, t2 = bench.cpu_by_component(BROKER), admin.stats()["confirmed"]
                    unarchived = peak(bench, args.archive_seconds)
                    cpu3, t3 = bench.cpu_by_component(BROKER), admin.stats()["confirmed"]
                finally:
                    archive_binding(bench.amqp_url, bound=True)
                archive = {
                    "broker_cpu_us_per_event_with_archive": _per_event(cpu0, cpu1, t0, t1),
                    "broker_cpu_us_per_event_without_archive": _per_event(cpu2, cpu3, t2, t3),
                    "sandbox_rss_mib_without_archive": unarchived["total_mib"],
                }
            admin.set_rate(0)
            wait_until(lambda: admin.stats()["buffered"] == 0, 120, "generator buffer empty")
            after = admin.stats()
        finally:
            admin.close()
        run_id, first, last = (
            str(after["run_id"]),
            int(before["last_seq"]) + 1,
            int(after["last_seq"]),
        )
        wait_until(
            lambda: bench.stored(run_id, first, last)[1] >= last - first + 1,
            300,
            "the load window stored",
            every=0.5,
        )
        time.sleep(1.0)
        accounted = ledger(bench, run_id, first, last)
    clean = accounted["lost"] == 0 and accounted["duplicated"] == 0
    emit(
        {
            "benchmark": "footprint",
            "command": "python bench/footprint.py",
            "machine": info,
            "platform_up_seconds": round(up_seconds, 1),
            "idle": idle,
            "at_load": {**loaded, "rate": args.rate, "confirmed_per_second": round(confirmed_rate)},
            "archive_stream_cost": archive,
            "ledger": accounted,
            "zero_loss_zero_duplicates": clean,
            "target_mib": TARGET_BYTES / MIB,
            "target_met": clean and loaded["total_mib"] * MIB <= TARGET_BYTES,
        }
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
