"""The runner's lifecycle guarantees, with a fake target, observer, generator and fault:
rollback always runs (failure, interrupt), a refused preflight never injects, and a failed
rollback is loud."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drills.crash_recovery import unfinished_runs
from drills.errors import Interrupted, PermanentError, TemporaryError
from drills.faults.base import FaultContext, FaultReport, Injection
from drills.journal import read
from drills.measure import Sample
from drills.measurement import range_end
from drills.observe import Series
from drills.runner import RunOptions, run
from drills.settle import PROMETHEUS_NOW, fresh_counter
from drills.spec import load
from drills.targets.fake import FakeTarget
from tests import REPO_ROOT
from tests.fakes import FakeClock, FakeGenerator, FakeObserver

SPEC = load(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml")


@dataclass
class ScriptedFault:
    """A fault whose hold does what the test says, and which counts its calls."""

    hold_action: object = None
    rollback_failures: int = 0
    kind: str = "service-stop"
    calls: list[str] = field(default_factory=list)
    rollback_error: Exception = field(
        default_factory=lambda: TemporaryError("simulated rollback failure")
    )
    rolled_back: bool = False
    clock: FakeClock | None = None  # the run's clock, for the injection time

    def plan(self, ctx: FaultContext) -> list[str]:
        return ["scripted"]

    def preflight(self, ctx: FaultContext) -> list[str]:
        self.calls.append("preflight")
        return []

    def inject(self, ctx: FaultContext) -> Injection:
        self.calls.append("inject")
        ctx.target.stop(ctx.spec.target)
        return Injection(self.clock.now() if self.clock else time.time(), "test")

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        self.calls.append("hold")
        if isinstance(self.hold_action, BaseException):
            raise self.hold_action
        if self.hold_action == "until-stopped":  # a long outage: ends only when told to
            assert ctx.stop.wait(30), "the hold was never told to stop"
            self.calls.append("hold-stopped")

    def rollback(self, ctx: FaultContext) -> None:
        self.calls.append("rollback")
        if self.rollback_failures > 0:
            self.rollback_failures -= 1
            raise self.rollback_error
        ctx.target.start(ctx.spec.target)
        self.rolled_back = True

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        return FaultReport()


def go(
    tmp_path: Path,
    fault: ScriptedFault,
    observer: FakeObserver | None = None,
    spec=None,
    target: FakeTarget | None = None,
    options: RunOptions | None = None,
    clock: FakeClock | None = None,
):
    """One run of the real lifecycle with fakes around it, on a clock that never waits."""
    spec = spec or SPEC
    spec = replace(spec, load=replace(spec.load, rate=300.0, baseline_s=0.0), recovery_samples=1)
    target = target or FakeTarget()
    generator = FakeGenerator()
    clock = clock or FakeClock()
    observer = observer or FakeObserver()
    observer.clock = observer.clock or clock
    fault.clock = clock
    result = run(
        spec,
        target,
        options or RunOptions(runs_dir=tmp_path),
        fault=fault,
        observer=observer,
        generator=generator,
        clock=clock,
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
    fault = ScriptedFault()
    result, _, _ = go(tmp_path, fault, FiringObserver(firing_calls=10_000))
    assert "inject" not in fault.calls
    assert result.outcome == "preflight-refused"
    assert "RabbitMQDown" in result.reason


class ScrapeClock(FakeClock):
    """Prometheus as `fresh_counter` sees it: a scrape every second with a scripted counter; the
    harness's clock is the fake one the function is given."""

    def __init__(self, counter_at, skew=0.0):
        super().__init__(start=1000.3)  # harness clock
        self.skew = skew  # Prometheus' clock minus the harness's
        self.counter_at = counter_at  # scrape time (Prometheus clock) -> value (None: no series)

    def last_scrape(self):
        return float(int(self.t + self.skew))

    def value(self, query):
        if query == PROMETHEUS_NOW:
            return self.t + self.skew
        if query == "scraped":
            return self.last_scrape()
        return self.counter_at(self.last_scrape())


def test_fresh_counter_without_a_series_reads_zero_at_the_next_scrape():
    """A counter never incremented has no series: that is 0, known at the next scrape (judged by
    its own timestamp it used to wait out the whole timeout on every drill without dead letters)."""
    clock = ScrapeClock(lambda _t: None)
    assert fresh_counter(clock, "counter", "scraped", timeout=15.0, clock=clock) == 0.0
    assert 1001.0 <= clock.t <= 1001.3  # the scrape at 1001, not the one at 1000


def test_fresh_counter_reads_the_first_scrape_after_the_call():
    clock = ScrapeClock(lambda t: 7.0 if t < 1001 else 9.0)
    assert fresh_counter(clock, "counter", "scraped", timeout=15.0, clock=clock) == 9.0


def test_fresh_counter_judges_freshness_on_prometheus_clock():
    """A harness 30 s behind Prometheus still waits for a scrape newer than the call."""
    clock = ScrapeClock(lambda t: 7.0 if t < 1031 else 9.0, skew=30.0)
    assert fresh_counter(clock, "counter", "scraped", timeout=15.0, clock=clock) == 9.0
    assert clock.t >= 1001.0


def test_fresh_counter_gives_up_at_the_timeout_when_scrapes_stay_stale(monkeypatch):
    clock = ScrapeClock(lambda _t: 3.0)
    monkeypatch.setattr(clock, "last_scrape", lambda: 900.0)  # the service is no longer scraped
    assert fresh_counter(clock, "counter", "scraped", timeout=5.0, clock=clock) == 3.0
    assert 1005.3 <= clock.t <= 1005.6


def test_range_end_waits_only_for_what_is_left_of_two_steps():
    clock = FakeClock(start=100.0)
    assert range_end(99.5, clock) == 101.5 and clock.slept == [1.5]  # 0.5 s ago: 1.5 s left
    clock = FakeClock(start=100.0)
    assert range_end(90.0, clock) == 100.0 and clock.slept == []  # the ledger took longer
    assert range_end(None, clock) == 100.0 and clock.slept == []


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
        "from drills import packaged\n"
        "build(load(packaged.catalog() / 'pod-kill.yaml').fault)\n"
        "heavy = ('psycopg', 'redis', 'hypothesis', 'kubernetes', 'jinja2', 'matplotlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_warm_imports_load_the_listed_modules_in_the_background(monkeypatch):
    import sys

    from drills import live

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.setattr(live, "WARM_IMPORTS", ("colorsys", "no_such_module_xyz"))
    before = {t.name for t in __import__("threading").enumerate()}
    live.warm_imports()  # a missing module is left for the real import to report
    deadline = time.monotonic() + 10
    while "colorsys" not in sys.modules and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "colorsys" in sys.modules
    assert "warm-imports" not in before


# --- issue 11: interrupts, retries, abort conditions, budget floor, alerting, dead letters -------


def journal_of(result) -> list[dict[str, Any]]:
    return read(Path(result.run_dir) / "journal.jsonl")


def test_interrupted_raised_inside_a_fault_exits_130(tmp_path):
    """An `Interrupted` from a fault ends as interrupted (exit 130), rolled back — not as an
    internal error."""
    fault = ScriptedFault(hold_action=Interrupted("stop requested by the fault"))
    result, target, _ = go(tmp_path, fault)
    assert result.outcome == "interrupted" and result.exit_code == 130
    assert "internal error" not in result.reason
    assert fault.calls.count("rollback") == 1 and target.state("rabbitmq").running


def test_interrupt_during_observe_names_observe_not_rollback(tmp_path):
    """SIGTERM (KeyboardInterrupt) while the fault is held is reported as interrupted during
    observe; the rollback that ran afterwards is not the phase that was interrupted."""
    result, _, _ = go(tmp_path, ScriptedFault(hold_action=KeyboardInterrupt()))
    assert result.reason == "interrupted during observe"


def test_permanent_rollback_error_is_not_retried(tmp_path):
    """A 403/404-like permanent error fails the rollback at once (exit 5), without retries."""
    fault = ScriptedFault(rollback_failures=10, rollback_error=PermanentError("forbidden (403)"))
    result, _, _ = go(tmp_path, fault)
    assert fault.calls.count("rollback") == 1
    assert result.outcome == "rollback-failed" and "permanent" in result.reason
    errors = [r for r in journal_of(result) if r["event"] == "rollback-error"]
    assert [e["retry"] for e in errors] == [False]


def blocking_spec(**abort_fields):
    spec = SPEC.__class__(**{**SPEC.__dict__, "abort": replace(SPEC.abort, **abort_fields)})
    return spec


def test_error_budget_abort_rolls_back_at_once_and_names_the_condition(tmp_path, monkeypatch):
    """abort.max_error_budget is enforced while the fault is held: the hold is stopped, the
    fault rolled back, the outcome is aborted with the condition, value and time, journaled."""
    # 300 ev/s over 3600 s at 99 %: a budget of 10,800 slow events; 5,400 is half of it.
    observer = FakeObserver(answers={"increase(event_processing_duration_seconds": 5400.0})
    fault = ScriptedFault(hold_action="until-stopped")
    result, target, _ = go(tmp_path, fault, observer, spec=blocking_spec(max_error_budget=0.25))
    assert result.outcome == "aborted"
    assert "abort.max_error_budget" in result.reason and "50.00%" in result.reason
    assert "s after inject" in result.reason
    assert "hold-stopped" in fault.calls and fault.rolled_back and target.state("rabbitmq").running
    (record,) = [r for r in journal_of(result) if r["event"] == "abort"]
    assert record["condition"] == "max_error_budget" and record["value"] == 0.5
    assert record["after_inject_s"] >= 0
    journal = events(result)
    assert journal.index("abort") < journal.index("rollback-done")


def test_burn_rate_abort_needs_both_windows(tmp_path, monkeypatch):
    """A multi-window burn-rate limit trips only when the short and the long window both burn
    faster than the limit."""
    from drills.spec import BurnRateLimit

    limit = BurnRateLimit(rate=10.0, short_window_s=30, long_window_s=300)

    def windows(short: float, long: float):
        # the preflight's SLO-window ratio stays good; the abort windows are scripted
        return lambda q: short if "[30s]" in q else long if "[300s]" in q else 1.0

    # 20 % slow over 30 s (20x), 5 % over 300 s (5x): the long window is calm
    observer = FakeObserver(answers={"_bucket{le=": windows(0.8, 0.95)})
    fault = ScriptedFault(hold_action="until-stopped")
    spec = blocking_spec(max_duration_s=3.0, max_burn_rate=limit)
    result, _, _ = go(tmp_path, fault, observer, spec=spec)
    assert "abort.max_duration_s" in result.reason  # not the burn rate: the long window is calm

    observer = FakeObserver(answers={"_bucket{le=": windows(0.8, 0.8)})  # 20x over both
    result, _, _ = go(tmp_path, ScriptedFault(hold_action="until-stopped"), observer, spec=spec)
    assert result.outcome == "aborted" and "abort.max_burn_rate" in result.reason
    assert "20x over 30 s" in result.reason


def test_sli_floor_abort_during_recovery(tmp_path, monkeypatch):
    """A hard SLI floor is also enforced while recovery is awaited (after rollback)."""
    from drills.spec import SliFloor

    fault = ScriptedFault()
    # The probe reads fine until the fault was rolled back, then collapses below the floor.
    stored = 'events_processed_total{result="stored"}[5s]'
    observer = FakeObserver(answers={stored: lambda _q: 2.0 if fault.rolled_back else 1000.0})
    spec = blocking_spec(sli_floor=SliFloor("events stored per second", min=10))
    result, _, _ = go(tmp_path, fault, observer, spec=spec)
    assert result.outcome == "aborted", result.reason
    assert "abort.sli_floor: events stored per second = 2 (limit >= 10)" in result.reason
    assert "while awaiting recovery" in result.reason


def test_preflight_refuses_when_the_error_budget_is_spent(tmp_path):
    """The error budget must be above the floor before a fault is injected (exit 3)."""
    observer = FakeObserver(answers={"_bucket{le=": 0.98})  # 2 % slow: twice the budget
    fault = ScriptedFault()
    result, _, _ = go(tmp_path, fault, observer)
    assert "inject" not in fault.calls
    assert result.outcome == "preflight-refused" and result.exit_code == 3
    assert "error budget remaining 0.0% is not above the floor" in result.reason


def test_spent_budget_is_not_refused_when_the_floor_is_null(tmp_path):
    """With `budget_floor: null` the same spent budget does not stop the drill from injecting."""
    config = tmp_path / "slo.yaml"
    config.write_text(
        "event_latency: {objective: 0.99, threshold_s: 0.5, window_s: 3600}\n"
        "preflight: {budget_floor: null}\n"
    )
    observer = FakeObserver(answers={"_bucket{le=": 0.98})
    fault = ScriptedFault()
    options = RunOptions(runs_dir=tmp_path / "runs", slo_config=config)
    result, _, _ = go(tmp_path, fault, observer, options=options)
    assert "inject" in fault.calls and result.outcome != "preflight-refused", result.reason


def test_slo_config_file_changes_the_budget(tmp_path):
    """The budget is computed against the SLO configuration given to the run, not constants."""
    config = tmp_path / "slo.yaml"
    config.write_text(
        "event_latency: {objective: 0.9, threshold_s: 0.5, window_s: 60}\n"
        "preflight: {budget_floor: 0.5}\n"
    )
    observer = FakeObserver(answers={"_bucket{le=": 0.94})  # 6 %: 40 % left, under the floor
    options = RunOptions(runs_dir=tmp_path / "runs", slo_config=config)
    result, _, _ = go(tmp_path, ScriptedFault(), observer, options=options)
    assert result.outcome == "preflight-refused"
    assert "40.0% is not above the floor 50.0%" in result.reason and str(config) in result.reason


def test_preflight_refuses_when_alertmanager_is_down(tmp_path):
    """A drill that expects alerts is refused when Alertmanager is not ready (TTN would be
    null and the drill would pass on a detection nobody was told about)."""
    from drills.targets.base import ComponentState

    target = FakeTarget()
    target.components["alertmanager"] = ComponentState("alertmanager", False, "0", None, False)
    fault = ScriptedFault()
    result, _, _ = go(tmp_path, fault, target=target)
    assert "inject" not in fault.calls
    assert result.outcome == "preflight-refused"
    assert "alertmanager is not ready (the drill expects alerts: RabbitMQDown" in result.reason


def test_alertmanager_is_probed_over_http_when_the_target_does_not_model_it(tmp_path):
    """A target without an "alertmanager" component (Kubernetes) is checked at /-/ready."""
    target = FakeTarget()
    del target.components["alertmanager"]
    result, _, _ = go(tmp_path, ScriptedFault(), target=target)
    assert result.outcome == "preflight-refused"
    assert "alertmanager at http://127.0.0.1:9 is not answering (ConnectError)" in result.reason


@pytest.mark.parametrize(("status", "problem"), [(200, False), (401, False), (503, True)])
def test_alertmanager_http_probe_takes_401_as_up(status, problem):
    """Behind basic auth, /-/ready answers 401: up; a 503 is not ready."""
    import http.server
    import threading

    from drills.preflight import alerting_problem

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = FakeTarget()
        del target.components["alertmanager"]
        url = f"http://127.0.0.1:{server.server_address[1]}"
        endpoints = replace(target.endpoints(), alertmanager_url=url)

        # only the endpoints of the fault context are read
        ctx = SimpleNamespace(endpoints=endpoints)
        found = alerting_problem(target, "alertmanager", ctx)  # type: ignore[arg-type]
    finally:
        server.shutdown()
    assert bool(found) is problem
    if problem:
        assert "HTTP 503" in found


def test_dead_letters_survive_a_consumer_restart():
    """17 dead letters during a drill whose consumer restarted: the counter fell from 17 to 0
    and climbed back to 17 — the ledger says 17 (the difference of readings said 0)."""
    from drills.settle import dead_lettered_since

    observer = FakeObserver(answers={"vector(time())": 1100.0})
    samples = [(990.0, 17.0), (1000.0, 17.0), (1010.0, 17.0), (1030.0, 4.0), (1060.0, 17.0)]
    observer.raw = [Series("dl", {"instance": "analysis"}, samples)]
    assert dead_lettered_since(observer, since=1000.0) == 17


class LateAlertObserver(FakeObserver):
    """RabbitMQDown starts firing `after_s` seconds after the injection (on the run's clock),
    long after the fake platform has recovered: a short fault with a slow alert."""

    def __init__(self, after_s: float) -> None:
        super().__init__()
        self.after_s = after_s
        self.injected_at: float | None = None

    def _firing(self, start: float, end: float) -> list[Sample]:
        if self.injected_at is None:
            return []
        at = self.injected_at + self.after_s
        return [(t, 1.0) for t in (at, at + 1) if start <= t <= end]

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        samples = self._firing(start, end) if query.startswith("ALERTS") else []
        return [Series(query, {"alertname": "RabbitMQDown"}, samples)] if samples else []

    def alert_series(self, start, end, step):
        samples = self._firing(start, end)
        return {("RabbitMQDown", "firing"): samples} if samples else {}


@dataclass
class MarkingFault(ScriptedFault):
    observer: LateAlertObserver | None = None

    def inject(self, ctx: FaultContext) -> Injection:
        injection = super().inject(ctx)
        assert self.observer is not None
        self.observer.injected_at = injection.at
        return injection


def test_an_alert_firing_after_recovery_but_within_the_objective_is_detected(tmp_path, monkeypatch):
    """The fake platform recovers at once; RabbitMQDown fires 12 s after the injection, inside
    the 30 s objective: the run waits for it (and no longer than needed) and counts it."""
    monkeypatch.setattr("drills.runner.settle_ledger", lambda *a: None)  # no PostgreSQL here
    observer = LateAlertObserver(after_s=12.0)
    fault = MarkingFault(observer=observer)
    result, _, _ = go(tmp_path, fault, observer)
    assert result.alerts is not None and result.alerts.fired == ("RabbitMQDown",), result.reason
    assert result.ttd_seconds == pytest.approx(12.0, abs=0.01)
    injected = observer.injected_at
    assert injected is not None and result.finished_at is not None
    assert result.finished_at.timestamp() - injected < 12.0 + 5


def test_an_alert_that_never_fires_is_waited_for_only_until_the_objective(tmp_path, monkeypatch):
    """Never firing: the wait ends at the TTD objective (30 s, plus two samples), then the run
    fails naming the missed alert."""
    monkeypatch.setattr("drills.runner.settle_ledger", lambda *a: None)
    observer = LateAlertObserver(after_s=10_000.0)
    fault = MarkingFault(observer=observer)
    result, _, _ = go(tmp_path, fault, observer)
    assert result.outcome == "failed" and "expected alerts fired" in result.reason
    injected = observer.injected_at
    assert injected is not None and result.finished_at is not None
    assert 30.0 <= result.finished_at.timestamp() - injected < 30.0 + 10
