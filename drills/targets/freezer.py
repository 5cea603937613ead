"""The freeze capability: stop a component's processes in place (SIGSTOP) and continue exactly them.

Why a capability of its own, not a `Target.kill` signal: a freeze is undone by continuing the
very processes that were stopped, possibly from another harness process after a crash (`recover`),
so it needs an identity that survives PID reuse — the PID plus the kernel's start time — and the
fault must journal that identity *before* the signal. A target that cannot freeze a process (the
Kubernetes API has no verb for it: deleting or exec-ing into the pod would be another fault) does
not have the capability, and `freezer_of` says so instead of doing something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from drills.errors import TargetError


@dataclass(frozen=True)
class ProcessRef:
    """One process: its PID and the kernel's start time in clock ticks (None if unknown)."""

    pid: int
    start_ticks: int | None

    def to_json(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_json(cls, value: Any) -> ProcessRef | None:
        """A journaled reference; None when it is malformed (a torn or edited journal)."""
        if not isinstance(value, Mapping):
            return None
        pid, ticks = value.get("pid"), value.get("start_ticks")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        if ticks is not None and (not isinstance(ticks, int) or isinstance(ticks, bool)):
            return None
        return cls(pid, ticks)


@dataclass(frozen=True)
class FrozenGroup:
    """What a freeze stops: a component's processes (its process group), leader first."""

    component: str
    members: tuple[ProcessRef, ...]

    @property
    def leader(self) -> ProcessRef:
        return self.members[0]

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "members": [m.to_json() for m in self.members]}

    @classmethod
    def from_json(cls, value: Any) -> FrozenGroup | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("component"), str):
            return None
        raw = value.get("members")
        if not isinstance(raw, list):
            return None
        members = tuple(ref for ref in (ProcessRef.from_json(m) for m in raw) if ref is not None)
        if not members or len(members) != len(raw):
            return None
        return cls(str(value["component"]), members)


@dataclass(frozen=True)
class Thawed:
    """What a thaw did: the members it continued and those that are no longer the same process."""

    continued: tuple[int, ...]
    gone: tuple[int, ...]


class Freezer(Protocol):
    """Stops and continues processes by identity; every method raises only TargetError."""

    def group_of(self, component: str) -> FrozenGroup:
        """The component's running processes as they are now (reads only; nothing is signalled)."""
        ...

    def freeze(self, group: FrozenGroup) -> None:
        """SIGSTOP every member that is still the same process; TargetError if the leader is not."""
        ...

    def thaw(self, group: FrozenGroup) -> Thawed:
        """SIGCONT every member that is still the same process, and nothing else (idempotent)."""
        ...

    def state(self, process: ProcessRef) -> str | None:
        """The kernel's state letter of the process ("T": stopped); None if it is not that one."""
        ...


@runtime_checkable
class HasFreezer(Protocol):
    """A target that can freeze a component's processes in place."""

    def freezer(self) -> Freezer: ...


def freezer_of(target: object) -> Freezer:
    """The target's `Freezer`; a TargetError naming the target when it has none."""
    if isinstance(target, HasFreezer):
        return target.freezer()
    name = getattr(target, "name", "?")
    raise TargetError(
        f"target {name!r} ({type(target).__name__}) cannot freeze a process (SIGSTOP): "
        "process-freeze needs direct access to the component's processes, which only the local "
        "sandbox has; on Kubernetes the API can delete a pod but not stop its processes in "
        "place, and a deletion would be a different drill (pod-kill)"
    )
