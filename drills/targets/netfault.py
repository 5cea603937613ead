"""The network-fault capability: set and clear a fault on one route between two components.

Why a capability of its own: a network fault acts on the connections *between* components, not
on a component, and only a target that carries those connections through something it controls
can do it — the local sandbox through its fault proxy (drills.netfault), a Kubernetes cluster
through Chaos Mesh's NetworkChaos objects (drills.targets.kubernetes.chaos_mesh). A target with
neither gets a clear refusal from `netfaults_of` instead of something else; a mode one of them
cannot express is refused by its `refuses`. Every method raises only TargetError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from drills.errors import TargetError


@dataclass(frozen=True)
class RouteState:
    """One route as the target reports it. The fault proxy's counters are cumulative since it
    started (`proxied`); Chaos Mesh has no byte counters, only its injection records."""

    route: str
    listening: bool
    fault: dict[str, Any] | None
    remaining_s: float | None
    connections: int
    stats: dict[str, float]
    history: tuple[dict[str, Any], ...]
    proxied: bool = True  # `stats` are the fault proxy's byte counters

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RouteState:
        return cls(
            route=str(raw.get("route", "?")),
            listening=bool(raw.get("listening")),
            fault=raw.get("fault") if isinstance(raw.get("fault"), dict) else None,
            remaining_s=raw.get("remaining_s"),
            connections=int(raw.get("connections", 0)),
            stats={k: float(v) for k, v in dict(raw.get("stats") or {}).items()},
            history=tuple(h for h in raw.get("history") or () if isinstance(h, dict)),
        )

    def ended(self, fault_id: str) -> dict[str, Any] | None:
        """How the fault with `fault_id` ended (`ended`: cleared, expired, replaced), if it did."""
        found: dict[str, Any] | None = None
        for item in self.history:
            if item.get("id") == fault_id:
                found = item
        return found


class NetFaults(Protocol):
    """Faults on the platform's routes."""

    def refuses(self, name: str, mode: str) -> str | None:
        """Why `mode` cannot be put on route `name` here (read-only: for preflight and the dry
        run), or None."""
        ...

    def route(self, name: str) -> RouteState: ...

    def set(self, name: str, fault: dict[str, Any]) -> RouteState:
        """Put `fault` (drills.netfault.faults.FaultSpec's JSON, with an `id`) in effect."""
        ...

    def clear(self, name: str, fault_id: str) -> bool:
        """End the route's fault if it is `fault_id`'s; False when none of it is in effect
        (ended already, or the proxy restarted and holds none). Idempotent."""
        ...


@runtime_checkable
class HasNetFaults(Protocol):
    """A target that can disturb its components' connections (fault proxy, Chaos Mesh)."""

    def netfaults(self) -> NetFaults: ...


def netfaults_of(target: object) -> NetFaults:
    """The target's `NetFaults`; a TargetError naming the target when it has none."""
    if isinstance(target, HasNetFaults):
        return target.netfaults()
    name = getattr(target, "name", "?")
    raise TargetError(
        f"target {name!r} ({type(target).__name__}) cannot inject network faults: fault kind "
        "network acts through the local sandbox's fault proxy or, on Kubernetes, Chaos Mesh's "
        "NetworkChaos"
    )
