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

import yaml

from auditflow.generator import settings as generator_settings
from drills import yamlio
from drills.errors import BadFile, SpecError

FAULT_KINDS = ("process-kill", "service-stop", "malformed-events", "pvc-wipe-restore")
COMPONENTS = (
    "audit-event-generator",
    "audit-log-analysis",
    "event-audit-dashboard",
    "notification-service",
    "rabbitmq",
    "postgres",
    "redis",
)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SIGNALS = ("KILL", "TERM", "INT", "QUIT", "STOP")
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


# Every fault kind's parameters, checked at load time with the file's line numbers.
FAULT_PARAMS: dict[str, dict[str, Param]] = {
    "process-kill": {
        "signal": Param(str, "KILL", choices=SIGNALS, help="signal sent to the process group"),
    },
    "service-stop": {
        "duration_s": Param(
            float, 20.0, minimum=0.5, maximum=DAY_S, help="how long the component stays down"
        ),
        "mode": Param(str, "kill", choices=("kill", "term"), help="kill -9 or a graceful stop"),
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


class _Node:
    """A YAML mapping/sequence/scalar with the line each value came from."""

    def __init__(self, path: Path, node: yaml.Node, where: str) -> None:
        self.path, self.node, self.where = path, node, where

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def fail(self, why: str, sub: str | None = None) -> SpecError:
        return SpecError(self.path, self.line, self._join(sub) if sub else self.where, why)

    def _join(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def mapping(self) -> dict[str, _Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("must be a mapping")
        result: dict[str, _Node] = {}
        for key_node, value_node in self.node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError(
                    self.path,
                    key_node.start_mark.line + 1,
                    self.where,
                    "a key must be a plain string",
                )
            key = str(key_node.value)
            if key in result:
                raise SpecError(
                    self.path, key_node.start_mark.line + 1, self._join(key), "duplicate key"
                )
            result[key] = _Node(self.path, value_node, self._join(key))
        return result

    def items(self) -> list[_Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("must be a list")
        return [
            _Node(self.path, child, f"{self.where}[{index}]")
            for index, child in enumerate(self.node.value)
        ]

    def scalar(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail("must be a single value")
        return self._construct()

    def text(self) -> str:
        value = self.scalar()
        if not isinstance(value, str) or not value.strip():
            raise self.fail("must be a non-empty string")
        return value.strip()

    def number(
        self, minimum: float | None = None, exclusive: bool = False, maximum: float | None = None
    ) -> float:
        """A finite number within the bounds: NaN compares false with everything, so a NaN or
        infinite limit would silently switch the limit off."""
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"must be a number, got {value!r}")
        if (isinstance(value, int) and abs(value) > 1e300) or not math.isfinite(value):
            raise self.fail(f"must be a finite number, got {_short(value)}")
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            raise self.fail(f"must be {'>' if exclusive else '>='} {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be <= {maximum:g}, got {_short(value)}")
        return float(value)

    def integer(self, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"must be an integer >= {minimum}, got {_short(value)}")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be an integer <= {maximum}, got {_short(value)}")
        return value

    def plain(self) -> Any:
        return self._construct()

    def _construct(self) -> Any:
        # `!!int abc` or `!!bool maybe` passes the tag check and fails in PyYAML's constructor.
        try:
            return yaml.safe_load(yaml.serialize(self.node))
        except (yaml.YAMLError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise self.fail(f"not a valid value ({type(exc).__name__})") from None


def _short(value: object) -> str:
    """A value for an error message, cut short (a 5,000-digit number is not worth printing)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        return "a number too long to print"
    return text if len(text) <= 40 else f"{text[:37]}..."


def _fields(node: _Node, required: set[str], optional: set[str]) -> dict[str, _Node]:
    mapping = node.mapping()
    for key, child in mapping.items():
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise child.fail(f"unknown field (allowed: {allowed})")
    for key in sorted(required):
        if key not in mapping:
            raise node.fail(f"missing required field {key!r}")
    return mapping


def load(path: Path) -> DrillSpec:
    """Read and validate one drill file (read and composed with bounds by drills.yamlio)."""
    root = compose_file(path)
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    return _parse(_Node(path, root, ""), path)


def compose_file(path: Path) -> yaml.Node | None:
    """A YAML file's node tree, every reading and parsing failure a `SpecError` (file:line)."""
    try:
        return yamlio.load_file(path)[1]
    except BadFile as exc:
        raise SpecError(path, exc.line, "", exc.why) from None


def _parse(root: _Node, path: Path) -> DrillSpec:
    top = _fields(
        root,
        {"name", "description", "target", "fault", "steady_state", "expected_alerts", "objectives"},
        {"load", "abort", "recovery", "blast_radius", "hypothesis"},
    )
    name = top["name"].text()
    if not NAME_RE.match(name):
        raise top["name"].fail("must be lowercase letters, digits and dashes")
    target = _fields(top["target"], {"component"}, set())
    component = target["component"].text()
    if component not in COMPONENTS:
        raise target["component"].fail(f"unknown component (known: {', '.join(COMPONENTS)})")

    fault_fields = _fields(top["fault"], {"kind"}, {"params"})
    kind = fault_fields["kind"].text()
    if kind not in FAULT_KINDS:
        raise fault_fields["kind"].fail(f"unknown fault kind (known: {', '.join(FAULT_KINDS)})")
    params = _fault_params(kind, fault_fields.get("params"))

    load_node = _fields(top["load"], set(), {"rate", "baseline_s"}) if "load" in top else {}
    load_spec = Load(
        rate=load_node["rate"].number(0, maximum=MAX_RATE) if "rate" in load_node else 200.0,
        baseline_s=load_node["baseline_s"].number(0, maximum=DAY_S)
        if "baseline_s" in load_node
        else 10.0,
    )

    probes = []
    for item in top["steady_state"].items():
        probe = _fields(item, {"name", "query", "tolerance"}, set())
        tolerance = _fields(probe["tolerance"], set(), {"min", "max"})
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
        _fields(top["recovery"], set(), {"samples", "backlog_query", "backlog_max"})
        if "recovery" in top
        else {}
    )
    alerts = tuple(item.text() for item in top["expected_alerts"].items())

    objectives = _fields(
        top["objectives"],
        {"max_lost"},
        {"max_ttd_s", "max_ttr_s", "max_duplicated", "max_error_budget"},
    )
    abort = _abort(top.get("abort"), probes)
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
        backlog_query=recovery["backlog_query"].text() if "backlog_query" in recovery else None,
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
        ),
        abort=abort,
        blast_radius=top["blast_radius"].text() if "blast_radius" in top else "",
        hypothesis=top["hypothesis"].text() if "hypothesis" in top else "",
    )


def _fault_params(kind: str, node: _Node | None) -> dict[str, Any]:
    schema = FAULT_PARAMS[kind]
    given = _fields(node, set(), set(schema)) if node is not None else {}
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
            if param.choices and value not in param.choices:
                raise child.fail(f"must be one of {', '.join(param.choices)}, got {value!r}")
        params[name] = value
    return params


def _opt_number(fields: dict[str, _Node], key: str, maximum: float | None = None) -> float | None:
    return fields[key].number(0, exclusive=True, maximum=maximum) if key in fields else None


# Public names for the other loaders of YAML (game-day plans) that reuse these checks.
Node = _Node
fields = _fields
fault_params = _fault_params


ABORT_FIELDS = {"max_duration_s", "max_error_budget", "max_burn_rate", "sli_floor"}


def _abort(node: _Node | None, probes: list[Probe]) -> Abort:
    """The `abort` block; an SLI floor must name one of the drill's steady-state probes."""
    fields = _fields(node, set(), ABORT_FIELDS) if node is not None else {}
    burn = None
    if "max_burn_rate" in fields:
        given = _fields(fields["max_burn_rate"], {"rate", "short_window_s", "long_window_s"}, set())
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
        given = _fields(fields["sli_floor"], {"probe"}, {"min", "max"})
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
