"""A drill's fault and, for a composite drill, its fault steps: the `fault:` block of a
single-fault drill and the `steps:` list of a composite one (issue 14), parsed here so
drills/spec.py keeps to the drill's shape.

A composite drill runs several faults, each with its own target and expected alerts, on a
schedule: the first step right after the baseline, every later one relative to an earlier step —

    start: {after: broker-down, delay_s: 3}   # 3 s after broker-down was rolled back and its
                                              # component ready again (sequence)
    start: {with: broker-down, delay_s: 5}    # 5 s after broker-down took effect, while it holds

A step may only name an earlier step, so the schedule has no cycles and reads top to bottom.
A step started `with` another is nested in it: the other is rolled back only after it (rollback
is always in reverse order of injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drills.fault_params import DAY_S, FAULT_KINDS, fault_params
from drills.yamlnode import Node, fields_of

COMPONENTS = (
    "audit-event-generator",
    "audit-log-analysis",
    "event-audit-dashboard",
    "notification-service",
    "rabbitmq",
    "postgres",
    "redis",
    "alertmanager",
    # The harness measures through Prometheus; a drill that stops it (prometheus-blind) is
    # measured around the gap: the dead man's switch is read from the notification service and
    # the live view says "Prometheus unreachable" until it is back (drills.live).
    "prometheus",
)
STEP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_STEPS = 8
START_RULES = ("after", "with")


@dataclass(frozen=True)
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepStart:
    """When a step starts: `delay_s` after step `step` was rolled back and its component was
    ready again (`rule` "after"), or after it took effect (`rule` "with", while it holds)."""

    rule: str
    step: str
    delay_s: float

    def describe(self) -> str:
        if self.rule == "after":
            return f"{self.delay_s:g} s after step {self.step} was rolled back and ready again"
        return f"{self.delay_s:g} s after step {self.step} took effect, while it holds"


@dataclass(frozen=True)
class Step:
    """One fault step of a composite drill."""

    name: str
    component: str
    fault: Fault
    expected_alerts: tuple[str, ...]
    start: StepStart | None  # None: the first step, right after the baseline

    def describe_start(self) -> str:
        return "right after the baseline" if self.start is None else self.start.describe()


def parse_component(node: Node) -> str:
    """`target: {component: ...}`."""
    target = fields_of(node, {"component"}, set())
    component = target["component"].text()
    if component not in COMPONENTS:
        raise target["component"].fail(f"unknown component (known: {', '.join(COMPONENTS)})")
    return component


def parse_fault(node: Node, component: str | None = None) -> Fault:
    """`fault: {kind, params}`, the parameters checked by drills.fault_params (against the
    drill's target `component` where they depend on it)."""
    fault_fields = fields_of(node, {"kind"}, {"params"})
    kind = fault_fields["kind"].text()
    if kind not in FAULT_KINDS:
        raise fault_fields["kind"].fail(f"unknown fault kind (known: {', '.join(FAULT_KINDS)})")
    return Fault(kind, fault_params(kind, fault_fields.get("params"), node, component=component))


def parse_alerts(node: Node) -> tuple[str, ...]:
    return tuple(item.text() for item in node.items())


def parse_steps(node: Node) -> tuple[Step, ...]:
    """The `steps:` list: 2 to MAX_STEPS uniquely named steps, each start naming an earlier one."""
    items = node.items()
    if len(items) < 2:
        raise node.fail("a composite drill needs at least 2 steps (one fault: use `fault:`)")
    if len(items) > MAX_STEPS:
        raise node.fail(f"at most {MAX_STEPS} steps, got {len(items)}")
    steps: list[Step] = []
    for index, item in enumerate(items):
        given = fields_of(
            item, {"name", "target", "fault", "expected_alerts"}, {"start"} if index else set()
        )
        name = given["name"].text()
        if not STEP_NAME_RE.match(name):
            raise given["name"].fail("must be lowercase letters, digits and dashes (at most 40)")
        if any(s.name == name for s in steps):
            raise given["name"].fail(f"duplicate step name {name!r}")
        if index and "start" not in given:
            raise item.fail(
                "missing required field 'start' (every step after the first says when it starts: "
                "{after: <step>, delay_s: N} or {with: <step>, delay_s: N})"
            )
        start = _start(given["start"], steps, name) if "start" in given else None
        component = parse_component(given["target"])
        steps.append(
            Step(
                name=name,
                component=component,
                fault=parse_fault(given["fault"], component),
                expected_alerts=parse_alerts(given["expected_alerts"]),
                start=start,
            )
        )
    return tuple(steps)


def _start(node: Node, earlier: list[Step], name: str) -> StepStart:
    given = fields_of(node, set(), {*START_RULES, "delay_s"})
    rules = [rule for rule in START_RULES if rule in given]
    if len(rules) != 1:
        raise node.fail("needs exactly one of `after` (sequence) or `with` (concurrent)")
    rule = rules[0]
    ref = given[rule].text()
    names = [s.name for s in earlier]
    if ref == name:
        raise given[rule].fail(f"step {name!r} cannot start relative to itself")
    if ref not in names:
        raise given[rule].fail(
            f"no earlier step {ref!r} (a step may only follow an earlier one; earlier steps: "
            f"{', '.join(names)})"
        )
    delay = given["delay_s"].number(0, maximum=DAY_S) if "delay_s" in given else 0.0
    return StepStart(rule, ref, delay)


def union_alerts(steps: tuple[Step, ...]) -> tuple[str, ...]:
    """The drill's expected alerts: every step's, in order, each once."""
    return tuple(dict.fromkeys(a for step in steps for a in step.expected_alerts))
