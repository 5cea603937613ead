"""`genesis-drill capacity`'s pure logic and its climb against scripted stand-ins: the steps, when a
step holds, the capacity only with a clean ledger, the bottleneck against each component's own
CPU ceiling, and the previous rate restored however the climb ends."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner

from drills.capacity import analysis
from drills.capacity.analysis import ComponentStep, Step
from drills.capacity.climb import climb, step_queries
from drills.capacity.plan import Plan, judge_step
from drills.capacity.usage import Reading, ceiling
from drills.cli.main import cli
from drills.errors import InvalidInput
from drills.ledger import GeneratorMark, Ledger
from drills.slo import LatencySlo

SLO = LatencySlo(objective=0.99, threshold_s=0.5, window_s=3600)


def test_default_plan_is_eight_geometric_steps_in_about_ten_minutes():
    plan = Plan()
    assert plan.rates() == [500, 750, 1125, 1688, 2531, 3797, 5695, 8543]
    assert 8 * 60 <= plan.longest_s <= 11 * 60


def test_increment_plan_and_cap():
    assert Plan(start=100, factor=None, increment=50, steps=4).rates() == [100, 150, 200, 250]
    assert Plan(start=900_000, factor=2, steps=3).rates() == [900_000, 1_000_000]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 0}, "--start 0"),
        ({"start": float("nan")}, "--start nan"),
        ({"factor": 1.0}, "--factor 1"),
        ({"factor": None, "increment": None}, "one of --factor and --increment"),
        ({"factor": 2.0, "increment": 5.0}, "one of --factor and --increment"),
        ({"step_s": 1.0}, "--step-seconds 1"),
        ({"steps": 0}, "--steps 0"),
    ],
)
def test_plan_rejects_bad_values_naming_the_flag(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        Plan(**kwargs)


def test_a_step_holds_only_when_every_rule_does():
    assert judge_step(1000, 990, 200, 59_000, 0.995, 0.99, 0.5).held
    slow = judge_step(1000, 990, 200, 59_000, 0.97, 0.99, 0.5)
    assert not slow.held and "97.00% stored within 0.5 s (SLO 99.00%)" in slow.why
    behind = judge_step(1000, 900, 200, 59_000, 0.999, 0.99, 0.5)
    assert not behind.held and "confirmed 900/s of 1,000/s" in behind.why
    buffered = judge_step(1000, 990, 5000, 59_000, 0.999, 0.99, 0.5)
    assert not buffered.held and "buffer grew to 5,000" in buffered.why
    assert not judge_step(1000, 990, 0, 0, None, 0.99, 0.5).held


def test_step_queries_use_the_slo_bucket_and_the_step_window():
    q = step_queries(61.4, 0.5)
    assert q["within"] == 'sum(increase(event_processing_duration_seconds_bucket{le="0.5"}[61s]))'
    assert q["stored"] == "sum(increase(event_processing_duration_seconds_count[61s]))"
    assert "histogram_quantile(0.99" in q["p99"]


def test_ceilings_one_core_per_cpython_process_one_for_redis_all_for_the_rest():
    assert ceiling("audit-log-analysis", 1, 4) == 1.0
    assert ceiling("audit-log-analysis", 3, 2) == 2.0
    assert ceiling("redis", 1, 8) == 1.0
    assert ceiling("postgres", 9, 2) == 2.0


def _step(rate: float, held: bool, **cores: float) -> Step:
    components = {
        name.replace("_", "-"): ComponentStep(value, 1.0, value * 1e6 / rate, 1 << 20)
        for name, value in cores.items()
    }
    return Step(rate, 60, rate, rate, 0, 0.999 if held else 0.9, 0.1, held, "", components)


def test_capacity_needs_a_held_step_and_a_clean_ledger():
    steps = [_step(500, True), _step(750, True), _step(1125, False)]
    assert analysis.capacity(steps, 0, 0) == 750
    assert analysis.capacity(steps, 1, 0) is None
    assert analysis.capacity(steps, 0, 2) is None
    assert analysis.capacity(steps, None, None) is None
    assert analysis.capacity([_step(500, False)], 0, 0) is None
    assert not analysis.lower_bound(steps)
    assert analysis.lower_bound([_step(500, True), _step(750, True)])  # ran out of steps


def test_bottleneck_is_the_component_nearest_its_own_ceiling_at_the_failing_step():
    steps = [
        _step(500, True, audit_log_analysis=0.4, rabbitmq=0.3),
        _step(750, False, audit_log_analysis=0.95, rabbitmq=0.5),
    ]
    found = analysis.bottleneck(steps)
    assert found and found.component == "audit-log-analysis" and found.at_rate == 750
    assert "0.95 of its 1-core ceiling (95%)" in found.text
    calm = analysis.bottleneck([_step(500, False, audit_log_analysis=0.3)])
    assert calm and calm.component is None and "no pipeline component was CPU-bound" in calm.text


def test_projection_is_linear_from_the_highest_held_step():
    steps = [_step(500, True, rabbitmq=0.2, audit_log_analysis=0.5), _step(750, False)]
    found = analysis.projections(steps)
    assert [p.component for p in found] == ["audit-log-analysis", "rabbitmq"]
    assert found[0].saturates_at == pytest.approx(1000)  # 1 core / 1,000 µs per event
    assert found[1].saturates_at == pytest.approx(2500)


def test_headroom_words():
    assert "10.0x headroom (90.0% of capacity unused)" in analysis.headroom(75.0, 750.0)
    assert "no capacity was found" in analysis.headroom(75.0, None)


# --- the climb against scripted stand-ins ------------------------------------------------------


@dataclass
class ScriptedGenerator:
    """Confirms what it is asked for (up to `limit`/s), on a fake clock the climb advances."""

    rate: float = 300.0
    limit: float = 1000.0
    confirmed: int = 0
    seq: int = 100
    rates: list[float] = field(default_factory=list)

    def mark(self) -> GeneratorMark:
        return GeneratorMark("run-1", self.seq, self.confirmed, 0, self.rate)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.rates.append(rate)

    def tick(self, seconds: float) -> None:
        done = int(min(self.rate, self.limit) * seconds)
        self.confirmed += done
        self.seq += done

    def wait_drained(self, timeout: float) -> GeneratorMark:
        return self.mark()


class ScriptedPrometheus:
    def __init__(self, generator: ScriptedGenerator) -> None:
        self.generator = generator

    def value(self, query: str) -> float | None:
        rate = self.generator.rate
        if "le=" in query:  # within the threshold: all of it below 700/s, 90 % above
            return rate * 60 * (1.0 if rate < 700 else 0.9)
        if "_count" in query and "increase" in query:
            return rate * 60
        if "histogram_quantile" in query:
            return 0.1 if rate < 700 else 0.8
        return 0.0


class FakeUsage:
    source = "scripted"
    cores = 2.0

    def __init__(self, generator: ScriptedGenerator) -> None:
        self.generator, self.cpu = generator, 0.0

    def read(self) -> dict[str, Reading]:
        self.cpu = self.generator.confirmed * 0.0008  # 800 µs per event
        return {"audit-log-analysis": Reading(self.cpu, 50 << 20, 1.0)}


class Clocked(threading.Event):
    """A stop event whose waits advance the scripted generator instead of sleeping."""

    def __init__(self, generator: ScriptedGenerator, stop_after: float | None = None) -> None:
        super().__init__()
        self.generator, self.elapsed, self.stop_after = generator, 0.0, stop_after

    def wait(self, timeout: float | None = None) -> bool:
        self.elapsed += timeout or 0.0
        self.generator.tick(timeout or 0.0)
        if self.stop_after is not None and self.elapsed >= self.stop_after:
            self.set()
        return self.is_set()


def _climb(generator: ScriptedGenerator, stop: Clocked) -> Any:
    ledgers: list[tuple[GeneratorMark, GeneratorMark]] = []

    def reconcile(before: GeneratorMark, after: GeneratorMark, dead: int) -> Ledger:
        ledgers.append((before, after))
        n = after.last_seq - before.last_seq
        return Ledger("run-1", before.last_seq + 1, after.last_seq, n, n, dead, 0, 0)

    plan = Plan(start=400, factor=1.5, step_s=10, steps=5)
    result = climb(
        plan,
        SLO,
        generator,
        ScriptedPrometheus(generator),
        FakeUsage(generator),
        reconcile,
        stop,
        lambda event, data: None,
        clock=lambda: stop.elapsed,
    )
    assert len(ledgers) == 1 and ledgers[0][0].last_seq == 100
    return result


def test_climb_stops_at_the_first_failing_step_and_restores_the_rate():
    generator = ScriptedGenerator()
    result = _climb(generator, Clocked(generator))
    assert [s.offered for s in result.steps] == [400, 600, 900]
    assert [s.held for s in result.steps] == [True, True, False]
    assert generator.rates[-1] == 300.0 and generator.rate == 300.0
    found = analysis.capacity(result.steps, result.ledger.lost, result.ledger.duplicated)
    assert found == 600
    cpu = result.steps[0].components["audit-log-analysis"].cpu_us_per_event
    assert cpu == pytest.approx(800, rel=0.01)


def test_a_stopped_climb_keeps_its_steps_restores_the_rate_and_counts_the_ledger():
    generator = ScriptedGenerator()
    result = _climb(generator, Clocked(generator, stop_after=25))
    assert result.stopped.startswith("stopped by the user")
    assert [s.offered for s in result.steps] == [400]
    assert generator.rate == 300.0 and result.ledger is not None


def test_cli_rejects_bad_input_naming_the_flag():
    runner = CliRunner()
    out = runner.invoke(cli, ["capacity", "--factor", "2", "--increment", "10"])
    assert out.exit_code == 2 and "one of --factor and --increment" in out.output
    out = runner.invoke(cli, ["capacity", "--step-seconds", "1"])
    assert (
        out.exit_code == 2 and "'--step-seconds'" in out.output and "5.0<=x<=3600.0" in out.output
    )
    out = runner.invoke(cli, ["capacity", "--start", "nan"])
    assert out.exit_code == 2 and "'nan' is not a finite number" in out.output
    assert "Traceback" not in out.output
