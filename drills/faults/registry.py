"""Fault kind → implementation: a plain table, not discovery."""

from __future__ import annotations

from drills.faults.base import Fault
from drills.faults.malformed_events import MalformedEvents
from drills.faults.process_kill import ProcessKill
from drills.faults.pvc_wipe_restore import PvcWipeRestore
from drills.faults.service_stop import ServiceStop
from drills.spec import Fault as FaultSpec


def build(spec: FaultSpec) -> Fault:
    """Instantiate the fault for a validated spec (parameters were checked at load time)."""
    params = spec.params
    if spec.kind == "process-kill":
        return ProcessKill(str(params["signal"]))
    if spec.kind == "service-stop":
        return ServiceStop(float(params["duration_s"]), str(params["mode"]))
    if spec.kind == "malformed-events":
        return MalformedEvents(
            int(params["count"]), float(params["interval_s"]), int(params["seed"])
        )
    if spec.kind == "pvc-wipe-restore":
        return PvcWipeRestore(float(params["events_after_backup_s"]), bool(params["redrive"]))
    raise AssertionError(f"fault kind {spec.kind!r} passed validation but has no implementation")
