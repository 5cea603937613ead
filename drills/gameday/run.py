"""Running a game day: the plan's drills in order, gated, with a cool-down and an abort policy.

Why a module of its own: this is the game day's control flow and nothing else. Before each drill
it checks the gates (`drills.gameday.gates`), waits out the cool-down on the clock, runs the drill
through the ordinary drill runner (whose rollback has run before the next drill starts), drafts
that drill's own post-mortem, checks its history for regressions, and applies the abort policy: a
failed rollback or an interrupt always stops the day, a missed objective or an error stops it when
the plan says so. The report is written at the end (`drills.gameday.report`).

Seams for tests (`Seams`): the drill runner, the error-budget source, the quiet-alert check, the
responders' mark source and the clock — so no test really waits through a cool-down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drills.errors import GenesisError
from drills.gameday.clock import Clock, SystemClock
from drills.gameday.gates import (
    BudgetSource,
    QuietCheck,
    await_quiet,
    below_floor,
    prometheus_budget,
    prometheus_quiet,
)
from drills.gameday.marks import MarkSource, NoMarks
from drills.gameday.plan import Plan, resolve_step
from drills.gameday.report import write_report
from drills.gameday.result import DrillOutcome, GameDayResult
from drills.history import History, Verdict
from drills.outcome import UNTRUSTED, Outcome
from drills.results import DrillResult
from drills.runner import Listener, RunOptions
from drills.spec import DrillSpec
from drills.targets.base import Target

DrillRunner = Callable[[DrillSpec, Target, RunOptions, Listener], DrillResult]


def gameday_dir(runs_dir: Path, plan: Plan, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return runs_dir / "gamedays" / f"{stamp}-{plan.name}"


@dataclass(frozen=True)
class Seams:
    """The game day's collaborators, resolved: real ones by default, fakes in tests."""

    run_drill: DrillRunner
    budget: BudgetSource
    firing: QuietCheck
    marks: MarkSource
    clock: Clock

    @classmethod
    def default(
        cls,
        target: Target,
        *,
        run_drill: DrillRunner | None = None,
        budget: BudgetSource | None = None,
        firing: QuietCheck | None = None,
        marks: MarkSource | None = None,
        clock: Clock | None = None,
    ) -> Seams:
        from drills import runner

        prometheus = target.endpoints().prometheus_url
        return cls(
            run_drill or runner.run,
            budget or prometheus_budget(prometheus),
            firing or prometheus_quiet(prometheus),
            marks or NoMarks(),
            clock or SystemClock(),
        )


def run_gameday(
    plan: Plan,
    target: Target,
    runs_dir: Path,
    listener: Listener,
    seams: Seams | None = None,
    stop: threading.Event | None = None,
) -> GameDayResult:
    """Run the plan's drills in order and write the report; every drill's rollback has run (by
    the drill runner) before the next one starts. Setting `stop` ends it before the next drill."""
    seams = seams or Seams.default(target)
    stop = stop or threading.Event()
    clock = seams.clock
    result = GameDayResult(
        plan, gameday_dir(runs_dir, plan, clock.now()), clock.now(), runs_dir=runs_dir
    )
    listener("gameday-start", {"plan": plan.name, "drills": [s.drill for s in plan.drills]})
    consumed = 0.0
    for index, step in enumerate(plan.drills):
        if stop.is_set():
            result.stopped = result.stopped or "stopped before the next drill"
            break
        if index and plan.cool_down_s:
            listener("cool-down", {"seconds": plan.cool_down_s, "next": step.drill})
            if clock.wait(plan.cool_down_s, stop):
                result.stopped = "stopped during the cool-down"
                break
        why = below_floor(plan, seams.budget(), consumed)
        if why:
            result.outcomes.append(DrillOutcome(step.drill, "skipped", why))
            listener("drill-skipped", {"drill": step.drill, "reason": why})
            if plan.budget.when_below == "stop":
                _stop(result, f"{why}: game day stopped (error_budget.when_below: stop)", index)
                break
            continue
        outcome = _run_step(result, index, target, runs_dir, listener, seams, stop)
        result.outcomes.append(outcome)
        assert outcome.result is not None
        consumed += outcome.result.error_budget_consumed or 0.0
        reason = _stop_reason(plan, outcome.result)
        if reason:
            _stop(result, reason, index)
            if outcome.result.outcome == Outcome.INTERRUPTED:
                stop.set()
            break
    result.finished_at = clock.now()
    write_report(result)
    _write_html(result, listener)
    listener("gameday-end", {"score": result.score, "directory": str(result.directory)})
    return result


def _run_step(
    gameday: GameDayResult,
    index: int,
    target: Target,
    runs_dir: Path,
    listener: Listener,
    seams: Seams,
    stop: threading.Event,
) -> DrillOutcome:
    plan = gameday.plan
    step = plan.drills[index]
    spec = resolve_step(step, gameday.directory / "drills")
    still = await_quiet(spec.expected_alerts, seams.firing, plan.quiet_timeout_s, seams.clock, stop)
    if still:
        listener("quiet-timeout", {"drill": step.drill, "firing": still})
    listener(
        "drill-start",
        {"drill": step.drill, "index": index + 1, "total": len(plan.drills), "spec": spec},
    )
    seams.marks.begin(step.drill)
    try:
        result = seams.run_drill(spec, target, RunOptions(runs_dir=runs_dir), listener)
    finally:
        marks = tuple(seams.marks.end())
    _draft_postmortem(result, listener)
    verdicts = _verdicts(History(runs_dir), result)
    listener("drill-end", {"drill": step.drill, "result": result, "verdicts": verdicts})
    return DrillOutcome(step.drill, "ran", result.reason, result, marks, verdicts)


def _stop(result: GameDayResult, reason: str, index: int) -> None:
    result.stopped = reason
    for rest in result.plan.drills[index + 1 :]:
        result.outcomes.append(DrillOutcome(rest.drill, "skipped", "game day stopped"))


def _draft_postmortem(result: DrillResult, listener: Listener) -> None:
    """Each drill's own post-mortem draft and report.html, as `genesis-drill run` leaves them
    (best effort: a drafting problem is a note, never the end of the game day)."""
    if not result.run_dir or not (Path(result.run_dir) / "result.json").exists():
        return
    from drills.postmortem.render import draft
    from drills.report.page import write_run_report

    for what, write in (("post-mortem", draft), ("report", write_run_report)):
        try:
            write(Path(result.run_dir))
        except (GenesisError, OSError, ValueError) as exc:
            listener("note", {"message": f"{result.drill}: {what} not written: {exc}"})


def _write_html(result: GameDayResult, listener: Listener) -> None:
    """The day's report.html: the scorecard and every drill's report (best effort)."""
    from drills.gameday.html import write_gameday_report

    try:
        write_gameday_report(result.directory)
    except (GenesisError, OSError, ValueError) as exc:
        listener("note", {"message": f"game day report.html not written: {exc}"})


def _verdicts(history: History, result: DrillResult) -> tuple[Verdict, ...]:
    if not result.run_dir or not (Path(result.run_dir) / "result.json").exists():
        return ()
    return tuple(history.check(Path(result.run_dir)))


def _stop_reason(plan: Plan, result: DrillResult) -> str:
    if result.outcome in UNTRUSTED:  # the platform cannot be trusted: always (not a policy)
        return f"{result.drill} ended {result.outcome}: game day stopped (always)"
    if result.outcome == Outcome.FAILED and plan.abort.on_failure == "stop":
        return f"{result.drill} missed an objective: game day stopped (abort.on_failure: stop)"
    if result.outcome not in (Outcome.PASSED, Outcome.FAILED) and plan.abort.on_error == "stop":
        return f"{result.drill} ended {result.outcome}: game day stopped (abort.on_error: stop)"
    return ""
