"""restore: `pg_restore` time of 1,000,000 stored events, and the wipe → serving-again RTO.

    .venv/bin/python bench/restore.py [--events 1000000] [--no-drill]

1M events are written into `audit_events` with one INSERT ... SELECT (pushing them through the
broker would only measure the pipeline again), the database is dumped with the very `pg_dump -Fc`
command the pvc-wipe-restore drill uses (baseline: `pg_dump` time of the same data), and the dump
is restored with the drill's `pg_restore` command (drills.backup.RESTORE_JOBS: one transaction,
exit on error) into a fresh database, whose rows are then compared with the source (count and md5
of the sorted ids: 0 lost, 0 duplicated); side by side, the same dump restored with
`--jobs=2`: alternating, twice each, medians reported. Then the real
`pvc-wipe-restore` drill runs against the same sandbox (1M rows plus its own load) and its RTO —
wipe → first event stored after the restore, which includes the drill's simulated 10 s volume
re-provisioning — is reported with its ledger and the fault's own step timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, Bench, emit, log, machine, sandbox

from drills.backup import RESTORE_JOBS, PgServer, dump_argv, restore_argv, run_client
from drills.sandbox.binaries import Binaries
from drills.sandbox.connections import pg_dsn

RESTORE_TARGET_S = 10.0
RTO_TARGET_S = 30.0
SCRATCH_DB = "auditflow_bench_restore"
RESTORE_ROUNDS = 2  # each form restored twice, alternating
PARALLEL_JOBS = 2  # the `pg_restore --jobs` form measured beside the drill's single transaction
RUN_ID = "bench-restore"
FINGERPRINT = (
    "SELECT count(*), count(DISTINCT event_id), "
    "md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM audit_events WHERE run_id = %s"
)


def fill(bench: Bench, events: int) -> float:
    started = time.monotonic()
    with bench.pg() as conn:
        conn.execute(
            "INSERT INTO audit_events (event_id, run_id, seq, occurred_at, published_at, actor, "
            "action, resource, outcome, source_ip, correlation_id) "
            "SELECT md5(%s || g)::uuid, %s, g, now(), now(), 'user-' || (g %% 1000), "
            "(ARRAY['login','logout','read','write'])[1 + g %% 4], 'doc/' || (g %% 5000), "
            "(ARRAY['success','failure','denied','error'])[1 + g %% 4], "
            "'10.0.' || (g %% 250) || '.' || (g %% 200), md5(g::text) "
            "FROM generate_series(1, %s) g",
            (RUN_ID, RUN_ID, events),
        )
        conn.execute("VACUUM ANALYZE audit_events")
    return time.monotonic() - started


def fingerprint(bench: Bench, dbname: str) -> tuple[int, int, str]:
    import psycopg  # noqa: PLC0415

    dsn = pg_dsn(bench.port("postgres"), bench.sandbox.secrets, superuser=True, dbname=dbname)
    with psycopg.connect(dsn.reveal(), autocommit=True) as conn:
        row = conn.execute(FINGERPRINT, (RUN_ID,)).fetchone()
    assert row is not None  # an aggregate query always answers one row
    return int(row[0]), int(row[1]), str(row[2])


def dump_and_restore(bench: Bench, workdir: Path) -> dict[str, Any]:
    binaries = Binaries.locate()
    server = PgServer.from_dsn(bench.pg_admin_dsn)
    dump = workdir / "auditflow.dump"
    started = time.monotonic()
    run_client(dump_argv(binaries["pg_dump"], server, dump, None), server, "bench dump", 600)
    dump_s = time.monotonic() - started
    source = fingerprint(bench, "auditflow")
    with bench.pg(admin=True) as conn:  # the fill's dirty pages are not the first restore's cost
        conn.execute("CHECKPOINT")
    other = PARALLEL_JOBS if RESTORE_JOBS == 1 else 1  # the form the drill does not use
    timings: dict[int, list[float]] = {RESTORE_JOBS: [], other: []}
    fingerprints: dict[int, tuple[int, int, str]] = {}
    # Alternating, so that neither form always runs first, on a machine shared with other work.
    for jobs in (other, RESTORE_JOBS) * RESTORE_ROUNDS:
        with bench.pg(admin=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
            conn.execute(f"CREATE DATABASE {SCRATCH_DB} OWNER auditflow")
        argv = restore_argv(binaries["pg_restore"], server, dump, SCRATCH_DB, jobs)
        started = time.monotonic()
        run_client(argv, server, "bench restore", 600)
        timings[jobs].append(round(time.monotonic() - started, 2))
        restored_now = fingerprint(bench, SCRATCH_DB)
        if fingerprints.setdefault(jobs, restored_now) != restored_now:
            raise RuntimeError(f"two restores with --jobs={jobs} differ")
        with bench.pg(admin=True) as conn:
            conn.execute(f"DROP DATABASE {SCRATCH_DB}")
    restored = fingerprints[RESTORE_JOBS]
    return {
        "dump_bytes": dump.stat().st_size,
        "pg_restore_seconds": round(statistics.median(timings[RESTORE_JOBS]), 2),
        "pg_restore_runs": timings[RESTORE_JOBS],
        "pg_restore_jobs": RESTORE_JOBS,
        "alternative_pg_restore_jobs": other,
        "alternative_pg_restore_seconds": round(statistics.median(timings[other]), 2),
        "alternative_pg_restore_runs": timings[other],
        "alternative_matches": fingerprints[other] == source,
        "baseline_pg_dump_seconds": round(dump_s, 2),
        "restored_rows": restored[0],
        "ledger": {
            "source_rows": source[0],
            "restored_distinct": restored[1],
            "lost": max(0, source[1] - restored[1]),
            "duplicated": restored[0] - restored[1],
            "ids_md5_match": source[2] == restored[2],
        },
    }


def find_key(data: Any, key: str) -> Any:
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = find_key(value, key)
            if found is not None:
                return found
    elif isinstance(data, list):
        for value in data:
            found = find_key(value, key)
            if found is not None:
                return found
    return None


def drill(bench: Bench, workdir: Path) -> dict[str, Any]:
    runs = workdir / "runs"
    argv = bench.drill_argv("pvc-wipe-restore", runs)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    results = sorted(runs.glob("*/result.json"))
    if not results:
        return {"exit_code": done.returncode, "error": done.stderr.strip()[-400:]}
    result = json.loads(results[-1].read_text())
    return {
        "exit_code": done.returncode,
        "outcome": result.get("outcome") or result.get("status"),
        "rto_seconds": find_key(result, "rto_seconds"),
        "restore_seconds_in_drill": find_key(result, "restore_seconds"),
        "ledger": find_key(result, "ledger"),
        "drill_wall_seconds": round(wall, 1),
        # The fault's own report (backup, wipe, restore, first write, re-drive timings): where
        # the RTO goes.
        "fault": {
            key: value
            for key, value in ((result.get("fault") or {}).get("figures") or {}).items()
            if isinstance(value, int | float | str | type(None))
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-drill", action="store_true", help="skip the RTO drill")
    parser.add_argument("--python", help="interpreter/wrapper for the services (A/B runs)")
    args = parser.parse_args()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="genesis-bench-restore-") as tmp:
        workdir = Path(tmp)
        with sandbox("restore", args.python) as bench:
            generator = bench.generator()
            try:
                generator.set_rate(0)
            finally:
                generator.close()
            log(f"writing {args.events} events into audit_events")
            fill_s = fill(bench, args.events)
            log(f"filled in {fill_s:.1f} s; pg_dump / pg_restore")
            figures = dump_and_restore(bench, workdir)
            log(f"  → {figures}")
            rto = None if args.no_drill else drill(bench, workdir)
            if rto is not None:
                log(f"drill: {rto}")
    ledger = figures["ledger"]
    clean = ledger["lost"] == 0 and ledger["duplicated"] == 0 and ledger["ids_md5_match"]
    if rto is not None and isinstance(rto.get("ledger"), dict):
        clean = clean and not rto["ledger"].get("lost") and not rto["ledger"].get("duplicated")
    rto_s = rto.get("rto_seconds") if rto else None
    emit(
        {
            "benchmark": "restore",
            "command": "python bench/restore.py",
            "machine": info,
            "events": args.events,
            "fill_seconds": round(fill_s, 1),
            **figures,
            "ratio_restore_to_dump": round(
                figures["pg_restore_seconds"] / figures["baseline_pg_dump_seconds"], 2
            ),
            "drill": rto,
            "zero_loss_zero_duplicates": clean,
            "target_restore_seconds": RESTORE_TARGET_S,
            "target_rto_seconds": RTO_TARGET_S,
            "target_met": clean
            and figures["pg_restore_seconds"] <= RESTORE_TARGET_S
            and rto_s is not None
            and rto_s <= RTO_TARGET_S,
        }
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
