"""pvc-wipe-restore on the real sandbox: wipe PostgreSQL under load, restore, re-drive, lose none.

The fault is driven directly (not through the runner) so the test asserts the fault's own figures:
a verified backup, a positive RTO, events committed after the backup that the restore misses
(RPO > 0), and none of them missing after the re-drive from the archive stream. The shared sandbox
is left healthy for the tests after this one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drills.faults.base import FaultContext
from drills.faults.pvc_wipe_restore import DOWNTIME_FLOOR_S, PvcWipeRestore
from drills.journal import Journal
from drills.spec import load
from drills.targets.local import LocalTarget
from tests.support import wait_for

pytestmark = pytest.mark.integration

CATALOG = Path(__file__).resolve().parents[2] / "drills" / "catalog" / "pvc-wipe-restore.yaml"
SERVICES = ("audit-log-analysis", "audit-event-generator", "event-audit-dashboard")


def test_wipe_restore_and_redrive_lose_nothing(live, tmp_path: Path) -> None:
    """Backup verified, RTO > 0, RPO > 0 before the re-drive and 0 after, no duplicates."""
    spec = load(CATALOG)
    target = LocalTarget(live.sandbox)
    run_dir = tmp_path / "run"
    ctx = FaultContext(spec, target, target.endpoints(), Journal(run_dir), run_dir, _quiet)
    fault = PvcWipeRestore(events_after_backup_s=4.0, redrive=True)
    admin = live.generator()
    old_rate = admin.stats()["rate"]
    try:
        admin.set_rate(spec.load.rate)
        time.sleep(3)
        assert fault.preflight(ctx) == []
        injection = fault.inject(ctx)
        assert not target.state("postgres").running, "postgres must be down after the wipe"
        try:
            fault.hold(ctx, injection)
        finally:
            fault.rollback(ctx)
        report = fault.verify(ctx, injection)
    finally:
        admin.set_rate(old_rate)
        for component in ("postgres", *SERVICES):
            target.wait_ready(component, 60)

    figures, checks = report.figures, {c.name: c for c in report.checks}
    print(json.dumps(figures, indent=1))  # the measured RTO/RPO, visible with -s
    assert all(c.passed for c in report.checks), [c for c in report.checks if not c.passed]
    assert checks["backup verified"].passed
    assert figures["integrity_ok"] is True
    assert isinstance(figures["backup_rows"], int) and figures["backup_rows"] > 0
    assert (run_dir / "backup" / "auditflow.dump").stat().st_size == figures["backup_bytes"]
    rto = figures["rto_seconds"]
    assert isinstance(rto, float) and DOWNTIME_FLOOR_S <= rto < 120
    assert isinstance(figures["restore_seconds"], float) and figures["restore_seconds"] > 0
    rpo_before = figures["rpo_before_redrive"]
    assert isinstance(rpo_before, int) and rpo_before > 0, "no event was committed after backup"
    assert figures["rpo_after_redrive"] == 0
    assert figures["redriven"] == rpo_before
    assert str(figures["redrive_source"]).startswith("rabbitmq stream auditflow.archive")
    assert report.ready_at is not None and report.ready_at > injection.at

    records = ctx.journal.records()
    # initdb's password file is journaled before initdb may write it (for `recover`), and gone.
    temp_files = {Path(r["path"]) for r in records if r["event"] == "temp-file"}
    assert [p.name for p in temp_files] == [".pwfile"] and not any(p.exists() for p in temp_files)
    events = [r["event"] for r in records if r["event"] != "temp-file"]
    assert events == [
        "backup",
        "wipe-intent",
        "wipe-done",
        "restore-intent",
        "restore-done",
        "redrive",
    ]
    assert (
        live.sandbox.secrets.postgres_superuser.reveal()
        not in (run_dir / "journal.jsonl").read_text()
    )

    with live.pg() as conn:
        row = conn.execute(
            # test_ledger_jepsen's synthetic runs (ledger-*) hold a deliberate duplicate
            "SELECT count(*), count(DISTINCT (run_id, seq)) FROM audit_events "
            "WHERE run_id NOT LIKE 'ledger-%'"
        ).fetchone()
    assert row is not None and row[0] == row[1], f"{row[0] - row[1]} duplicated events"
    wait_for(lambda: all(live.healthy(s) for s in SERVICES), 30, "services healthy after restore")


def _quiet(_kind: str, _data: object) -> None:
    return None
