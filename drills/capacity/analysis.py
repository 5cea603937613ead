"""From the measured steps to the answers: capacity, bottleneck, headroom and projections (pure).

- Capacity: the highest offered rate whose step held (drills.capacity.plan) — and only when the
  climb's ledger shows 0 lost and 0 duplicated; a climb that lost events found no capacity.
- Bottleneck: at the step that failed (or, when every step held, the last one), the pipeline
  component using the largest share of its own CPU ceiling (drills.capacity.usage). Below
  `SATURATED` no component is CPU-bound and the report says so instead of naming one.
- Projection: per component, the rate at which it would reach its ceiling, assuming its CPU per
  event stays what it was at the highest step that held — linear, and said to be so.
- Headroom: the platform's load before the climb (from Prometheus) against the capacity found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drills.capacity.usage import PIPELINE

SATURATED = 0.8  # a component using ≥ 80 % of its ceiling over a step is saturated


@dataclass(frozen=True)
class ComponentStep:
    """One component over one step."""

    cpu_cores: float  # CPU seconds used / the step's seconds
    ceiling_cores: float
    cpu_us_per_event: float | None  # CPU microseconds per event stored in the step
    rss_bytes: int

    @property
    def utilisation(self) -> float:
        return self.cpu_cores / self.ceiling_cores if self.ceiling_cores > 0 else 0.0


@dataclass(frozen=True)
class Step:
    """One load step as measured."""

    offered: float
    seconds: float
    confirmed_per_s: float
    stored_per_s: float
    peak_buffer: int
    share_within: float | None  # stored within the SLO threshold, from Prometheus
    p99_s: float | None
    held: bool
    why: str
    components: Mapping[str, ComponentStep] = field(default_factory=dict)
    machine_cores: float = 0.0  # all components together, in cores

    def to_json(self) -> dict[str, Any]:
        return {
            "offered_per_second": self.offered,
            "seconds": round(self.seconds, 2),
            "confirmed_per_second": round(self.confirmed_per_s, 1),
            "stored_per_second": round(self.stored_per_s, 1),
            "peak_generator_buffer": self.peak_buffer,
            "share_within_threshold": None
            if self.share_within is None
            else round(self.share_within, 5),
            "p99_seconds": None if self.p99_s is None else round(self.p99_s, 4),
            "held": self.held,
            "why": self.why,
            "machine_cpu_cores": round(self.machine_cores, 3),
            "components": {
                name: {
                    "cpu_cores": round(c.cpu_cores, 3),
                    "ceiling_cores": c.ceiling_cores,
                    "utilisation": round(c.utilisation, 3),
                    "cpu_microseconds_per_event": None
                    if c.cpu_us_per_event is None
                    else round(c.cpu_us_per_event, 1),
                    "rss_bytes": c.rss_bytes,
                }
                for name, c in self.components.items()
            },
        }


@dataclass(frozen=True)
class Bottleneck:
    component: str | None  # None: no pipeline component was CPU-saturated
    utilisation: float
    at_rate: float
    text: str


@dataclass(frozen=True)
class Projection:
    component: str
    cpu_us_per_event: float
    ceiling_cores: float
    saturates_at: float  # events/s

    @property
    def text(self) -> str:
        return (
            f"{self.component}: {self.cpu_us_per_event:,.0f} µs of CPU per event, ceiling "
            f"{self.ceiling_cores:g} core(s) → about {self.saturates_at:,.0f} events/s"
        )


def capacity(steps: Sequence[Step], lost: int | None, duplicated: int | None) -> float | None:
    """The highest rate held for a whole step, or None (no step held, or the ledger failed)."""
    if lost is None or duplicated is None or lost or duplicated:
        return None
    held = [s.offered for s in steps if s.held]
    return max(held) if held else None


def lower_bound(steps: Sequence[Step]) -> bool:
    """True when every step held: the climb ran out of steps, not of capacity, so the figure is
    a lower bound (start higher, or allow more steps)."""
    return bool(steps) and all(s.held for s in steps)


def bottleneck(steps: Sequence[Step]) -> Bottleneck | None:
    """The saturated pipeline component at the step that ended the climb (see the docstring)."""
    if not steps:
        return None
    failed = next((s for s in steps if not s.held), None)
    at = failed or steps[-1]
    candidates = {n: c for n, c in at.components.items() if n in PIPELINE}
    if not candidates:
        return Bottleneck(None, 0.0, at.offered, "no component's CPU was measured")
    name, worst = max(candidates.items(), key=lambda item: item[1].utilisation)
    if worst.utilisation < SATURATED:
        return Bottleneck(
            None,
            worst.utilisation,
            at.offered,
            f"no pipeline component was CPU-bound at {at.offered:,.0f} events/s (the busiest, "
            f"{name}, used {worst.utilisation:.0%} of its {worst.ceiling_cores:g}-core ceiling; "
            f"the whole platform {at.machine_cores:.2f} cores)",
        )
    return Bottleneck(
        name,
        worst.utilisation,
        at.offered,
        f"{name} at {at.offered:,.0f} events/s: {worst.cpu_cores:.2f} of its "
        f"{worst.ceiling_cores:g}-core ceiling ({worst.utilisation:.0%})",
    )


def projections(steps: Sequence[Step]) -> list[Projection]:
    """Per pipeline component, where it would saturate, from the highest step that held."""
    held = [s for s in steps if s.held]
    if not held:
        return []
    at = max(held, key=lambda s: s.offered)
    found = []
    for name in PIPELINE:
        c = at.components.get(name)
        if c is None or not c.cpu_us_per_event or c.cpu_us_per_event <= 0:
            continue
        found.append(
            Projection(
                name,
                c.cpu_us_per_event,
                c.ceiling_cores,
                c.ceiling_cores * 1e6 / c.cpu_us_per_event,
            )
        )
    return sorted(found, key=lambda p: p.saturates_at)


def headroom(current: float | None, found: float | None) -> str:
    """The load before the climb against the capacity, in words."""
    if found is None:
        return "no capacity was found, so there is no headroom to state"
    if current is None:
        return f"capacity {found:,.0f} events/s; the load before the climb was not measured"
    if current <= 0:
        return f"capacity {found:,.0f} events/s; the platform carried no load before the climb"
    return (
        f"capacity {found:,.0f} events/s against {current:,.1f} events/s before the climb: "
        f"{found / current:,.1f}x headroom ({(1 - current / found):.1%} of capacity unused)"
    )


def advice(found: Bottleneck | None, ahead: Sequence[Projection], on_cluster: bool) -> str:
    """Which CPU limit to raise first on a cluster (the saturated component's, else the one
    projected to saturate soonest); locally, where the ceiling is the GIL or the machine, what
    to do instead."""
    name = found.component if found and found.component else (ahead[0].component if ahead else None)
    if name is None:
        return "no component's CPU was measured, so no limit can be named"
    if on_cluster:
        return f"raise the CPU limit of {name} first"
    return (
        f"{name} is first to run out of CPU here: give it more processes or cores "
        "(on the cluster, its CPU limit)"
    )
