"""Drill files (YAML) → frozen dataclasses. The only place raw dictionaries exist.

The fault parameters' table and checks live in drills.fault_params (shared with game-day plans);
the client_probe and backlog_source blocks in drills.spec_options.

Every error names the file, the line and the field (`drills/catalog/x.yaml:12: objectives.max_ttd_s:
must be a number > 0`), so `genesis-drill validate` can point a user at the exact spot; tolerances
and objectives are checked here, when the drill is loaded, not half-way through a run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from auditflow.generator import settings as generator_settings
from drills.errors import SpecError
from drills.fault_params import DAY_S, MAX_COUNT, check_component
from drills.spec_options import (
    ClientProbe,
    parse_backlog_source,
    parse_client_probe,
)
from drills.spec_steps import (
    COMPONENTS,
    Fault,
    Step,
    parse_alerts,
    parse_component,
    parse_fault,
    parse_steps,
    union_alerts,
)
from drills.yamlnode import Node, compose_file, fields_of

# Re-exported: the components, a drill's Fault and its Steps are named through drills.spec.
__all__ = ["COMPONENTS", "Abort", "DrillSpec", "Fault", "Objectives", "Probe", "Step", "load"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Upper bounds: a limit that cannot be reached is no limit. A drill, its baseline, its abort and
# its objectives are at most a day (DAY_S, with the fault parameters in drills.fault_params); a
# rate at most what the generator's admin API accepts (auditflow.generator.settings.MAX_RATE,
# else a raw HTTP 400 half-way through the drill).
MAX_RATE = generator_settings.MAX_RATE
MAX_SAMPLES = 1_000
MAX_BACKLOG = 1e9


@dataclass(frozen=True)
class Tolerance:
    """Bounds an SLI must stay within; either may be absent."""

    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        if math.isnan(value):  # no data is not "within tolerance"
            return False
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Probe:
    """One steady-state SLI: a PromQL query returning one number, and its tolerance."""

    name: str
    query: str
    tolerance: Tolerance


@dataclass(frozen=True)
class Load:
    rate: float
    baseline_s: float


@dataclass(frozen=True)
class Objectives:
    max_ttd_s: float | None
    max_ttr_s: float | None
    max_lost: int
    max_duplicated: int
    max_error_budget: float | None
    # Time to notify: a page that never reached the notification service fails the drill.
    max_ttn_s: float | None = None


@dataclass(frozen=True)
class BurnRateLimit:
    """Abort when the error budget burns faster than `rate` over both windows (the SRE
    workbook's multi-window alert: the long window proves it is real, the short that it is
    still happening)."""

    rate: float
    short_window_s: float
    long_window_s: float


@dataclass(frozen=True)
class SliFloor:
    """Abort when a steady-state probe goes below `min` or above `max` — a hard limit, wider
    than the probe's tolerance, past which the drill does more harm than it teaches."""

    probe: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Abort:
    """Abort conditions, checked while the fault is held and while recovery is awaited."""

    max_duration_s: float
    max_error_budget: float | None
    max_burn_rate: BurnRateLimit | None = None
    sli_floor: SliFloor | None = None


@dataclass(frozen=True)
class DrillSpec:
    """A validated drill."""

    name: str
    description: str
    path: Path
    target: str
    fault: Fault
    load: Load
    steady_state: tuple[Probe, ...]
    recovery_samples: int
    backlog_query: str | None
    backlog_max: float
    expected_alerts: tuple[str, ...]
    objectives: Objectives
    abort: Abort
    blast_radius: str
    hypothesis: str
    client_probe: ClientProbe = field(default_factory=ClientProbe)
    # What the drill's recovery waits on (DESIGN.md §4): "events" — the generator's events not
    # yet stored, exact, from PostgreSQL (drills.backlog), `backlog_query` its cross-check;
    # "query" — `backlog_query` itself; "" — no backlog.
    backlog_source: str = ""
    # A composite drill's fault steps (drills.spec_steps), in file order; empty for a drill with
    # one `fault:`. For a composite drill `target` and `fault` are its first step's and
    # `expected_alerts` the union of the steps'.
    steps: tuple[Step, ...] = ()

    @property
    def composite(self) -> bool:
        return bool(self.steps)

    @property
    def faults(self) -> tuple[Fault, ...]:
        """Every fault the drill injects: its steps', or its one."""
        return tuple(step.fault for step in self.steps) or (self.fault,)

    def step_view(self, step: Step) -> DrillSpec:
        """The drill as one step's fault sees it (its FaultContext.spec): that step's target,
        fault and expected alerts, everything else the drill's."""
        return replace(
            self,
            target=step.component,
            fault=step.fault,
            expected_alerts=step.expected_alerts,
            steps=(),
        )


def load(path: Path) -> DrillSpec:
    """Read and validate one drill file (read and composed with bounds by drills.yamlio)."""
    root = compose_file(path)
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    return _parse(Node(path, root, ""), path)


def _parse(root: Node, path: Path) -> DrillSpec:
    given = root.mapping()
    composite = "steps" in given
    if composite:
        for single in ("fault", "target", "expected_alerts"):
            if single in given:
                raise given[single].fail(
                    "a composite drill (`steps:`) has no top-level "
                    f"`{single}`: each step gives its own target, fault and expected_alerts"
                )
    top = fields_of(
        root,
        {"name", "description", "steady_state", "objectives"}
        | ({"steps"} if composite else {"target", "fault", "expected_alerts"}),
        {"load", "abort", "recovery", "blast_radius", "hypothesis", "client_probe"},
    )
    name = top["name"].text()
    if not NAME_RE.match(name):
        raise top["name"].fail("must be lowercase letters, digits and dashes")
    steps = parse_steps(top["steps"]) if composite else ()
    component = steps[0].component if steps else parse_component(top["target"])
    fault = steps[0].fault if steps else parse_fault(top["fault"], component)

    load_node = fields_of(top["load"], set(), {"rate", "baseline_s"}) if "load" in top else {}
    load_spec = Load(
        rate=load_node["rate"].number(0, maximum=MAX_RATE) if "rate" in load_node else 200.0,
        baseline_s=load_node["baseline_s"].number(0, maximum=DAY_S)
        if "baseline_s" in load_node
        else 10.0,
    )

    probes = []
    for item in top["steady_state"].items():
        probe = fields_of(item, {"name", "query", "tolerance"}, set())
        tolerance = fields_of(probe["tolerance"], set(), {"min", "max"})
        if not tolerance:
            raise probe["tolerance"].fail("needs min, max or both")
        low = tolerance["min"].number() if "min" in tolerance else None
        high = tolerance["max"].number() if "max" in tolerance else None
        if low is not None and high is not None and low > high:
            raise probe["tolerance"].fail(f"min {low:g} is greater than max {high:g}")
        probes.append(Probe(probe["name"].text(), probe["query"].text(), Tolerance(low, high)))
    if not probes:
        raise top["steady_state"].fail("needs at least one probe")

    recovery = (
        fields_of(
            top["recovery"], set(), {"samples", "backlog_query", "backlog_max", "backlog_source"}
        )
        if "recovery" in top
        else {}
    )
    alerts = union_alerts(steps) if steps else parse_alerts(top["expected_alerts"])

    objectives = fields_of(
        top["objectives"],
        {"max_lost"},
        {"max_ttd_s", "max_ttr_s", "max_ttn_s", "max_duplicated", "max_error_budget"},
    )
    abort = _abort(top.get("abort"), probes)
    # A fault kind bound to one component (bad-deploy) refuses another target, at its line.
    targets = [
        (s.fault.kind, s.component, i.mapping()["target"])
        for s, i in zip(steps, top["steps"].items() if steps else [], strict=True)
    ] or [(fault.kind, component, top["target"])]
    for kind, target, node in targets:
        check_component(kind, target, node)
    backlog_query = recovery["backlog_query"].text() if "backlog_query" in recovery else None
    return DrillSpec(
        name=name,
        description=top["description"].text(),
        path=path,
        target=component,
        fault=fault,
        load=load_spec,
        steady_state=tuple(probes),
        recovery_samples=recovery["samples"].integer(1, MAX_SAMPLES)
        if "samples" in recovery
        else 5,
        backlog_query=backlog_query,
        backlog_max=recovery["backlog_max"].number(0, maximum=MAX_BACKLOG)
        if "backlog_max" in recovery
        else 50.0,
        expected_alerts=alerts,
        objectives=Objectives(
            max_ttd_s=_opt_number(objectives, "max_ttd_s", DAY_S),
            max_ttr_s=_opt_number(objectives, "max_ttr_s", DAY_S),
            max_lost=objectives["max_lost"].integer(0, MAX_COUNT),
            max_duplicated=objectives["max_duplicated"].integer(0, MAX_COUNT)
            if "max_duplicated" in objectives
            else 0,
            max_error_budget=_opt_number(objectives, "max_error_budget"),
            max_ttn_s=_opt_number(objectives, "max_ttn_s", DAY_S),
        ),
        abort=abort,
        blast_radius=top["blast_radius"].text() if "blast_radius" in top else "",
        hypothesis=top["hypothesis"].text() if "hypothesis" in top else "",
        client_probe=parse_client_probe(top.get("client_probe")),
        backlog_source=parse_backlog_source(recovery, backlog_query),
        steps=steps,
    )


def _opt_number(fields: dict[str, Node], key: str, maximum: float | None = None) -> float | None:
    return fields[key].number(0, exclusive=True, maximum=maximum) if key in fields else None


ABORT_FIELDS = {"max_duration_s", "max_error_budget", "max_burn_rate", "sli_floor"}


def _abort(node: Node | None, probes: list[Probe]) -> Abort:
    """The `abort` block; an SLI floor must name one of the drill's steady-state probes."""
    fields = fields_of(node, set(), ABORT_FIELDS) if node is not None else {}
    burn = None
    if "max_burn_rate" in fields:
        given = fields_of(
            fields["max_burn_rate"], {"rate", "short_window_s", "long_window_s"}, set()
        )
        burn = BurnRateLimit(
            rate=given["rate"].number(0, exclusive=True, maximum=1e6),
            short_window_s=given["short_window_s"].number(1, maximum=DAY_S),
            long_window_s=given["long_window_s"].number(1, maximum=DAY_S),
        )
        if burn.short_window_s >= burn.long_window_s:
            raise given["short_window_s"].fail(
                f"must be shorter than long_window_s ({burn.long_window_s:g}), "
                f"got {burn.short_window_s:g}"
            )
    floor = None
    if "sli_floor" in fields:
        given = fields_of(fields["sli_floor"], {"probe"}, {"min", "max"})
        name = given["probe"].text()
        known = [p.name for p in probes]
        if name not in known:
            raise given["probe"].fail(
                f"no steady-state probe {name!r} (probes: {', '.join(known)})"
            )
        if "min" not in given and "max" not in given:
            raise fields["sli_floor"].fail("needs min, max or both")
        low = given["min"].number() if "min" in given else None
        high = given["max"].number() if "max" in given else None
        if low is not None and high is not None and low > high:
            raise fields["sli_floor"].fail(f"min {low:g} is greater than max {high:g}")
        floor = SliFloor(name, low, high)
    return Abort(
        max_duration_s=fields["max_duration_s"].number(1, maximum=DAY_S)
        if "max_duration_s" in fields
        else 600.0,
        max_error_budget=_opt_number(fields, "max_error_budget"),
        max_burn_rate=burn,
        sli_floor=floor,
    )
