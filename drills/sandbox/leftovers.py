"""What a sandbox started, remembered on disk, so that the processes of a sandbox whose
supervisord crashed or was killed can still be stopped — by PID *and* start time, never by name,
so a PID the system has since given to another process is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from drills.sandbox.procfs import pid_alive, pid_start_ticks
from drills.sandbox.supervisor import Supervisor


def _pids_file(root: Path) -> Path:
    return root / "pids.json"


def record_pids(root: Path, supervisor: Supervisor) -> None:
    """Remember (pid, start time) of supervisord and each program, for a crashed-sandbox cleanup."""
    recorded = _read_pids(root)
    daemon = supervisor.daemon_pid()
    if daemon:
        recorded["supervisord"] = [daemon, pid_start_ticks(daemon) or 0]
    for info in supervisor.processes():
        if info.pid:
            recorded[info.name] = [info.pid, pid_start_ticks(info.pid) or 0]
    _pids_file(root).write_text(json.dumps(recorded))


def _read_pids(root: Path) -> dict[str, list[int]]:
    try:
        raw = json.loads(_pids_file(root).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): [int(v[0]), int(v[1])] for k, v in raw.items()}


def clean_leftovers(root: Path, progress: Callable[[str, str], None]) -> list[str]:
    """Stop processes this sandbox started earlier whose supervisord is gone (it crashed or was
    killed). Identity is PID *and* start time, so a reused PID is never signalled."""
    killed = []
    for name, (pid, ticks) in _read_pids(root).items():
        if not pid_alive(pid) or pid_start_ticks(pid) != ticks:
            continue
        progress(name, f"stopping leftover process {pid}")
        _terminate_group(pid)
        killed.append(name)
    _pids_file(root).unlink(missing_ok=True)
    return killed


def _terminate_group(pid: int, grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)
