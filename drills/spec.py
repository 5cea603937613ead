"""Drill files (YAML) → frozen dataclasses. The only place raw dictionaries exist.

Every error names the file, the line and the field (`drills/catalog/x.yaml:12: objectives.max_ttd_s:
must be a number > 0`), so `genesis-drill validate` can point a user at the exact spot; tolerances
and objectives are checked here, when the drill is loaded, not half-way through a run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditflow.generator import settings as generator_settings
from drills.errors import SpecError
from drills.spec_options import (
    ClientProbe,
    parse_backlog_source,
    parse_client_probe,
)
from drills.yamlnode import Node, compose_file, fields_of

FAULT_KINDS = (
    "process-kill",
    "process-freeze",
    "service-stop",
    "malformed-events",
    "pvc-wipe-restore",
    "table-lock",
)
COMPONENTS = (
    "audit-event-generator",
    "audit-log-analysis",
    "event-audit-dashboard",
    "notification-service",
    "rabbitmq",
    "postgres",
    "redis",
    "alertmanager",  # not prometheus: the harness measures every drill through it
)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SIGNALS = ("KILL", "TERM", "INT", "QUIT")
# Values a parameter refuses with a pointer to what the user meant (value → why / instead).
SIGNAL_HINTS = (
    (
        "STOP",
        "SIGSTOP freezes the process instead of killing it: use fault kind process-freeze, "
        "with duration_s (how long it stays frozen; rollback continues it)",
    ),
)
# Upper bounds: a limit that cannot be reached is no limit. A drill, its baseline, its abort and
# its objectives are at most a day; a rate at most what the generator's admin API accepts
# (auditflow.generator.settings.MAX_RATE, else a raw HTTP 400 half-way through the drill).
DAY_S = 24 * 3600.0
MAX_RATE = generator_settings.MAX_RATE
MAX_COUNT = 1_000_000  # malformed events, lost/duplicated events
MAX_SAMPLES = 1_000
MAX_BACKLOG = 1e9
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Param:
    """One fault parameter: its type, default and allowed range or values."""

    type: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    # A drill file must give it (a game-day step that overrides other parameters need not).
    required: bool = False
    hints: tuple[tuple[str, str], ...] = ()


# Every fault kind's parameters, checked at load time with the file's line numbers.
FAULT_PARAMS: dict[str, dict[str, Param]] = {
    "process-kill": {
        "signal": Param(
            str,
            "KILL",
            choices=SIGNALS,
            help="signal sent to the process group",
            hints=SIGNAL_HINTS,
        ),
    },
    "process-freeze": {
        "duration_s": Param(
            float,
            None,
            minimum=1,
            maximum=3600,
            required=True,
            help="how long the processes stay stopped (SIGSTOP) before rollback continues them",
        ),
    },
    "service-stop": {
        "duration_s": Param(
            float, 20.0, minimum=0.5, maximum=DAY_S, help="how long the component stays down"
        ),
        "mode": Param(str, "kill", choices=("kill", "term"), help="kill -9 or a graceful stop"),
        "check_counters": Param(
            bool, False, help="after recovery, the dashboard's totals must equal PostgreSQL's"
        ),
        "heartbeat": Param(
            str, "", help="a dead man's switch alert (Watchdog): MonitoringBlind must be told"
        ),
        "told_within_s": Param(
            float, 30.0, minimum=1, maximum=DAY_S, help="how soon MonitoringBlind must arrive"
        ),
    },
    "malformed-events": {
        "count": Param(
            int, 200, minimum=1, maximum=MAX_COUNT, help="malformed messages to publish"
        ),
        "interval_s": Param(
            float, 0.02, minimum=0, maximum=60, help="pause between malformed messages"
        ),
        "seed": Param(
            int, 0, minimum=0, maximum=MAX_SEED, help="seed of the hypothesis strategies"
        ),
    },
    "pvc-wipe-restore": {
        "events_after_backup_s": Param(
            float,
            10.0,
            minimum=0,
            maximum=DAY_S,
            help="load that runs after the backup, before the wipe",
        ),
        "redrive": Param(bool, True, help="replay events missing after restore from the archive"),
    },
    "table-lock": {
        # An hour at most: every write of the platform waits while it is held.
        "duration_s": Param(
            float, 30.0, minimum=1, maximum=3600, help="how long audit_events stays locked"
        ),
    },
}


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
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


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


def load(path: Path) -> DrillSpec:
    """Read and validate one drill file (read and composed with bounds by drills.yamlio)."""
    root = compose_file(path)
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    return _parse(Node(path, root, ""), path)


def _parse(root: Node, path: Path) -> DrillSpec:
    top = fields_of(
        root,
        {"name", "description", "target", "fault", "steady_state", "expected_alerts", "objectives"},
        {"load", "abort", "recovery", "blast_radius", "hypothesis", "client_probe"},
    )
    name = top["name"].text()
    if not NAME_RE.match(name):
        raise top["name"].fail("must be lowercase letters, digits and dashes")
    target = fields_of(top["target"], {"component"}, set())
    component = target["component"].text()
    if component not in COMPONENTS:
        raise target["component"].fail(f"unknown component (known: {', '.join(COMPONENTS)})")

    fault_fields = fields_of(top["fault"], {"kind"}, {"params"})
    kind = fault_fields["kind"].text()
    if kind not in FAULT_KINDS:
        raise fault_fields["kind"].fail(f"unknown fault kind (known: {', '.join(FAULT_KINDS)})")
    params = _fault_params(kind, fault_fields.get("params"), top["fault"])

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
    alerts = tuple(item.text() for item in top["expected_alerts"].items())

    objectives = fields_of(
        top["objectives"],
        {"max_lost"},
        {"max_ttd_s", "max_ttr_s", "max_ttn_s", "max_duplicated", "max_error_budget"},
    )
    abort = _abort(top.get("abort"), probes)
    backlog_query = recovery["backlog_query"].text() if "backlog_query" in recovery else None
    return DrillSpec(
        name=name,
        description=top["description"].text(),
        path=path,
        target=component,
        fault=Fault(kind, params),
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
    )


def _fault_params(kind: str, node: Node | None, fault: Node | None = None) -> dict[str, Any]:
    """Checked parameters, defaults filled in; `fault` (the drill's `fault` block) enforces the
    required ones — without it (a game-day step's overrides) only what is given is checked."""
    schema = FAULT_PARAMS[kind]
    required = {name for name, p in schema.items() if p.required} if fault is not None else set()
    if node is None and required and fault is not None:
        raise fault.fail(f"{kind} needs params: {', '.join(sorted(required))}")
    given = fields_of(node, required, set(schema)) if node is not None else {}
    params: dict[str, Any] = {}
    for name, param in schema.items():
        if name not in given:
            params[name] = param.default
            continue
        child = given[name]
        if param.type is bool:
            value = child.scalar()
            if not isinstance(value, bool):
                raise child.fail(f"must be true or false, got {value!r}")
        elif param.type is int:
            high = None if param.maximum is None else int(param.maximum)
            value = child.integer(int(param.minimum or 0), high)
        elif param.type is float:
            value = child.number(param.minimum, maximum=param.maximum)
        else:
            value = child.text()
            hint = dict(param.hints).get(value)
            if hint is not None:
                raise child.fail(f"{value!r} is not accepted here: {hint}")
            if param.choices and value not in param.choices:
                raise child.fail(f"must be one of {', '.join(param.choices)}, got {value!r}")
        params[name] = value
    if "told_within_s" in given and not params.get("heartbeat"):  # parsed, never acted on
        raise given["told_within_s"].fail("applies only with `heartbeat` (the dead man's switch)")
    return params


def _opt_number(fields: dict[str, Node], key: str, maximum: float | None = None) -> float | None:
    return fields[key].number(0, exclusive=True, maximum=maximum) if key in fields else None


# The fault parameter checks, shared with game-day plans (a step may override a drill's params).
fault_params = _fault_params


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
