"""network: disturb one proxied route — latency, bandwidth, blackhole, reset or partition.

The sandbox carries the analysis service's connections to RabbitMQ and PostgreSQL, and the
dashboard's to PostgreSQL, through its fault proxy (drills.netfault; the modes are described in
drills.netfault.faults). This fault tells the proxy, through the target's `NetFaults`
capability, to misbehave on one route for `duration_s`, and reads the proxy's counters while it
holds, as evidence of what the bytes really went through. On Kubernetes the same capability is
Chaos Mesh (drills.targets.kubernetes.chaos_mesh): one NetworkChaos object per fault, whose
injection records are the evidence instead (there are no byte counters).

Steps (DESIGN §4, §5):

* inject — refuse a mode the target cannot express (Chaos Mesh has no `reset`) before anything
  is journaled; journal the fault with its id (`netfault-intent`: route, id, what was asked)
  *before* the control call, then set it. `t_inject` is when the proxy confirmed it (on
  Kubernetes: when Chaos Mesh reported the object AllInjected): from then on every chunk on the
  route is treated so.
* hold — `duration_s`, looking at the route once a second (connections, bytes dropped or
  delayed, resets, whether it listens).
* rollback — clear the fault by its id, here or from `recover` (rebuilt from the intent record):
  a fault somebody else set since is left alone. Should nobody ever clear it, the proxy (or Chaos
  Mesh, from the object's `duration`) ends it at its deadline by itself, so a crashed harness
  never leaves the platform cut off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from drills.errors import PermanentError, TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.journal import Journal
from drills.netfault.faults import MODE_PARAMS
from drills.netfault.routes import ROUTES
from drills.targets.netfault import RouteState, netfaults_of

READY_TIMEOUT_S = 90.0
LOOK_S = 1.0
LOOK_MARGIN_S = 0.3

J_INTENT = "netfault-intent"  # before the control call: route, id and the fault asked for
J_CLEARED = "netfault-cleared"  # after rollback: whether the proxy still held it


def journaled_fault(journal: Journal) -> tuple[str, str] | None:
    """(route, id) of the fault this run set (or was about to set), from its intent record."""
    for record in reversed(journal.records()):
        if record.get("event") == J_INTENT:
            route, ident = record.get("route"), record.get("id")
            if isinstance(route, str) and isinstance(ident, str):
                return route, ident
    return None


@dataclass(frozen=True)
class Look:
    """The route as seen once during the hold."""

    at: float
    connections: int
    listening: bool
    fault: str | None
    stats: dict[str, float]


class NetworkFault:
    kind = "network"

    def __init__(
        self,
        route: str,
        mode: str,
        duration_s: float,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        bandwidth_kbps: float = 0.0,
    ) -> None:
        self.route = route
        self.mode = mode
        self.duration_s = duration_s
        self.values = {
            "latency_ms": latency_ms,
            "jitter_ms": jitter_ms,
            "bandwidth_kbps": bandwidth_kbps,
        }
        self.fault_id = ""
        self.before: RouteState | None = None
        self.looks: list[Look] = []
        self.cleared_at: float | None = None
        self.cleared: bool | None = None
        self.after: RouteState | None = None

    def _fault(self, fault_id: str) -> dict[str, Any]:
        fault: dict[str, Any] = {"mode": self.mode, "duration_s": self.duration_s, "id": fault_id}
        fault.update({name: self.values[name] for name in MODE_PARAMS[self.mode]})
        return fault

    def _describe(self) -> str:
        what = {
            "latency": f"+{self.values['latency_ms']:g} ms ± {self.values['jitter_ms']:g} ms "
            "in each direction",
            "bandwidth": f"{self.values['bandwidth_kbps']:g} kbit/s per direction",
            "blackhole": "every byte dropped both ways, connections kept open (none closed, "
            "none refused)",
            "reset": "every open connection reset (RST)",
            "partition": "open connections reset, new ones refused",
        }[self.mode]
        return f"{self.mode} ({what})"

    def plan(self, ctx: FaultContext) -> list[str]:
        route = ROUTES[self.route]
        lines = [
            f"on {ctx.target.describe()}: put {self._describe()} on route {route.name} "
            f"({route.client} → {route.server}) through the target's network faults (the fault "
            "proxy locally, a Chaos Mesh NetworkChaos on Kubernetes), journaling its id first",
            f"hold it {self.duration_s:g} s; the proxy (or Chaos Mesh) ends it at that deadline "
            "by itself even if the harness dies",
            "rollback: clear the fault by its id (one somebody else set since is left alone)",
        ]
        try:
            why = netfaults_of(ctx.target).refuses(self.route, self.mode)
        except TargetError as exc:
            why = str(exc)
        if why is not None:
            lines.append(f"refused on this target: {why}")
        return lines

    def preflight(self, ctx: FaultContext) -> list[str]:
        try:
            netfaults = netfaults_of(ctx.target)
            why = netfaults.refuses(self.route, self.mode)
            if why is not None:
                return [why]
            state = netfaults.route(self.route)
        except TargetError as exc:
            return [str(exc)]
        reasons = []
        if state.fault is not None:
            reasons.append(
                f"route {self.route} already has a fault in effect ({state.fault.get('mode')}, "
                f"id {state.fault.get('id')!r}, {state.remaining_s} s left)"
            )
        if not state.listening:
            reasons.append(f"the fault proxy does not listen for route {self.route}")
        client = ROUTES[self.route].client
        if not ctx.target.state(client).ready:
            reasons.append(f"{client} is not running and ready")
        return reasons

    def inject(self, ctx: FaultContext) -> Injection:
        netfaults = netfaults_of(ctx.target)
        why = netfaults.refuses(self.route, self.mode)
        if why is not None:
            raise PermanentError(why)  # before the intent: nothing was set
        self.fault_id = f"{ctx.run_dir.name or 'run'}:{self.route}"
        fault = self._fault(self.fault_id)
        ctx.journal.write(J_INTENT, route=self.route, id=self.fault_id, fault=fault)
        self.before = netfaults.set(self.route, fault)
        at = time.time()
        ctx.emit("fault", {"step": "network", "route": self.route, "mode": self.mode})
        return Injection(
            at,
            "harness clock: the fault proxy confirmed the fault (control channel)"
            if self.before.proxied
            else "harness clock: Chaos Mesh reported the NetworkChaos AllInjected (polled)",
            {
                "route": self.route,
                "mode": self.mode,
                "id": self.fault_id,
                "duration_s": self.duration_s,
                "connections_at_inject": self.before.connections,
                **{name: self.values[name] for name in MODE_PARAMS[self.mode]},
            },
        )

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        netfaults = netfaults_of(ctx.target)
        end = injection.at + self.duration_s
        while True:
            left = end - time.time()
            if left <= 0 or ctx.stop.wait(min(LOOK_S, left)):
                return
            if time.time() > end - LOOK_MARGIN_S:
                continue  # the proxy's own deadline is about now: no look in the race
            try:
                state = netfaults.route(self.route)
            except TargetError:
                continue  # one missed look is no evidence either way
            mode = state.fault.get("mode") if state.fault else None
            self.looks.append(
                Look(time.time(), state.connections, state.listening, mode, state.stats)
            )

    def rollback(self, ctx: FaultContext) -> None:
        journaled = journaled_fault(ctx.journal)
        route, fault_id = (self.route, self.fault_id) if self.fault_id else journaled or ("", "")
        if not fault_id:
            return  # no intent record: nothing was set
        cleared = netfaults_of(ctx.target).clear(route, fault_id)
        ctx.journal.write(J_CLEARED, route=route, id=fault_id, still_in_effect=cleared)
        if self.cleared_at is None:
            self.cleared_at, self.cleared = time.time(), cleared

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        client = ROUTES[self.route].client
        ready_at = ctx.target.wait_ready(client, READY_TIMEOUT_S)
        try:
            self.after = netfaults_of(ctx.target).route(self.route)
        except TargetError:
            self.after = None
        return report(self, injection, ready_at)


def _delta(looks: list[Look], before: RouteState | None, key: str) -> float:
    if not looks or before is None:
        return 0.0
    return looks[-1].stats.get(key, 0.0) - before.stats.get(key, 0.0)


def report(fault: NetworkFault, injection: Injection, ready_at: float) -> FaultReport:
    """What the proxy saw on the route during the hold, and checks per mode (pure)."""
    looks, before, after = fault.looks, fault.before, fault.after
    ended = after.ended(fault.fault_id) if after is not None else None
    held = None
    if ended is not None and isinstance(ended.get("ended_at"), int | float):
        held = round(float(ended["ended_at"]) - injection.at, 3)
    elif fault.cleared_at is not None:
        held = round(fault.cleared_at - injection.at, 3)
    delayed = _delta(looks, before, "delayed_chunks")
    added = _delta(looks, before, "delay_added_s")
    figures: dict[str, float | int | str | None] = {
        "route": fault.route,
        "mode": fault.mode,
        "held_seconds": held,
        "ended": str(ended.get("ended")) if ended else None,
        "looks": len(looks),
        "min_connections_during": min((look.connections for look in looks), default=None),
        "dropped_bytes": int(_delta(looks, before, "dropped_bytes")),
        "resets_during": int(_delta(looks, before, "resets")),
        "delayed_chunks": int(delayed),
        "mean_added_delay_ms": round(added / delayed * 1000, 1) if delayed else None,
    }
    in_effect = [look for look in looks if look.fault == fault.mode]
    checks = []
    if fault.duration_s >= 2 * LOOK_S:  # a shorter fault (a one-off reset) gets no look
        checks.append(
            Check(
                f"the proxy held {fault.mode} on {fault.route} throughout the hold",
                bool(looks) and len(in_effect) == len(looks),
                f"in effect at {len(in_effect)} of {len(looks)} looks",
            )
        )
    checks.append(
        Check(
            "the fault was ended (cleared by rollback or at its deadline), nothing left in effect",
            after is not None and after.fault is None and ended is not None,
            f"ended: {ended.get('ended') if ended else 'not seen'}; "
            f"now {after.fault if after is not None else 'unknown'}",
        )
    )
    if before is None or before.proxied:
        checks.extend(_mode_checks(fault, figures, looks))
    else:  # Chaos Mesh: no byte counters, only its injection records
        injected = [look for look in looks if look.stats.get("injected_records", 0) > 0]
        checks.append(
            Check(
                "Chaos Mesh reported the fault injected into the selected pods at every look",
                bool(looks) and len(injected) == len(looks),
                f"injected records at {len(injected)} of {len(looks)} looks",
            )
        )
    return FaultReport(figures=figures, checks=tuple(checks), ready_at=ready_at)


def _mode_checks(
    fault: NetworkFault, figures: dict[str, float | int | str | None], looks: list[Look]
) -> list[Check]:
    if fault.mode == "blackhole":
        low = figures["min_connections_during"]
        return [
            Check(
                "bytes were dropped, not delivered",
                int(figures["dropped_bytes"] or 0) > 0,
                f"{figures['dropped_bytes']} bytes dropped",
            ),
            Check(
                "connections kept open through the blackhole (none reset by the proxy)",
                figures["resets_during"] == 0 and isinstance(low, int) and low > 0,
                f"{figures['resets_during']} resets; at least {low} connection(s) open",
            ),
        ]
    if fault.mode == "partition":
        return [
            Check(
                "new connections refused throughout (the route's listener closed)",
                bool(looks) and not any(look.listening for look in looks),
                f"listening at {sum(look.listening for look in looks)} of {len(looks)} looks",
            )
        ]
    if fault.mode == "latency":
        wanted = fault.values["latency_ms"] - fault.values["jitter_ms"]
        mean = figures["mean_added_delay_ms"]
        return [
            Check(
                f"every delayed chunk waited at least {wanted:g} ms on average",
                isinstance(mean, float) and mean >= wanted,
                f"{figures['delayed_chunks']} chunks, mean {mean} ms added",
            )
        ]
    if fault.mode == "bandwidth":
        return [
            Check(
                "bytes were paced",
                int(figures["delayed_chunks"] or 0) > 0,
                f"{figures['delayed_chunks']} chunks paced",
            )
        ]
    return []
