"""Game-day plans: `drills/gamedays/*.yaml` (or a user's file) parsed into frozen dataclasses.

Why a module of its own: a plan is the edge where a team's YAML enters the game day, so it is
validated here once, with `file:line: field: why` errors exactly as drill files are in
`drills.spec` (exit 2, never a traceback). Each step of the plan is a catalog drill with the plan's
overrides; `resolve_step` writes that drill out and has `drills.spec` re-validate it, so a run
directory's `drill.yaml` is exactly what ran. A bare plan name (`weekly`) is a packaged plan, found
through `drills.packaged` — the in-cluster CronJob has no checkout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from drills import packaged
from drills.errors import InvalidInput, SpecError
from drills.fault_params import DAY_S, FAULT_PARAMS, fault_params
from drills.runner import load_spec_or_name
from drills.spec import MAX_RATE, DrillSpec
from drills.spec import load as load_spec
from drills.yamlio import read_text
from drills.yamlnode import Node, compose_file, fields_of

CATALOG = packaged.catalog()
GAMEDAYS = packaged.gamedays()
MISSED_POLICIES = ("skip", "run-once")
BUDGET_ACTIONS = ("skip", "stop")
FAILURE_ACTIONS = ("continue", "stop")


@dataclass(frozen=True)
class PlanDrill:
    """One step of a plan: a catalog drill (or file) and the plan's overrides."""

    drill: str
    path: Path
    line: int
    params: Mapping[str, Any] = field(default_factory=dict)
    load_rate: float | None = None
    baseline_s: float | None = None
    max_duration_s: float | None = None


@dataclass(frozen=True)
class BudgetGate:
    """Below `floor` (remaining share of the error budget, 0..1) the next drill is skipped, or
    the whole game day stops."""

    floor: float
    when_below: str


@dataclass(frozen=True)
class AbortPolicy:
    """What a drill that missed an objective (`on_failure`) or could not run (`on_error`) does to
    the rest of the game day. A failed rollback or an interrupt always stops it."""

    on_failure: str
    on_error: str


@dataclass(frozen=True)
class Roles:
    facilitator: str
    responders: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """A validated game-day plan."""

    name: str
    description: str
    path: Path
    schedule: str
    missed_runs: str
    cool_down_s: float
    quiet_timeout_s: float
    budget: BudgetGate
    abort: AbortPolicy
    roles: Roles
    drills: tuple[PlanDrill, ...]

    def only(self, names: Sequence[str]) -> Plan:
        """The plan restricted to `names` (in the plan's order); unknown names are an error."""
        if not names:
            return self
        known = [step.drill for step in self.drills]
        # A name with a newline or escape is quoted, so the error stays one harmless line.
        unknown = [n if n.isprintable() else repr(n) for n in names if n not in known]
        if unknown:
            raise InvalidInput(
                f"--only {', '.join(unknown)}: not in plan {self.name} (plan: {', '.join(known)})"
            )
        steps = tuple(step for step in self.drills if step.drill in names)
        return Plan(**{**self.__dict__, "drills": steps})


def plan_path(value: Path) -> Path:
    """A PLAN argument: a plan file as given, or the packaged plan a bare name (`weekly`: no
    .yaml, no such file) names — what the in-cluster CronJob runs, since the image has no checkout.
    """
    if value.suffix in (".yaml", ".yml") or value.exists() or value.parent != Path("."):
        return value  # read (and refused, if it must be) by load_plan with its file name
    candidate = GAMEDAYS / f"{value.name}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in GAMEDAYS.glob("*.yaml")))
        raise InvalidInput(f"unknown game-day plan {str(value)!r} (packaged plans: {known})")
    return candidate


def packaged_plan_name(plan: Plan) -> str | None:
    """The name under which `plan` is packaged (`weekly`), or None for a plan file of the user's."""
    packaged_file = GAMEDAYS / f"{plan.path.stem}.yaml"
    if packaged_file.is_file() and packaged_file.resolve() == plan.path.resolve():
        return plan.path.stem
    return None


def load_plan(path: Path, catalog: Path = CATALOG) -> Plan:
    """Read and validate a game-day plan; errors are `file:line: field: why` (exit 2)."""
    root = compose_file(path)  # bounded, non-blocking read and YAML checks (drills.yamlio)
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    return _parse_plan(Node(path, root, ""), path, catalog)


def _choice(node: Node, choices: Sequence[str]) -> str:
    value = node.text()
    if value not in choices:
        raise node.fail(f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _parse_plan(root: Node, path: Path, catalog: Path) -> Plan:
    from cronsim import CronSim, CronSimError

    top = fields_of(
        root,
        {"name", "schedule", "drills"},
        {"description", "missed_runs", "cool_down_s", "quiet_timeout_s", "error_budget", "abort"}
        | {"roles"},
    )
    name = top["name"].text()
    schedule = top["schedule"].text()
    try:
        CronSim(schedule, datetime.now(UTC))
    except CronSimError as exc:
        raise top["schedule"].fail(f"not a cron expression: {exc}") from None
    budget = (
        fields_of(top["error_budget"], set(), {"floor", "when_below"})
        if "error_budget" in top
        else {}
    )
    floor = budget["floor"].number(0) if "floor" in budget else 0.0
    if floor > 1:
        raise budget["floor"].fail(f"is a share of the budget (0..1), got {floor:g}")
    abort = fields_of(top["abort"], set(), {"on_failure", "on_error"}) if "abort" in top else {}
    roles = fields_of(top["roles"], set(), {"facilitator", "responders"}) if "roles" in top else {}
    steps = top["drills"].items()
    if not steps:
        raise top["drills"].fail("needs at least one drill")
    drills = tuple(_parse_step(step, catalog) for step in steps)
    seen: set[str] = set()
    for step, node in zip(drills, steps, strict=True):
        if step.drill in seen:
            raise node.fail(
                f"drill {step.drill!r} appears twice (--only could not tell them apart)"
            )
        seen.add(step.drill)
    return Plan(
        name=name,
        description=top["description"].text() if "description" in top else "",
        path=path,
        schedule=schedule,
        missed_runs=_choice(top["missed_runs"], MISSED_POLICIES)
        if "missed_runs" in top
        else "skip",
        cool_down_s=top["cool_down_s"].number(0, maximum=DAY_S) if "cool_down_s" in top else 300.0,
        quiet_timeout_s=top["quiet_timeout_s"].number(0, maximum=DAY_S)
        if "quiet_timeout_s" in top
        else 180.0,
        budget=BudgetGate(
            floor,
            _choice(budget["when_below"], BUDGET_ACTIONS) if "when_below" in budget else "skip",
        ),
        abort=AbortPolicy(
            _choice(abort["on_failure"], FAILURE_ACTIONS) if "on_failure" in abort else "continue",
            _choice(abort["on_error"], FAILURE_ACTIONS) if "on_error" in abort else "stop",
        ),
        roles=Roles(
            roles["facilitator"].text() if "facilitator" in roles else "",
            tuple(n.text() for n in roles["responders"].items()) if "responders" in roles else (),
        ),
        drills=drills,
    )


def _parse_step(node: Node, catalog: Path) -> PlanDrill:
    step = fields_of(node, {"drill"}, {"params", "load", "max_duration_s"})
    name = step["drill"].text()
    try:
        drill_path = load_spec_or_name(name, catalog)
        spec = load_spec(drill_path)
    except InvalidInput as exc:
        raise step["drill"].fail(str(exc)) from None
    params: dict[str, Any] = {}
    if "params" in step and spec.composite:
        raise step["params"].fail(
            f"{spec.name} is a composite drill: each of its steps has its own fault and params "
            "(override them in a copy of the drill file)"
        )
    if "params" in step:
        given = fields_of(step["params"], set(), set(FAULT_PARAMS[spec.fault.kind]))
        checked = fault_params(
            spec.fault.kind, step["params"], base=spec.fault.params, component=spec.target
        )
        params = {key: checked[key] for key in given}
    load = fields_of(step["load"], set(), {"rate", "baseline_s"}) if "load" in step else {}
    return PlanDrill(
        drill=spec.name,
        path=drill_path,
        line=node.line,
        params=params,
        load_rate=load["rate"].number(0, maximum=MAX_RATE) if "rate" in load else None,
        baseline_s=load["baseline_s"].number(0, maximum=DAY_S) if "baseline_s" in load else None,
        max_duration_s=step["max_duration_s"].number(1, maximum=DAY_S)
        if "max_duration_s" in step
        else None,
    )


def resolve_step(step: PlanDrill, out_dir: Path) -> DrillSpec:
    """The catalog drill with the plan's overrides, written out and validated by `drills.spec`
    (so each run directory's `drill.yaml` is exactly what ran, and `recover` can rebuild it)."""
    raw = yaml.safe_load(read_text(step.path))  # validated by load_spec; read with its bounds
    if step.params:  # never for a composite drill (`steps:`): refused when the plan is read
        fault = raw.setdefault("fault", {})
        fault["params"] = {**(fault.get("params") or {}), **step.params}
    if step.load_rate is not None or step.baseline_s is not None:
        load = raw.setdefault("load", {})
        if step.load_rate is not None:
            load["rate"] = step.load_rate
        if step.baseline_s is not None:
            load["baseline_s"] = step.baseline_s
    if step.max_duration_s is not None:
        raw.setdefault("abort", {})["max_duration_s"] = step.max_duration_s
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{step.drill}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_spec(path)
