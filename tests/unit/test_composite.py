"""Composite drills (issue 14): the `steps:` block is parsed strictly, the steps are injected in
the order their start rules give, rolled back in reverse order of injection whatever happens,
and measured per step."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from drills.crash_recovery import leftovers, recover, unfinished_runs
from drills.errors import PermanentError, SpecError
from drills.faults.base import FaultContext, FaultReport, Injection
from drills.journal import read
from drills.measure import Sample
from drills.runner import RunOptions, plan, run
from drills.spec import DrillSpec, load
from drills.targets.base import ComponentState, TargetIdentity
from drills.targets.fake import FakeTarget
from tests import REPO_ROOT
from tests.fakes import FakeClock, FakeGenerator, FakeObserver

CATALOG_DRILL = REPO_ROOT / "drills" / "catalog" / "broker-outage-then-kill.yaml"
HEAD = """\
name: sample-composite
description: two faults
steady_state:
  - name: up
    query: min(up{job="rabbitmq"})
    tolerance: {min: 1}
objectives:
  max_ttd_s: 30
  max_lost: 0
"""
TWO_STEPS = """\
steps:
  - name: broker-down
    target: {component: rabbitmq}
    fault: {kind: service-stop, params: {duration_s: 5}}
    expected_alerts: [RabbitMQDown]
  - name: kill-analysis
    start: {after: broker-down, delay_s: 3}
    target: {component: audit-log-analysis}
    fault: {kind: process-kill}
    expected_alerts: [AuditAnalysisRestarted]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def step(name: str, start: str = "", component: str = "rabbitmq", extra: str = "") -> str:
    lines = [
        f"  - name: {name}",
        f"    target: {{component: {component}}}",
        "    fault: {kind: process-kill}",
        "    expected_alerts: []",
    ]
    if start:
        lines.append(f"    start: {start}")
    return "\n".join(lines) + "\n" + extra


# --- parsing -----------------------------------------------------------------------------------


def test_the_catalog_composite_drill_loads_with_both_steps():
    """broker-outage-then-kill: a 15 s broker outage, then the analysis kill 3 s after it."""
    spec = load(CATALOG_DRILL)
    assert [s.name for s in spec.steps] == ["broker-down", "kill-analysis"]
    first, second = spec.steps
    assert (first.component, first.fault.kind, first.fault.params["duration_s"]) == (
        "rabbitmq",
        "service-stop",
        15.0,
    )
    assert first.start is None and first.expected_alerts == ("RabbitMQDown",)
    assert second.start is not None
    assert (second.start.rule, second.start.step, second.start.delay_s) == (
        "after",
        "broker-down",
        3.0,
    )
    assert (second.component, second.fault.kind) == ("audit-log-analysis", "process-kill")
    # The drill's own view: its first step's target and fault, the union of the alerts.
    assert (spec.target, spec.fault) == ("rabbitmq", first.fault)
    assert spec.expected_alerts == ("RabbitMQDown", "AuditAnalysisRestarted")
    view = spec.step_view(second)
    assert (view.target, view.fault, view.expected_alerts, view.steps) == (
        "audit-log-analysis",
        second.fault,
        ("AuditAnalysisRestarted",),
        (),
    )


def test_a_single_fault_drill_has_no_steps():
    spec = load(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml")
    assert spec.steps == () and not spec.composite


def test_a_concurrent_step_parses(tmp_path):
    text = HEAD + "steps:\n" + step("a") + step("b", "{with: a, delay_s: 2.5}", "redis")
    spec = load(write(tmp_path, text))
    start = spec.steps[1].start
    assert start is not None and (start.rule, start.step, start.delay_s) == ("with", "a", 2.5)
    assert spec.steps[1].describe_start() == "2.5 s after step a took effect, while it holds"


@pytest.mark.parametrize(
    ("text", "field_path", "why"),
    [
        (
            HEAD + TWO_STEPS + "fault: {kind: process-kill}\n",
            "fault",
            "composite drill (`steps:`) has no top-level `fault`",
        ),
        (
            HEAD + TWO_STEPS + "target: {component: redis}\n",
            "target",
            "no top-level `target`",
        ),
        (
            HEAD + TWO_STEPS + "expected_alerts: [RabbitMQDown]\n",
            "expected_alerts",
            "no top-level `expected_alerts`",
        ),
        (HEAD + "steps:\n" + step("a"), "steps", "at least 2 steps"),
        (
            HEAD + "steps:\n" + step("a") + step("a", "{after: a}"),
            "steps[1].name",
            "duplicate step name 'a'",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{after: c}"),
            "steps[1].start.after",
            "no earlier step 'c'",
        ),
        (  # a forward reference: a cycle can only be written with one
            HEAD + "steps:\n" + step("a") + step("b", "{after: c}") + step("c", "{after: b}"),
            "steps[1].start.after",
            "no earlier step 'c'",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{with: b}"),
            "steps[1].start.with",
            "relative to itself",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b"),
            "steps[1]",
            "missing required field 'start'",
        ),
        (
            HEAD + "steps:\n" + step("a", "{after: a}") + step("b", "{after: a}"),
            "steps[0].start",
            "unknown field",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{after: a, with: a}"),
            "steps[1].start",
            "exactly one of `after`",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{delay_s: 3}"),
            "steps[1].start",
            "exactly one of `after`",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{after: a, delay_s: .nan}"),
            "steps[1].start.delay_s",
            "finite",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{after: a, delay_s: 86401}"),
            "steps[1].start.delay_s",
            "<= 86400",
        ),
        (
            HEAD + "steps:\n" + step("a") + step("b", "{after: a, delay_s: -1}"),
            "steps[1].start.delay_s",
            ">= 0",
        ),
        (
            HEAD + "steps:\n" + step("Bad_Name") + step("b", "{after: Bad_Name}"),
            "steps[0].name",
            "lowercase",
        ),
        (
            HEAD + "steps:\n" + step("a", component="kube-system") + step("b", "{after: a}"),
            "steps[0].target.component",
            "unknown component",
        ),
        (
            HEAD + "steps:\n" + step("a", extra="    color: red\n") + step("b", "{after: a}"),
            "steps[0].color",
            "unknown field",
        ),
        (
            HEAD
            + "steps:\n"
            + step("a")
            + step("b", "{after: a}")
            + "  - name: c\n    start: {after: a}\n    target: {component: redis}\n"
            + "    fault: {kind: process-freeze}\n    expected_alerts: []\n",
            "steps[2].fault",
            "process-freeze needs params: duration_s",
        ),
        (
            HEAD
            + "steps:\n"
            + step("a")
            + step("b", "{after: a}")
            + "  - name: c\n    start: {after: a}\n    target: {component: redis}\n"
            + "    fault: {kind: process-kill, params: {signal: STOP}}\n    expected_alerts: []\n",
            "steps[2].fault.params.signal",
            "process-freeze",
        ),
        (
            HEAD + "steps:\n" + "".join(step(f"s{i}", "{after: s0}" * bool(i)) for i in range(9)),
            "steps",
            "at most 8 steps, got 9",
        ),
        (HEAD + "steps: {a: 1}\n", "steps", "must be a list"),
    ],
)
def test_hostile_steps_are_refused_naming_the_field(tmp_path, text, field_path, why):
    """Every invalid steps block is a SpecError naming the file, line and field."""
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load(path)
    assert caught.value.field_path == field_path, str(caught.value)
    assert why in caught.value.why
    assert str(caught.value).startswith(f"{path}:")


def test_a_drill_with_neither_fault_nor_steps_names_the_missing_fault(tmp_path):
    with pytest.raises(SpecError, match="missing required field 'fault'"):
        load(write(tmp_path, HEAD + "target: {component: redis}\nexpected_alerts: []\n"))


# --- the schedule ------------------------------------------------------------------------------


@dataclass
class StepFault:
    """A fault that logs what it does (into a log shared by every step) on the fake clock."""

    name: str
    log: list[tuple[str, str, float]]
    clock: FakeClock
    hold_s: float = 0.0
    hold_error: BaseException | None = None
    inject_error: Exception | None = None
    kind: str = "service-stop"
    stops: list[bool] = field(default_factory=list)

    def plan(self, ctx: FaultContext) -> list[str]:
        return [f"scripted {self.name}"]

    def preflight(self, ctx: FaultContext) -> list[str]:
        return []

    def inject(self, ctx: FaultContext) -> Injection:
        self.log.append(("inject", self.name, self.clock.now()))
        if self.inject_error is not None:
            raise self.inject_error
        return Injection(self.clock.now(), "test", {"component": ctx.spec.target})

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        if self.hold_error is not None:
            raise self.hold_error
        end = injection.at + self.hold_s
        while self.clock.now() < end:  # the fake clock moves as the schedule waits
            if ctx.stop.is_set():
                self.stops.append(True)
                return
            time.sleep(0.001)

    def rollback(self, ctx: FaultContext) -> None:
        self.log.append(("rollback", self.name, self.clock.now()))

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        """As the real faults do: the component's readiness, from the target."""
        ready = ctx.target.wait_ready(ctx.spec.target, 60)
        self.log.append(("verify", self.name, self.clock.now()))
        return FaultReport(figures={"component": ctx.spec.target}, ready_at=ready)


@pytest.fixture(autouse=True)
def _no_postgres(monkeypatch):
    monkeypatch.setattr("drills.runner.settle_ledger", lambda *a: None)  # no PostgreSQL here


def composite_spec(tmp_path: Path, steps: str) -> DrillSpec:
    spec = load(write(tmp_path, HEAD + "steps:\n" + steps))
    return replace(spec, load=replace(spec.load, rate=300.0, baseline_s=0.0), recovery_samples=1)


def go(
    tmp_path: Path,
    spec: DrillSpec,
    faults: dict[str, StepFault],
    clock: FakeClock,
    observer: FakeObserver | None = None,
    target: FakeTarget | None = None,
):
    observer = observer or FakeObserver(clock=clock)
    runs = tmp_path / "runs"
    return run(
        spec,
        target or FakeTarget(),
        RunOptions(runs_dir=runs),
        step_faults=faults,
        observer=observer,
        generator=FakeGenerator(),
        clock=clock,
    )


def faults_for(spec: DrillSpec, clock: FakeClock, **kwargs: Any) -> dict[str, StepFault]:
    log: list[tuple[str, str, float]] = []
    return {
        s.name: StepFault(s.name, log, clock, **kwargs.get(s.name.replace("-", "_"), {}))
        for s in spec.steps
    }


def journal_steps(result) -> list[tuple[str, str]]:
    return [
        (r["event"], r["step"]) for r in read(Path(result.run_dir) / "journal.jsonl") if "step" in r
    ]


def test_a_sequence_injects_the_second_step_its_delay_after_the_first_rollback(tmp_path):
    """after: b is injected delay_s after a's rollback completed; both rolled back once, and
    each step journals its own intent, injection and rollback."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, step("a") + step("b", "{after: a, delay_s: 3}", "redis"))
    faults = faults_for(spec, clock, a={"hold_s": 5.0})
    result = go(tmp_path, spec, faults, clock)
    log = faults["a"].log
    assert [(what, name) for what, name, _t in log if what != "verify"] == [
        ("inject", "a"),
        ("rollback", "a"),
        ("inject", "b"),
        ("rollback", "b"),
    ]
    times = {(what, name): t for what, name, t in log}
    assert times[("rollback", "a")] - times[("inject", "a")] >= 5.0  # held for its duration
    gap = times[("inject", "b")] - times[("rollback", "a")]
    assert 3.0 <= gap < 3.5, gap
    assert journal_steps(result) == [
        ("inject-intent", "a"),
        ("injected", "a"),
        ("rollback-intent", "a"),
        ("rollback-done", "a"),
        ("step-ready", "a"),
        ("inject-intent", "b"),
        ("injected", "b"),
        ("rollback-intent", "b"),
        ("rollback-done", "b"),
    ]
    assert [s.name for s in result.steps] == ["a", "b"]
    assert result.steps[1].start == "3 s after step a was rolled back and ready again"
    assert result.steps[0].ready_at == result.steps[0].rolled_back_at  # the fake is ready at once
    assert result.steps[0].rolled_back_at is not None and result.steps[1].injected_at is not None
    assert result.injected_at == result.steps[0].injected_at  # the drill's first injection
    assert result.fault is not None and result.fault.kind == "composite"
    assert result.fault.figures == {"a.component": "rabbitmq", "b.component": "redis"}
    assert result.fault.params["b.kind"] == "process-kill"


@dataclass
class SlowBootTarget(FakeTarget):
    """A platform whose components take `boot_s` (on the run's clock) to be ready again."""

    clock: FakeClock | None = None
    boot_s: float = 8.0
    waited: list[str] = field(default_factory=list)

    def wait_ready(self, component: str, timeout: float) -> float:
        assert self.clock is not None
        self.waited.append(component)
        self.clock.sleep(self.boot_s)
        return self.clock.now()


def test_after_counts_its_delay_from_the_component_being_ready_again(tmp_path):
    """A restarted broker refuses connections for a while after its start command: the step
    after it is injected delay_s after it is ready, journaled as step-ready, not after the
    command returned."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, step("a") + step("b", "{after: a, delay_s: 3}", "redis"))
    faults = faults_for(spec, clock)
    target = SlowBootTarget(clock=clock, boot_s=8.0)
    result = go(tmp_path, spec, faults, clock, target=target)
    log = faults["a"].log
    times = {(what, name): t for what, name, t in log}
    gap = times[("inject", "b")] - times[("rollback", "a")]
    assert 11.0 <= gap < 11.5, gap
    # a, rolled back with nothing else in effect, is verified right then (its readiness is its
    # own, not read after b), and its ready time is what b's delay counts from.
    assert [(w, n) for w, n, _t in log] == [
        ("inject", "a"),
        ("rollback", "a"),
        ("verify", "a"),
        ("inject", "b"),
        ("rollback", "b"),
        ("verify", "b"),
    ]
    assert target.waited == ["rabbitmq", "redis"]
    ready = result.steps[0].ready_at
    assert ready is not None and result.steps[1].injected_at is not None
    assert 3.0 <= (result.steps[1].injected_at - ready).total_seconds() < 3.5
    journal = read(Path(result.run_dir) / "journal.jsonl")
    [record] = [r for r in journal if r["event"] == "step-ready"]
    assert (record["step"], record["component"]) == ("a", "rabbitmq")


def test_a_concurrent_step_is_nested_and_rolled_back_first(tmp_path):
    """with: b starts delay_s after a took effect while a holds; rollback is in reverse order
    of injection: b, then a — even though a's hold ended first."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, step("a") + step("b", "{with: a, delay_s: 2}", "redis"))
    faults = faults_for(spec, clock, a={"hold_s": 4.0}, b={"hold_s": 6.0})
    result = go(tmp_path, spec, faults, clock)
    log = faults["a"].log
    assert [(what, name) for what, name, _t in log if what != "verify"] == [
        ("inject", "a"),
        ("inject", "b"),
        ("rollback", "b"),
        ("rollback", "a"),
    ]
    times = {(what, name): t for what, name, t in log}
    assert 2.0 <= times[("inject", "b")] - times[("inject", "a")] < 2.5
    assert times[("rollback", "b")] - times[("inject", "b")] >= 6.0
    # b was rolled back while a still held: it is verified only once nothing is in effect.
    order = [(w, n) for w, n, _t in log]
    assert order.index(("verify", "b")) > order.index(("rollback", "a"))
    assert result.outcome in {"passed", "failed"}, result.reason


def test_a_failed_hold_rolls_back_every_injected_step_in_reverse_and_skips_the_rest(tmp_path):
    """A hold that raises ends the drill: the steps in effect are rolled back newest first,
    a step not yet due is never injected, and the run ends as an error result."""
    clock = FakeClock()
    spec = composite_spec(
        tmp_path,
        step("a")
        + step("b", "{with: a, delay_s: 1}", "redis")
        + step("c", "{after: a, delay_s: 1}", "postgres"),
    )
    faults = faults_for(
        spec, clock, a={"hold_s": 30.0}, b={"hold_s": 2.0, "hold_error": RuntimeError("boom")}
    )
    result = go(tmp_path, spec, faults, clock)
    assert [(what, name) for what, name, _t in faults["a"].log if what != "verify"] == [
        ("inject", "a"),
        ("inject", "b"),
        ("rollback", "b"),
        ("rollback", "a"),
    ]
    assert faults["a"].stops == [True]  # told to stop, not held for its 30 s
    assert result.outcome == "error" and "boom" in result.reason
    assert ("inject-intent", "c") not in journal_steps(result)


def test_an_abort_condition_stops_the_holds_and_rolls_back_what_was_injected(tmp_path):
    """The drill's max duration passes while step a (a long outage) holds with b nested in it:
    the schedule aborts, both holds are told to stop, b then a are rolled back, c (after a)
    never starts, and the run ends aborted."""
    clock = FakeClock()
    spec = composite_spec(
        tmp_path,
        step("a")
        + step("b", "{with: a, delay_s: 1}", "redis")
        + step("c", "{after: a, delay_s: 1}", "postgres"),
    )
    spec = replace(spec, abort=replace(spec.abort, max_duration_s=20.0))
    faults = faults_for(spec, clock, a={"hold_s": 1000.0}, b={"hold_s": 1000.0})
    result = go(tmp_path, spec, faults, clock)
    assert result.outcome == "aborted", result.reason
    assert [(w, n) for w, n, _t in faults["a"].log if w != "verify"] == [
        ("inject", "a"),
        ("inject", "b"),
        ("rollback", "b"),
        ("rollback", "a"),
    ]
    assert faults["a"].stops == [True] and faults["b"].stops == [True]
    journal = read(Path(result.run_dir) / "journal.jsonl")
    assert any(r["event"] == "abort" and "fault steps" in r["phase"] for r in journal)
    assert ("inject-intent", "c") not in journal_steps(result)


def test_ctrl_c_rolls_back_every_injected_step_and_exits_130(tmp_path):
    clock = FakeClock()
    spec = composite_spec(tmp_path, step("a") + step("b", "{with: a, delay_s: 1}", "redis"))
    faults = faults_for(spec, clock, a={"hold_s": 10.0}, b={"hold_error": KeyboardInterrupt()})
    result = go(tmp_path, spec, faults, clock)
    assert [(w, n) for w, n, _t in faults["a"].log if w != "verify"][-2:] == [
        ("rollback", "b"),
        ("rollback", "a"),
    ]
    assert result.outcome == "interrupted" and result.exit_code == 130


def test_a_partial_injection_is_rolled_back_too(tmp_path):
    """A step whose inject raised half-way (its intent journaled) is rolled back with the rest."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, step("a") + step("b", "{after: a, delay_s: 1}", "redis"))
    faults = faults_for(spec, clock, b={"inject_error": OSError("half-way")})
    result = go(tmp_path, spec, faults, clock)
    assert [(w, n) for w, n, _t in faults["a"].log if w != "verify"] == [
        ("inject", "a"),
        ("rollback", "a"),
        ("inject", "b"),
        ("rollback", "b"),
    ]
    assert result.outcome == "error" and "half-way" in result.reason


class StepAlerts(FakeObserver):
    """Each step's alert fires `after_s` after that step's injection (read from the journal)."""

    def __init__(self, clock: FakeClock, fire: dict[str, float], injections: dict[str, float]):
        super().__init__(clock=clock)
        self.fire, self.injections = fire, injections

    def alert_series(self, start: float, end: float, step: float):
        series: dict[tuple[str, str], list[Sample]] = {}
        for alert, at in self.fire.items():
            if at <= end:
                series[(alert, "firing")] = [(at, 1.0), (at + 1, 1.0)]
        return series


def test_each_step_is_detected_after_its_own_injection_and_judged_per_step(tmp_path):
    """TTD per step from that step's injection; the drill's TTD is the slowest step's, and the
    TTD objective is judged for every step."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, TWO_STEPS.split("\n", 1)[1])
    spec = replace(spec, objectives=replace(spec.objectives, max_ttd_s=10.0))
    faults = faults_for(spec, clock, broker_down={"hold_s": 5.0})

    class Observer(StepAlerts):
        def alert_series(self, start, end, step):
            log = faults["broker-down"].log
            injected = {name: t for what, name, t in log if what == "inject"}
            return {
                ("RabbitMQDown", "firing"): [(injected["broker-down"] + 4.0, 1.0)],
                ("AuditAnalysisRestarted", "firing"): [(injected["kill-analysis"] + 12.5, 1.0)],
            }

    result = go(tmp_path, spec, faults, clock, Observer(clock, {}, {}))
    ttd = {s.name: s.ttd_seconds for s in result.steps}
    assert ttd == {"broker-down": 4.0, "kill-analysis": 12.5}
    assert result.steps[0].detected_alerts == ("RabbitMQDown",)
    assert result.ttd_seconds == 12.5 and "kill-analysis" in result.ttd_source
    objectives = {o.name: o for o in result.objectives}
    assert objectives["time to detect (step broker-down)"].passed
    assert not objectives["time to detect (step kill-analysis)"].passed
    assert "time to detect" not in objectives
    assert result.outcome == "failed"
    assert result.alerts is not None and set(result.alerts.fired) == {
        "RabbitMQDown",
        "AuditAnalysisRestarted",
    }


def test_the_dry_run_prints_each_step_in_order_with_its_start_rule():
    target = FakeTarget()
    lines = plan(load(CATALOG_DRILL), target)
    text = "\n".join(lines)
    first = text.index("step 1 broker-down: service-stop on rabbitmq, starts right after")
    second = text.index(
        "step 2 kill-analysis: process-kill on audit-log-analysis, starts 3 s after step "
        "broker-down was rolled back and ready again"
    )
    assert first < second
    assert "hold it down for 15 s" in text and "SIGKILL to the process group" in text
    assert "in reverse order of injection" in text
    assert target.calls == []


# --- recover -----------------------------------------------------------------------------------

THREE_NESTED = (
    step("a", component="rabbitmq").replace("process-kill}", "service-stop}")
    + step("b", "{with: a, delay_s: 1}", "redis").replace("process-kill}", "service-stop}")
    + step("c", "{with: b, delay_s: 1}", "audit-log-analysis")
)


def crashed(tmp_path: Path, drill: str, *records: dict[str, object]) -> tuple[Path, FakeTarget]:
    """A composite run directory as a harness killed mid-drill leaves it, on a fake platform."""
    target = FakeTarget(ident=TargetIdentity("fake", "crash"))
    run_dir = tmp_path / "runs" / "20261203T000000Z-sample-composite"
    run_dir.mkdir(parents=True)
    (run_dir / "drill.yaml").write_text(drill)
    start: dict[str, object] = {
        "event": "run-start",
        "drill": "sample-composite",
        "target": "fake",
        "target_identity": target.identity().to_json(),
    }
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in (start, *records))
    )
    return run_dir, target


def intent(name: str, kind: str, component: str) -> dict[str, object]:
    return {"event": "inject-intent", "kind": kind, "component": component, "step": name}


def test_recover_rolls_back_every_step_left_in_effect_newest_first(tmp_path):
    """A harness that died with steps a and b in effect (c already rolled back): recover rolls
    back b, then a — each journaled by step — and leaves c alone; the run is then finished."""
    run_dir, target = crashed(
        tmp_path,
        HEAD + "steps:\n" + THREE_NESTED,
        intent("a", "service-stop", "rabbitmq"),
        {"event": "injected", "at": 1.0, "source": "t", "details": {}, "step": "a"},
        intent("b", "service-stop", "redis"),
        intent("c", "process-kill", "audit-log-analysis"),
        {"event": "rollback-done", "at": 2.0, "step": "c"},
    )
    item = leftovers(run_dir)
    assert item.steps == (("a", "service-stop", "rabbitmq"), ("b", "service-stop", "redis"))
    assert "step(s) a (service-stop on rabbitmq), b (service-stop on redis)" in item.describe()
    report = recover(tmp_path / "runs", target)
    assert [(r.kind, r.actions) for r in report.recovered] == [
        (
            "composite",
            (
                "step b: service-stop on redis rolled back",
                "step a: service-stop on rabbitmq rolled back",
            ),
        )
    ]
    assert target.calls == [("start", "redis"), ("start", "rabbitmq")]
    done = [
        (r["step"], r["by"])
        for r in read(run_dir / "journal.jsonl")
        if r["event"] == "rollback-done" and r.get("by")
    ]
    assert done == [("b", "recover"), ("a", "recover")]
    assert unfinished_runs(tmp_path / "runs") == []


def test_recover_tries_every_step_and_names_each_failure(tmp_path):
    """A step whose rollback fails does not stop the others; the failure is raised, naming it."""
    run_dir, target = crashed(
        tmp_path,
        HEAD + "steps:\n" + THREE_NESTED,
        intent("a", "service-stop", "rabbitmq"),
        intent("b", "service-stop", "redis"),
    )
    target.fail_start = 1  # the first start (b's redis) fails
    with pytest.raises(Exception, match="rollback of step b failed"):
        recover(tmp_path / "runs", target)
    assert target.calls == [("start", "redis"), ("start", "rabbitmq")]
    assert leftovers(run_dir).steps == (("b", "service-stop", "redis"),)


def test_a_journal_without_step_names_recovers_as_before(tmp_path):
    """An older (single-fault) journal: one fault, rolled back from the drill file's `fault`."""
    drill = (REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml").read_text()
    run_dir, target = crashed(
        tmp_path,
        drill,
        {"event": "inject-intent", "kind": "service-stop", "component": "rabbitmq"},
    )
    item = leftovers(run_dir)
    assert item.steps == () and item.fault == ("service-stop", "rabbitmq")
    report = recover(tmp_path / "runs", target)
    assert [(r.kind, r.component) for r in report.recovered] == [("service-stop", "rabbitmq")]
    assert target.calls == [("start", "rabbitmq")]


def test_a_composite_run_whose_rollback_failed_is_finished_by_recover(tmp_path):
    """The runner's own journal: the second step's rollback fails for good (exit 5); the run is
    unfinished with exactly that step left, and recover rolls it back."""
    clock = FakeClock()
    spec = composite_spec(tmp_path, TWO_STEPS.split("\n", 1)[1])
    faults = faults_for(spec, clock, broker_down={"hold_s": 2.0})

    def broken(ctx: FaultContext) -> None:
        raise PermanentError("forbidden")

    faults["kill-analysis"].rollback = broken  # type: ignore[method-assign]
    target = FakeTarget()
    result = run(
        spec,
        target,
        RunOptions(runs_dir=tmp_path / "runs"),
        step_faults=faults,
        observer=FakeObserver(clock=clock),
        generator=FakeGenerator(),
        clock=clock,
    )
    assert result.outcome == "rollback-failed" and result.exit_code == 5
    assert "step kill-analysis (process-kill on audit-log-analysis)" in result.reason
    run_dir = Path(result.run_dir)
    assert leftovers(run_dir).steps == (("kill-analysis", "process-kill", "audit-log-analysis"),)
    target.components["audit-log-analysis"] = ComponentState(
        "audit-log-analysis", False, "0", None, False
    )
    report = recover(tmp_path / "runs", target)
    assert report.recovered[0].actions == (
        "step kill-analysis: process-kill on audit-log-analysis rolled back",
    )
    assert target.state("audit-log-analysis").running
    assert unfinished_runs(tmp_path / "runs") == []


def test_validate_names_a_step_alert_no_rule_defines_by_its_step(tmp_path):
    """`genesis-drill validate`: an unknown alert of a step is named by that step's field."""
    from click.testing import CliRunner

    from drills.cli.main import cli

    text = CATALOG_DRILL.read_text().replace(
        "expected_alerts: [AuditAnalysisRestarted]", "expected_alerts: [NoSuchAlert]"
    )
    path = write(tmp_path, text)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "steps[1].expected_alerts[0]: no alerting rule defines 'NoSuchAlert'" in result.output
    ok = CliRunner().invoke(cli, ["validate", str(CATALOG_DRILL)])
    assert ok.exit_code == 0, ok.output
    named = "service-stop on rabbitmq, then process-kill on audit-log-analysis"
    assert f"(broker-outage-then-kill: {named})" in ok.output
