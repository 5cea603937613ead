"""The runner's lifecycle guarantees, with a fake target, observer, generator and fault:
rollback always runs (failure, interrupt), a refused preflight never injects, and a failed
rollback is loud."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drills.faults.base import FaultContext, FaultReport, Injection
from drills.journal import read
from drills.ledger import GeneratorMark
from drills.observe import Series
from drills.recovery import unfinished_runs
from drills.runner import PROMETHEUS_NOW, RunOptions, run
from drills.settings import REPO_ROOT
from drills.spec import load
from drills.targets.fake import FakeTarget

SPEC = load(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml")


class FakeObserver:
    url = "http://127.0.0.1:9"

    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    def ready(self) -> bool:
        return True

    def value(self, query: str) -> float | None:
        if not self.healthy:
            return 0.0
        if query == PROMETHEUS_NOW:
            return time.time()
        if query.startswith("max(timestamp("):
            return float(int(time.time()))  # scraped every second
        return 1000.0 if "rate(" in query else 1.0

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return []

    def single_range(self, query, start, end, step):
        return []

    def alert_series(self, start, end, step):
        return {}

    def rules_for(self):
        return {}

    def evaluation_interval(self):
        return 1.0


@dataclass
class FakeGenerator:
    rates: list[float] = field(default_factory=list)

    def mark(self) -> GeneratorMark:
        return GeneratorMark("run", 100, 100, 0, self.rates[-1] if self.rates else 20.0)

    def set_rate(self, rate: float) -> None:
        self.rates.append(rate)

    def wait_drained(self, timeout: float) -> GeneratorMark:
        return self.mark()

    def close(self) -> None:
        return None


@dataclass
class ScriptedFault:
    """A fault whose hold does what the test says, and which counts its calls."""

    hold_action: object = None
    rollback_failures: int = 0
    kind: str = "service-stop"
    calls: list[str] = field(default_factory=list)

    def plan(self, ctx: FaultContext) -> list[str]:
        return ["scripted"]

    def preflight(self, ctx: FaultContext) -> list[str]:
        self.calls.append("preflight")
        return []

    def inject(self, ctx: FaultContext) -> Injection:
        self.calls.append("inject")
        ctx.target.stop(ctx.spec.target)
        return Injection(time.time(), "test")

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        self.calls.append("hold")
        if isinstance(self.hold_action, BaseException):
            raise self.hold_action

    def rollback(self, ctx: FaultContext) -> None:
        self.calls.append("rollback")
        if self.rollback_failures > 0:
            self.rollback_failures -= 1
            from drills.errors import TargetError

            raise TargetError("simulated rollback failure")
        ctx.target.start(ctx.spec.target)

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        return FaultReport()


def go(tmp_path: Path, fault: ScriptedFault, observer: FakeObserver | None = None):
    spec = SPEC.__class__(**{**SPEC.__dict__, "load": SPEC.load.__class__(300.0, 0.0)})
    spec = spec.__class__(**{**spec.__dict__, "recovery_samples": 1})
    target = FakeTarget()
    generator = FakeGenerator()
    result = run(
        spec,
        target,
        RunOptions(runs_dir=tmp_path),
        fault=fault,  # type: ignore[arg-type]
        observer=observer or FakeObserver(),  # type: ignore[arg-type]
        generator=generator,  # type: ignore[arg-type]
    )
    return result, target, generator


def events(result) -> list[str]:
    return [r["event"] for r in read(Path(result.run_dir) / "journal.jsonl")]


def test_rollback_runs_when_the_hold_raises(tmp_path):
    """A failure while the fault is held still rolls back, and the run ends as an error
    result (no exception escapes), with the load restored."""
    fault = ScriptedFault(hold_action=RuntimeError("boom"))
    result, target, generator = go(tmp_path, fault)
    assert fault.calls.count("rollback") == 1
    assert target.state("rabbitmq").running
    assert result.outcome == "error" and "boom" in result.reason
    assert generator.rates[-1] == 20.0  # restored to what it was before the drill
    journal = events(result)
    assert (
        journal.index("inject-intent") < journal.index("injected") < journal.index("rollback-done")
    )
    assert json.loads((Path(result.run_dir) / "result.json").read_text())["outcome"] == "error"


def test_rollback_runs_on_ctrl_c_and_outcome_is_interrupted(tmp_path):
    """Ctrl-C (KeyboardInterrupt, also what SIGTERM becomes) during observe rolls back and
    ends with exit code 130."""
    fault = ScriptedFault(hold_action=KeyboardInterrupt())
    result, target, _ = go(tmp_path, fault)
    assert fault.calls.count("rollback") == 1
    assert target.state("rabbitmq").running
    assert result.outcome == "interrupted"
    assert result.exit_code == 130
    assert unfinished_runs(tmp_path) == []


def test_preflight_refusal_never_injects(tmp_path):
    """When the steady state does not hold under baseline load, the fault is not injected and
    the run ends with the distinct preflight exit code."""
    fault = ScriptedFault()
    result, target, _ = go(tmp_path, fault, FakeObserver(healthy=False))
    assert "inject" not in fault.calls
    assert ("stop", "rabbitmq") not in target.calls
    assert result.outcome == "preflight-refused"
    assert result.exit_code == 3
    assert "steady-state hypothesis does not hold" in result.reason


def test_rollback_is_retried_then_fails_loudly(tmp_path):
    """A rollback that keeps failing is retried, then ends the run with exit code 5 and
    leaves the run unfinished so `recover` can finish it."""
    fault = ScriptedFault(rollback_failures=10)
    result, _, _ = go(tmp_path, fault)
    assert fault.calls.count("rollback") == 3
    assert result.outcome == "rollback-failed"
    assert result.exit_code == 5
    assert unfinished_runs(tmp_path) == [Path(result.run_dir)]


def test_rollback_that_recovers_on_retry_counts_as_done(tmp_path):
    """A transient rollback failure is retried and the run is not left unfinished."""
    fault = ScriptedFault(rollback_failures=1, hold_action=KeyboardInterrupt())
    result, target, _ = go(tmp_path, fault)
    assert fault.calls.count("rollback") == 2
    assert target.state("rabbitmq").running
    assert "rollback-done" in events(result)


@pytest.mark.parametrize("name", ["pod-kill", "rabbitmq-outage", "malformed-events"])
def test_dry_run_plan_touches_nothing(name):
    """The plan names the target, component and rollback without calling the target."""
    from drills.runner import plan

    target = FakeTarget()
    spec = load(REPO_ROOT / "drills" / "catalog" / f"{name}.yaml")
    lines = plan(spec, target)
    assert any("rollback" in line for line in lines)
    assert target.calls == []


class FiringObserver(FakeObserver):
    """An observer whose RabbitMQDown alert is firing for the first `firing_calls` looks."""

    def __init__(self, firing_calls: int) -> None:
        super().__init__()
        self.firing_calls = firing_calls

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        if query.startswith("ALERTS") and self.firing_calls > 0:
            self.firing_calls -= 1
            return [Series(query, {"alertname": "RabbitMQDown"}, [(end, 1.0)])]
        return []


def test_preflight_waits_for_an_expected_alert_still_firing(tmp_path, monkeypatch):
    """An expected alert still firing from an earlier disturbance is waited out, then the
    fault is injected."""
    monkeypatch.setattr("drills.runner.STEP_S", 0.01)
    fault = ScriptedFault()
    result, _, _ = go(tmp_path, fault, FiringObserver(firing_calls=3))
    assert "inject" in fault.calls
    assert result.outcome != "preflight-refused"
    # The wait is journaled (benchmarks and post-mortems tell the platform's time from ours).
    journal = read(Path(result.run_dir) / "journal.jsonl")
    quiet = [r for r in journal if r["event"] == "alerts-quiet"]
    assert len(quiet) == 1
    assert quiet[0]["alerts"] and quiet[0]["still_firing"] == []
    assert quiet[0]["waited_s"] > 0


def test_preflight_refuses_when_the_expected_alert_never_clears(tmp_path, monkeypatch):
    """If the expected alert keeps firing past the bounded wait, nothing is injected."""
    monkeypatch.setattr("drills.runner.STEP_S", 0.01)
    monkeypatch.setattr("drills.runner.ALERT_QUIET_WAIT_S", 0.2)
    fault = ScriptedFault()
    result, _, _ = go(tmp_path, fault, FiringObserver(firing_calls=10_000))
    assert "inject" not in fault.calls
    assert result.outcome == "preflight-refused"
    assert "RabbitMQDown" in result.reason


class ScrapeClock:
    """Prometheus as `_fresh_counter` sees it: a scrape every second with a scripted counter."""

    def __init__(self, monkeypatch, counter_at, skew=0.0):
        self.now = 1000.3  # harness clock
        self.skew = skew  # Prometheus' clock minus the harness's
        self.counter_at = counter_at  # scrape time (Prometheus clock) -> value (None: no series)
        monkeypatch.setattr("drills.runner.time.sleep", self.sleep)
        monkeypatch.setattr("drills.runner.time.monotonic", lambda: self.now)

    def sleep(self, seconds):
        self.now += seconds

    def last_scrape(self):
        return float(int(self.now + self.skew))

    def value(self, query):
        if query == PROMETHEUS_NOW:
            return self.now + self.skew
        if query == "scraped":
            return self.last_scrape()
        return self.counter_at(self.last_scrape())


def test_fresh_counter_without_a_series_reads_zero_at_the_next_scrape(monkeypatch):
    """A counter never incremented has no series: that is 0, known at the next scrape (judged by
    its own timestamp it used to wait out the whole timeout on every drill without dead letters)."""
    from drills.runner import _fresh_counter

    clock = ScrapeClock(monkeypatch, lambda _t: None)
    assert _fresh_counter(clock, "counter", "scraped", timeout=15.0) == 0.0
    assert 1001.0 <= clock.now <= 1001.3  # the scrape at 1001, not the one at 1000


def test_fresh_counter_reads_the_first_scrape_after_the_call(monkeypatch):
    from drills.runner import _fresh_counter

    clock = ScrapeClock(monkeypatch, lambda t: 7.0 if t < 1001 else 9.0)
    assert _fresh_counter(clock, "counter", "scraped", timeout=15.0) == 9.0


def test_fresh_counter_judges_freshness_on_prometheus_clock(monkeypatch):
    """A harness 30 s behind Prometheus still waits for a scrape newer than the call."""
    from drills.runner import _fresh_counter

    clock = ScrapeClock(monkeypatch, lambda t: 7.0 if t < 1031 else 9.0, skew=30.0)
    assert _fresh_counter(clock, "counter", "scraped", timeout=15.0) == 9.0
    assert clock.now >= 1001.0


def test_fresh_counter_gives_up_at_the_timeout_when_scrapes_stay_stale(monkeypatch):
    from drills.runner import _fresh_counter

    clock = ScrapeClock(monkeypatch, lambda _t: 3.0)
    monkeypatch.setattr(clock, "last_scrape", lambda: 900.0)  # the service is no longer scraped
    assert _fresh_counter(clock, "counter", "scraped", timeout=5.0) == 3.0
    assert 1005.3 <= clock.now <= 1005.6


def test_range_end_waits_only_for_what_is_left_of_two_steps(monkeypatch):
    from drills.runner import _range_end

    now = [100.0]
    slept = []
    monkeypatch.setattr("drills.runner.time.time", lambda: now[0])
    monkeypatch.setattr("drills.runner.time.sleep", slept.append)
    assert _range_end(99.5) == 101.5 and slept == [1.5]  # recovery 0.5 s ago: 1.5 s left
    slept.clear()
    assert _range_end(90.0) == 100.0 and slept == []  # the ledger phase already took longer
    assert _range_end(None) == 100.0 and slept == []


def test_drill_start_up_leaves_end_of_drill_modules_to_the_warm_up():
    """What `genesis-drill run pod-kill` imports before the fault does not include psycopg (nor
    redis, hypothesis, the kubernetes client, jinja2): those load later or in the background."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import drills.cli.drill, drills.cli.reporter, drills.runner, drills.targets.local\n"
        "from drills.faults.registry import build\n"
        "from drills.spec import load\n"
        "from drills.settings import REPO_ROOT\n"
        "build(load(REPO_ROOT / 'drills' / 'catalog' / 'pod-kill.yaml').fault)\n"
        "heavy = ('psycopg', 'redis', 'hypothesis', 'kubernetes', 'jinja2', 'matplotlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_warm_imports_load_the_listed_modules_in_the_background(monkeypatch):
    import sys

    from drills import runner

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.setattr(runner, "WARM_IMPORTS", ("colorsys", "no_such_module_xyz"))
    before = {t.name for t in __import__("threading").enumerate()}
    runner._warm_imports()  # a missing module is left for the real import to report
    deadline = time.monotonic() + 10
    while "colorsys" not in sys.modules and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "colorsys" in sys.modules
    assert "warm-imports" not in before
