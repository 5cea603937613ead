"""The run journal: an append-only JSON-lines file, flushed and fsynced line by line.

Intent is written *before* every action and the outcome after it, so a harness killed mid-drill
leaves enough on disk for `genesis-drill recover` (or the next run's preflight) to find the fault
that is still in effect and undo it. Nothing secret is ever written here.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from drills.sandbox.procfs import pid_alive, pid_start_ticks

JOURNAL_NAME = "journal.jsonl"


class Journal:
    """Appends timestamped records to `run_dir/journal.jsonl`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_NAME
        run_dir.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"t": time.time(), "event": event, **fields}
        line = json.dumps(record, default=str, sort_keys=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def records(self) -> list[dict[str, Any]]:
        return read(self.path)


def read(path: Path) -> list[dict[str, Any]]:
    """All records of a journal; a torn last line (crash mid-write) is ignored."""
    records: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def harness_process() -> dict[str, Any]:
    """Who is writing this journal: host, PID and the PID's start time (survives PID reuse).

    Recorded in `run-start` so that `recover` (and another run's preflight) can tell a run whose
    harness died from one whose harness is still running — rolling back a live drill's fault from
    a second terminal would end that drill's observation in the middle.
    """
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start_ticks": pid_start_ticks(pid)}


def harness_alive(record: Any) -> bool:
    """True when a `harness_process()` record names a process that is still running here.

    A record from another host cannot be checked and counts as alive only if it is ours; absent or
    malformed records (older harnesses) count as dead, as before.
    """
    if not isinstance(record, dict):
        return False
    pid, ticks, host = record.get("pid"), record.get("start_ticks"), record.get("host")
    if (
        not isinstance(pid, int)
        or isinstance(pid, bool)
        or pid <= 0
        or host != socket.gethostname()
    ):
        return False
    if pid == os.getpid():
        # This very process: its runs are sequential (runner.run returns only when its run is
        # over), so an unfinished run of ours is one that ended badly, not one in progress.
        return False
    return pid_alive(pid) and (ticks is None or pid_start_ticks(pid) == ticks)
