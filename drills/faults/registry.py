"""Fault kind → implementation: a plain table, not discovery.

Each fault's module is imported only when a drill uses that kind: together they import psycopg,
redis, hypothesis and the sandbox (~1 s on the sandbox VM), most of which a pod-kill never needs,
and the harness's start-up is on every drill's critical path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drills.spec import Fault as FaultSpec

if TYPE_CHECKING:
    from drills.faults.base import Fault


def build(spec: FaultSpec) -> Fault:  # noqa: PLR0911 - one return per kind: the table
    """Instantiate the fault for a validated spec (parameters were checked at load time)."""
    params = spec.params
    if spec.kind == "process-kill":
        from drills.faults.process_kill import ProcessKill

        return ProcessKill(str(params["signal"]))
    if spec.kind == "process-freeze":
        from drills.faults.process_freeze import ProcessFreeze

        return ProcessFreeze(float(params["duration_s"]))
    if spec.kind == "bad-deploy":
        from drills.faults.bad_deploy import BadDeploy

        return BadDeploy(
            str(params["breakage"]), str(params["rollback"]), float(params["rollback_by_s"])
        )
    if spec.kind == "service-stop":
        from drills.faults.service_stop import ServiceStop

        return ServiceStop(
            float(params["duration_s"]),
            str(params["mode"]),
            bool(params["check_counters"]),
            heartbeat=str(params["heartbeat"]),
            told_within_s=float(params["told_within_s"]),
        )
    if spec.kind == "malformed-events":
        from drills.faults.malformed_events import MalformedEvents

        return MalformedEvents(
            int(params["count"]), float(params["interval_s"]), int(params["seed"])
        )
    if spec.kind == "pvc-wipe-restore":
        from drills.faults.pvc_wipe_restore import PvcWipeRestore

        return PvcWipeRestore(float(params["events_after_backup_s"]), bool(params["redrive"]))
    if spec.kind == "table-lock":
        from drills.faults.table_lock import TableLock

        return TableLock(float(params["duration_s"]), str(params["mode"]))
    if spec.kind == "network":
        from drills.faults.network import NetworkFault

        return NetworkFault(
            str(params["route"]),
            str(params["mode"]),
            float(params["duration_s"]),
            latency_ms=float(params["latency_ms"]),
            jitter_ms=float(params["jitter_ms"]),
            bandwidth_kbps=float(params["bandwidth_kbps"]),
        )
    raise AssertionError(f"fault kind {spec.kind!r} passed validation but has no implementation")
