"""`Freezer` on the local sandbox: SIGSTOP / SIGCONT by PID and start time, through a pidfd.

supervisord makes every program a process-group leader, so a component's processes are the
members of the group whose id is the PID supervisord reports. Each member is signalled on its own
through a pidfd opened *before* its start time is compared with the journaled one: once open, the
descriptor names that process and no other, so a PID reused between the check and the signal can
never receive it (with `kill(2)` it could). A member whose start time differs is not the process
that was frozen and is left alone — `recover` after a crash must continue the frozen process, not
whatever holds its PID now.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable

from drills.errors import TargetError
from drills.sandbox.procfs import pid_start_ticks, pid_state, process_group
from drills.targets.freezer import FrozenGroup, ProcessRef, Thawed


class LocalFreezer:
    """`Freezer` over local processes; `pid_of` names a running component's group leader."""

    def __init__(self, pid_of: Callable[[str], int]) -> None:
        self.pid_of = pid_of

    def group_of(self, component: str) -> FrozenGroup:
        leader = self.pid_of(component)
        members = []
        for pid in process_group(leader) or [leader]:
            ticks = pid_start_ticks(pid)
            if ticks is None:
                if pid == leader:
                    raise TargetError(f"{component} (pid {leader}) vanished before the freeze")
                continue  # a child that exited meanwhile
            members.append(ProcessRef(pid, ticks))
        if not members or members[0].pid != leader:
            raise TargetError(f"{component} (pid {leader}) is not its process group's leader")
        return FrozenGroup(component, tuple(members))

    def freeze(self, group: FrozenGroup) -> None:
        if not _signal_if_same(group.leader, signal.SIGSTOP):
            raise TargetError(
                f"{group.component} (pid {group.leader.pid}) is no longer the process that was "
                "to be frozen; nothing was stopped"
            )
        for member in group.members[1:]:
            _signal_if_same(member, signal.SIGSTOP)

    def thaw(self, group: FrozenGroup) -> Thawed:
        continued: list[int] = []
        gone: list[int] = []
        for member in group.members:
            (continued if _signal_if_same(member, signal.SIGCONT) else gone).append(member.pid)
        return Thawed(tuple(continued), tuple(gone))

    def state(self, process: ProcessRef) -> str | None:
        state = pid_state(process.pid)
        if state is None or pid_start_ticks(process.pid) != process.start_ticks:
            return None
        return state


def _signal_if_same(process: ProcessRef, sig: signal.Signals) -> bool:
    """Send `sig` to `process` if that PID still has its start time; False when it does not."""
    if process.start_ticks is None:
        return False  # an identity that cannot be checked is not signalled
    try:
        fd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return False
    except OSError as exc:
        raise TargetError(f"cannot open pid {process.pid}: {exc.strerror}") from exc
    try:
        if pid_start_ticks(process.pid) != process.start_ticks:
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise TargetError(f"cannot send {sig.name} to pid {process.pid}: {exc.strerror}") from exc
    finally:
        os.close(fd)
