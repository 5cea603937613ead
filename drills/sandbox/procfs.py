"""Process facts from /proc: identity (PID + start time), liveness, process trees and memory.

Linux-only on purpose: the sandbox stops processes by the PIDs it started, and needs to be sure a
PID still names the process it started (PID reuse) before signalling it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; split after its last ')'.
    return text.rsplit(") ", 1)[1].split()


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def pid_start_ticks(pid: int) -> int | None:
    """Start time in clock ticks since boot: with the PID, an identity that survives PID reuse."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> list[int]:
    """Every live process below `root` (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields:
            parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier}
        found.extend(sorted(frontier))
    return found


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants (e.g. the Erlang VM under its wrapper)."""
    total = 0
    for pid in (root, *descendants(root)):
        try:
            resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident_pages * PAGE_SIZE
    return total


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and its live descendants (children that exited and
    were reaped count in the parent's cutime/cstime, which is included too)."""
    total = 0
    for pid in (root, *descendants(root)):
        fields = _stat_fields(pid)
        if not fields:
            continue
        try:
            total += sum(int(x) for x in fields[11:15])
        except ValueError:
            continue
    return total / CLOCK_TICKS


def _boot_time() -> float:
    # /proc/stat's btime is whole seconds; now minus /proc/uptime is good to 10 ms, like the
    # process start ticks it is added to.
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - uptime


def pid_start_time(pid: int) -> float | None:
    """When `pid` started, in unix seconds, from the kernel (sub-second, unlike supervisord's
    integer `start`)."""
    ticks = pid_start_ticks(pid)
    if ticks is None:
        return None
    try:
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def pid_state(pid: int) -> str | None:
    """The kernel's one-letter state of `pid` (R, S, D, T stopped, t traced, Z...); None if gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def process_group(pgid: int) -> list[int]:
    """Every live process whose process group is `pgid` (the leader first when it is alive)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return sorted(members, key=lambda pid: (pid != pgid, pid))
