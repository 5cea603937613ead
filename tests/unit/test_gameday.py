"""Game-day plans and the game-day runner with fakes: plan validation errors name file:line,
--only, the error-budget gate, the abort policy, cool-downs on a fake clock, responders' marks,
the scorecard and score, and the combined post-mortem's de-duplicated action items."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from drills.errors import SpecError
from drills.gameday import (
    GAMEDAYS,
    GameDayResult,
    LineMarks,
    Seams,
    combined_postmortem,
    load_plan,
    parse_mark,
    run_gameday,
)
from drills.outcome import Outcome
from drills.results import DrillResult, Objective, utc
from drills.targets.fake import FakeTarget

PLAN = """\
name: test-day
schedule: "0 10 * * 3"
cool_down_s: 120
quiet_timeout_s: 30
error_budget: {floor: 0.5, when_below: skip}
abort: {on_failure: continue, on_error: stop}
roles: {facilitator: Sam, responders: [Ana, Bo]}
drills:
  - drill: pod-kill
  - drill: rabbitmq-outage
    params: {duration_s: 5}
    load: {rate: 100, baseline_s: 2}
"""


class FakeClock:
    """Advances only when waited on; records each wait."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.t = now
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.waits.append(seconds)
        if stop.is_set():
            return True
        self.t += seconds
        return stop.is_set()


class FakeRunner:
    """Returns scripted outcomes per drill and writes result.json like the real runner."""

    def __init__(
        self,
        clock: FakeClock,
        outcomes: dict[str, str] | None = None,
        budget_each: float = 0.1,
        during=None,
    ) -> None:
        self.clock, self.outcomes, self.budget_each = clock, outcomes or {}, budget_each
        self.ran: list[tuple[str, dict[str, Any]]] = []
        self.during = during

    def __call__(self, spec, target, options, listener) -> DrillResult:
        self.ran.append((spec.name, dict(spec.fault.params)))
        outcome = self.outcomes.get(spec.name, "passed")
        run_dir = options.runs_dir / f"{len(self.ran):04d}-{spec.name}"
        run_dir.mkdir(parents=True)
        injected = self.clock.now()
        if self.during:
            self.during(spec.name)
        self.clock.t += 60
        result = DrillResult(
            run_id=run_dir.name,
            drill=spec.name,
            target="fake",
            outcome=Outcome(outcome),
            reason="all objectives met" if outcome == "passed" else f"it {outcome}",
            started_at=utc(injected),
            injected_at=utc(injected),
            ttd_seconds=5.0,
            ttr_seconds=20.0 if outcome == "passed" else 90.0,
            error_budget_consumed=self.budget_each,
            run_dir=str(run_dir),
            objectives=(
                Objective("time to detect", "<= 30s", "5s", True),
                Objective("time to recover", "<= 60s", "20s", outcome == "passed"),
            )
            if outcome in ("passed", "failed")
            else (),
        )
        result.write(run_dir)
        return result


def plan_file(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def go(
    tmp_path,
    plan,
    runner,
    clock,
    budget=lambda: 1.0,
    firing=lambda alerts: [],
    marks=None,
    stop=None,
):
    seams = Seams(runner, budget, firing, marks or _NoMarks(), clock)
    return run_gameday(plan, FakeTarget(), tmp_path / "runs", lambda k, d: None, seams, stop)


class _NoMarks:
    def begin(self, drill):
        return None

    def end(self):
        return []


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("name: test-day\n", ""), "plan.yaml:1: missing required field 'name'"),
        (('"0 10 * * 3"', '"61 * * * *"'), "plan.yaml:2: schedule: not a cron expression"),
        (("  - drill: pod-kill\n", "  - drill: no-such\n"), "plan.yaml:9: drills[0].drill: "),
        (("{duration_s: 5}", "{duration_s: -1}"), "plan.yaml:11: drills[1].params.duration_s:"),
        (("{duration_s: 5}", "{nope: 1}"), "plan.yaml:11: drills[1].params.nope: unknown field"),
        (("when_below: skip", "when_below: maybe"), "plan.yaml:5: error_budget.when_below:"),
        (("floor: 0.5", "floor: 50"), "plan.yaml:5: error_budget.floor: is a share"),
        (
            ("  - drill: rabbitmq-outage\n    params: {duration_s: 5}\n", "  - drill: pod-kill\n"),
            "drills[1]: drill 'pod-kill' appears twice",
        ),
        (("cool_down_s: 120", "cool_down: 120"), "plan.yaml:3: cool_down: unknown field"),
    ],
)
def test_plan_errors_name_file_line_and_field(tmp_path, replace, expected):
    """Each invalid plan is refused with file:line: field: why (exit 2 via InvalidInput)."""
    with pytest.raises(SpecError) as error:
        load_plan(plan_file(tmp_path, PLAN.replace(*replace)))
    assert expected in str(error.value)
    assert error.value.exit_code == 2


def test_shipped_plans_are_valid():
    """Every plan in drills/gamedays/ loads, and weekly has two or more catalog drills."""
    plans = {p.stem: load_plan(p) for p in GAMEDAYS.glob("*.yaml")}
    assert len(plans["weekly"].drills) >= 2
    assert plans["ci-smoke"].missed_runs == "skip"


def test_plan_overrides_reach_the_resolved_drill(tmp_path):
    """The plan's params and load land in the drill file that runs (and in its run directory)."""
    clock = FakeClock()
    runner = FakeRunner(clock)
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock)
    assert runner.ran == [
        ("pod-kill", {"signal": "KILL"}),
        (
            "rabbitmq-outage",
            {
                "duration_s": 5.0,
                "mode": "kill",
                "check_counters": False,
                "heartbeat": "",
                "told_within_s": 30.0,
            },
        ),
    ]
    resolved = (result.directory / "drills" / "rabbitmq-outage.yaml").read_text()
    assert "duration_s: 5.0" in resolved and "rate: 100.0" in resolved


def test_a_composite_drill_runs_in_a_game_day_with_its_own_steps(tmp_path):
    """A plan may name a composite drill (its load overridden); the drill that runs keeps its
    steps as the file gives them — and a `params` override, which would reach no step, is
    refused when the plan is read."""
    text = PLAN.replace("  - drill: pod-kill\n", "  - drill: broker-outage-then-kill\n")
    clock = FakeClock()
    runner = FakeRunner(clock)
    result = go(tmp_path, load_plan(plan_file(tmp_path, text)), runner, clock)
    assert [name for name, _params in runner.ran] == ["broker-outage-then-kill", "rabbitmq-outage"]
    from drills.spec import load
    from tests import REPO_ROOT

    resolved = load(result.directory / "drills" / "broker-outage-then-kill.yaml")
    assert [s.name for s in resolved.steps] == ["broker-down", "kill-analysis"]
    catalog = load(REPO_ROOT / "drills" / "catalog" / "broker-outage-then-kill.yaml")
    assert resolved.steps == catalog.steps
    bad = text.replace(
        "  - drill: broker-outage-then-kill\n",
        "  - drill: broker-outage-then-kill\n    params: {signal: TERM}\n",
    )
    with pytest.raises(SpecError, match="composite drill: each of its steps has its own"):
        load_plan(plan_file(tmp_path, bad))


def test_cool_down_is_waited_on_the_clock_between_drills_only(tmp_path):
    """One cool-down of 120 s between two drills; none before the first."""
    clock = FakeClock()
    go(tmp_path, load_plan(plan_file(tmp_path)), FakeRunner(clock), clock)
    assert clock.waits == [120]


def test_only_runs_the_named_drills(tmp_path):
    """--only rabbitmq-outage runs just that drill; an unknown name is invalid input."""
    clock = FakeClock()
    runner = FakeRunner(clock)
    plan = load_plan(plan_file(tmp_path))
    result = go(tmp_path, plan.only(["rabbitmq-outage"]), runner, clock)
    assert [name for name, _ in runner.ran] == ["rabbitmq-outage"]
    assert [o.drill for o in result.outcomes] == ["rabbitmq-outage"]
    with pytest.raises(Exception, match="--only nope: not in plan test-day"):
        plan.only(["nope"])


def test_budget_gate_skips_a_drill_below_the_floor(tmp_path):
    """Remaining budget 30 % < floor 50 %: each drill is skipped with the reason, none runs."""
    clock = FakeClock()
    runner = FakeRunner(clock)
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock, budget=lambda: 0.3)
    assert runner.ran == []
    assert [o.status for o in result.outcomes] == ["skipped", "skipped"]
    assert "error budget remaining 30% is below the floor 50%" in result.outcomes[0].reason
    assert result.exit_code == 3


def test_budget_spent_by_the_game_day_itself_counts(tmp_path):
    """The first drill spends 60 % of the budget; the second is then skipped (40 % < 50 %)."""
    clock = FakeClock()
    runner = FakeRunner(clock, budget_each=0.6)
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock, budget=lambda: None)
    assert [o.status for o in result.outcomes] == ["ran", "skipped"]


def test_budget_gate_stop_ends_the_game_day(tmp_path):
    """when_below: stop — the game day stops and says why."""
    clock = FakeClock()
    plan = load_plan(plan_file(tmp_path, PLAN.replace("when_below: skip", "when_below: stop")))
    result = go(tmp_path, plan, FakeRunner(clock), clock, budget=lambda: 0.1)
    assert "game day stopped (error_budget.when_below: stop)" in result.stopped
    assert [o.reason for o in result.outcomes][1] == "game day stopped"


def test_abort_policy_on_failure_stop(tmp_path):
    """abort.on_failure: stop — a missed objective skips the remaining drills."""
    clock = FakeClock()
    plan = load_plan(plan_file(tmp_path, PLAN.replace("on_failure: continue", "on_failure: stop")))
    runner = FakeRunner(clock, outcomes={"pod-kill": "failed"})
    result = go(tmp_path, plan, runner, clock)
    assert [n for n, _ in runner.ran] == ["pod-kill"]
    assert result.exit_code == 1 and "abort.on_failure: stop" in result.stopped


def test_failure_continues_by_default_but_rollback_failure_always_stops(tmp_path):
    """on_failure: continue runs on after a miss; a failed rollback stops regardless (exit 5)."""
    clock = FakeClock()
    plan = load_plan(plan_file(tmp_path))
    runner = FakeRunner(clock, outcomes={"pod-kill": "failed"})
    assert len(go(tmp_path, plan, runner, clock).outcomes) == 2
    clock2 = FakeClock(clock.t + 10)
    runner2 = FakeRunner(clock2, outcomes={"pod-kill": "rollback-failed"})
    result = go(tmp_path / "b", plan, runner2, clock2)
    assert [n for n, _ in runner2.ran] == ["pod-kill"] and result.exit_code == 5


def test_stop_during_a_drill_ends_before_the_next(tmp_path):
    """A stop request (SIGTERM) while a drill runs: that drill finishes, the next never starts."""
    clock = FakeClock()
    stop = threading.Event()
    runner = FakeRunner(clock, during=lambda name: stop.set())
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock, stop=stop)
    assert [n for n, _ in runner.ran] == ["pod-kill"]
    assert result.stopped == "stopped before the next drill"


def test_stop_during_cool_down_ends_cleanly(tmp_path):
    """A stop request arriving during the cool-down wait ends the game day there."""

    class StoppingClock(FakeClock):
        def wait(self, seconds, stop):
            stop.set()
            return super().wait(seconds, stop)

    clock = StoppingClock()
    runner = FakeRunner(clock)
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock)
    assert [n for n, _ in runner.ran] == ["pod-kill"]
    assert result.stopped == "stopped during the cool-down"


def test_waits_for_an_earlier_alert_to_clear(tmp_path):
    """The drill starts only once its expected alert stopped firing (polled on the clock)."""
    clock = FakeClock()
    answers = iter([["AuditAnalysisRestarted"], ["AuditAnalysisRestarted"], []])
    plan = load_plan(plan_file(tmp_path)).only(["pod-kill"])
    go(tmp_path, plan, FakeRunner(clock), clock, firing=lambda alerts: next(answers))
    assert clock.waits == [2.0, 2.0]


def test_parse_mark():
    """d/m/r and full words are marks, with an optional responder name; other lines are not."""
    assert parse_mark("d\n") == ("detected", "")
    assert parse_mark("Resolved Ana") == ("resolved", "Ana")
    assert parse_mark("m bo") == ("mitigated", "bo")
    assert parse_mark("hello") is None and parse_mark("  ") is None


def test_responder_marks_are_timed_against_the_injection(tmp_path):
    """Lines typed during a drill become human TTD/TTR next to the automatic ones."""
    import queue

    lines: queue.Queue[str] = queue.Queue()
    clock = FakeClock()
    marks = LineMarks(lines.get, clock)
    seen = threading.Event()

    def during(name: str) -> None:
        clock.t += 7
        lines.put("d Ana\n")
        clock.t += 0  # the pump stamps the line when it reads it
        _await(lambda: not lines.qsize(), seen)

    runner = FakeRunner(clock, during=during)
    plan = load_plan(plan_file(tmp_path)).only(["pod-kill"])
    result = go(tmp_path, plan, runner, clock, marks=marks)
    outcome = result.outcomes[0]
    assert [(m.name, m.by) for m in outcome.marks] == [("detected", "Ana")]
    assert outcome.human("detected") == pytest.approx(7.0)
    assert "detected 7s" in (result.directory / "report.md").read_text()
    lines.put("")  # end of input stops the pump


def _await(condition, event: threading.Event, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        event.wait(0.01)
    # the line has been taken off the queue; give the pump its turn to stamp it
    event.wait(0.05)


def test_report_has_scorecard_score_formula_and_regression_rule(tmp_path):
    """report.md: one scorecard row per drill against objectives, the score and its formula."""
    clock = FakeClock()
    runner = FakeRunner(clock, outcomes={"rabbitmq-outage": "failed"})
    result = go(tmp_path, load_plan(plan_file(tmp_path)), runner, clock)
    assert result.score == 75.0  # (100 + 50) / 2
    report = (result.directory / "report.md").read_text()
    assert "## Resilience score: 75 / 100" in report
    assert "score = mean over the drills that were attempted of 100 x" in report
    assert "| pod-kill | passed | 5s vs <= 30s (met) | 20s vs <= 60s (met) |" in report
    assert "90s vs <= 60s (MISSED)" in report
    assert "Rule: regression: value > median" in report
    assert (result.directory / "report.json").exists()


def test_combined_postmortem_deduplicates_action_items_by_fingerprint(tmp_path):
    """Two runs with the same finding give one action item naming both runs."""
    clock = FakeClock()
    runner = FakeRunner(clock, outcomes={"pod-kill": "failed"})
    plan = load_plan(plan_file(tmp_path)).only(["pod-kill"])
    first = go(tmp_path / "a", plan, runner, clock)
    second = go(tmp_path / "b", plan, runner, clock)
    both = GameDayResult(
        plan, tmp_path / "gd", clock.now(), outcomes=[*first.outcomes, *second.outcomes]
    )
    text = combined_postmortem(both)
    rows = [line for line in text.splitlines() if line.startswith("| gd-")]
    assert rows, text
    fingerprints = [row.split("|")[1].strip() for row in rows]
    assert len(fingerprints) == len(set(fingerprints))
    assert all("0001-pod-kill" in row and "0002-pod-kill" in row for row in rows)
    assert "status: draft" in text


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("cool_down_s: 120", "cool_down_s: .nan"), "plan.yaml:3: cool_down_s: must be a finite"),
        (("floor: 0.5", "floor: .nan"), "plan.yaml:5: error_budget.floor: must be a finite"),
        (
            ("{duration_s: 5}", "{duration_s: .inf}"),
            "drills[1].params.duration_s: must be a finite",
        ),
        (("rate: 100", "rate: 1.0e+15"), "drills[1].load.rate: must be <= 1e+06"),
        (("baseline_s: 2", "baseline_s: 1.0e+9"), "drills[1].load.baseline_s: must be <= 86400"),
        (("quiet_timeout_s: 30", "quiet_timeout_s: 1.0e+9"), "quiet_timeout_s: must be <= 86400"),
    ],
)
def test_plan_numbers_must_be_finite_and_bounded(tmp_path, replace, expected):
    """A NaN, infinite or out-of-bound number in a plan is refused naming the field and bound."""
    with pytest.raises(SpecError) as error:
        load_plan(plan_file(tmp_path, PLAN.replace(*replace)))
    assert expected in str(error.value)
