"""The game day's report: `report.md` (scorecard and score), `postmortem.md`, `report.json`.

Why a module of its own: what the team reviews afterwards is the whole morning — which drill met
which objective, how the responders' own marks compare with Prometheus' figures, and one list of
action items without the same finding filed twice. Both Markdown files are Jinja2 templates shipped
in the package (`drills/gameday/templates/`, found by `drills.packaged`), rendered by the
post-mortem's environment (`drills.postmortem.render.environment`): every value is Markdown-escaped
on output, so a drill's reason — which can quote an exception or a log line — cannot add a cell or
a row to a table, open a code span or smuggle in HTML. The only text that goes out as is is what
this module composed itself from the harness's own figures (marked `Markup`, each with its reason).

The combined post-mortem explains each drill the way its own draft does: its causal chain and its
log evidence are the single-drill templates (`causal_segments.md.j2`, `log_evidence.md.j2`, found
next to the game day's own) rendered over each run's `drills.postmortem.context.RunContext`, so the
rules, the wording and the escaping of every value from a log or an event are the same code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from drills import packaged
from drills.errors import GenesisError
from drills.gameday.marks import MARKS
from drills.gameday.result import SCORE_FORMULA, DrillOutcome, GameDayResult
from drills.history import RULE as RULE_TEXT
from drills.results import DrillResult, iso

if TYPE_CHECKING:
    from drills.postmortem.actions import ActionItem
    from drills.postmortem.context import RunContext

REPORT_TEMPLATE = "report.md.j2"
POSTMORTEM_TEMPLATE = "postmortem.md.j2"
# An objective's target as the runner's judging writes it (`<= 30s`, `<= 0`, `<= 0.05`): shown as
# is, so the report reads like the drill file; any other text is escaped like everything else.
_LIMIT = re.compile(r"<= [0-9][0-9.e+-]*s?")


@dataclass(frozen=True)
class ScorecardRow:
    """One step of the plan in the scorecard; a skipped step has only its drill and `note`."""

    drill: str
    skipped: bool
    outcome: str = "skipped"
    ttd: str = ""
    ttr: str = ""
    lost: str = ""
    budget: str = ""
    human: str = ""
    regressions: str = ""
    score: str = ""
    note: str = ""
    run_dir: str = ""


@dataclass(frozen=True)
class SeenAction:
    """An action item of the combined post-mortem and every run (by run id) that found it."""

    item: ActionItem
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """What the game-day templates see: the result and what this module composed from it."""

    day: GameDayResult
    rows: tuple[ScorecardRow, ...]
    started: str
    finished: str
    # Composed by drills.gameday.run from a validated drill name, an Outcome and the plan's policy
    # words (`abort.on_failure: stop`): trusted, so the underscores stay as they are.
    stopped: Markup
    rule: Markup  # drills.history.RULE, a constant with `>` and brackets on purpose
    score_formula: str
    actions: tuple[SeenAction, ...] = ()
    runs: tuple[RunContext, ...] = ()  # each drill's run as its own post-mortem reads it
    problems: tuple[str, ...] = ()  # run directories that could not be read, and why
    coverage: str = ""  # drills.coverage.summary_line over the runs directory, if known

    def draft(self, outcome: DrillOutcome) -> str:
        """Where the drill's own post-mortem draft is (drafted by drills.gameday.run)."""
        from drills.postmortem.render import POSTMORTEM_NAME

        return str(Path(outcome.result.run_dir if outcome.result else "") / POSTMORTEM_NAME)


def _fig(value: float | int | None, unit: str = "s") -> str:
    return "n/a" if value is None else f"{value:g}{unit}"


def _objective(result: DrillResult, name: str) -> str:
    from drills.postmortem.render import md

    for objective in result.objectives:
        if objective.name == name:
            target = objective.target
            shown = target if _LIMIT.fullmatch(target) else md(target)
            return f"{shown} ({'met' if objective.passed else 'MISSED'})"
    return "—"


def _against(result: DrillResult, value: float | int | None, unit: str, objective: str) -> Markup:
    # Figures formatted here and an objective vetted by _objective: Markdown on purpose.
    return Markup(f"{_fig(value, unit)} vs {_objective(result, objective)}")  # noqa: S704


def scorecard(result: GameDayResult) -> list[ScorecardRow]:
    """One row per step: TTD, TTR, loss and budget against the drill's objectives, the
    responders' own times, regressions and the drill's score."""
    rows = []
    for o in result.outcomes:
        r = o.result
        if r is None:
            rows.append(ScorecardRow(o.drill, skipped=True, note=o.reason))
            continue
        lost = r.ledger.lost if r.ledger else None
        rows.append(
            ScorecardRow(
                drill=o.drill,
                skipped=False,
                outcome=r.outcome,
                ttd=_against(r, r.ttd_seconds, "s", "time to detect"),
                ttr=_against(r, r.ttr_seconds, "s", "time to recover"),
                lost=_against(r, lost, "", "events lost"),
                budget=_against(r, r.error_budget_consumed, "", "error budget consumed"),
                human=", ".join(
                    f"{name} {_fig(o.human(name))}"
                    for name in MARKS.values()
                    if o.human(name) is not None
                )
                or "—",
                regressions=", ".join(v.figure for v in o.verdicts if v.regressed) or "none",
                score=_fig(o.score, ""),
                note=r.reason,
                run_dir=r.run_dir,
            )
        )
    return rows


def _coverage(result: GameDayResult) -> str:
    """The alert-coverage line as of the day's end (the game day's clock, not the wall's)."""
    if result.runs_dir is None:
        return ""
    from datetime import UTC, datetime

    from drills.coverage import summary_line

    at = result.finished_at if result.finished_at is not None else result.started_at
    return summary_line(result.runs_dir, datetime.fromtimestamp(at, UTC))


def _document(result: GameDayResult, **findings: Any) -> Report:
    return Report(
        day=result,
        rows=tuple(scorecard(result)),
        started=str(iso(result.started_at)),
        finished=str(iso(result.finished_at)),
        stopped=Markup(result.stopped),  # noqa: S704 - see Report.stopped
        rule=Markup(RULE_TEXT),  # noqa: S704 - a constant of drills.history
        score_formula=SCORE_FORMULA,
        **findings,
    )


def _render(template: str, doc: Report) -> str:
    from drills.postmortem.render import environment

    # The game day's templates first: its `postmortem.md.j2` is not the single drill's.
    env = environment([packaged.gameday_templates(), packaged.postmortem_templates()])
    return str(env.get_template(template).render(doc=doc, day=doc.day, plan=doc.day.plan))


def report_markdown(result: GameDayResult) -> str:
    """`report.md`: the scorecard, the resilience score and its formula, the alert coverage of
    the runs directory (`drills.coverage`), the regression check."""
    return _render(REPORT_TEMPLATE, _document(result, coverage=_coverage(result)))


def combined_postmortem(result: GameDayResult) -> str:
    """One post-mortem draft for the whole game day: the scorecard, each drill's own draft linked,
    each drill's causal chain and log evidence, and the action items of every drill from
    `drills.postmortem.actions`, de-duplicated by fingerprint (a finding seen by two drills is
    listed once, naming both runs)."""
    from drills.postmortem.actions import derive
    from drills.postmortem.context import build

    items: dict[str, tuple[ActionItem, list[str]]] = {}
    runs: list[RunContext] = []
    problems = []
    for o in result.outcomes:
        if o.result is None or not o.result.run_dir:
            continue
        try:
            ctx = build(Path(o.result.run_dir))
        except (GenesisError, OSError) as exc:
            problems.append(f"{o.drill}: {exc}")
            continue
        runs.append(ctx)
        for item in derive(ctx):
            entry = items.setdefault(item.fingerprint, (item, []))
            entry[1].append(ctx.run_id)
    actions = tuple(SeenAction(item, tuple(runs)) for item, runs in items.values())
    return _render(
        POSTMORTEM_TEMPLATE,
        _document(result, actions=actions, runs=tuple(runs), problems=tuple(problems)),
    )


def write_report(result: GameDayResult) -> None:
    """`report.md` (scorecard and score), `postmortem.md` (combined draft), `report.json`."""
    result.directory.mkdir(parents=True, exist_ok=True)
    (result.directory / "report.md").write_text(report_markdown(result))
    (result.directory / "postmortem.md").write_text(combined_postmortem(result))
    payload = {
        "plan": result.plan.name,
        "started_at": iso(result.started_at),
        "finished_at": iso(result.finished_at),
        "stopped": result.stopped,
        "score": result.score,
        "score_formula": SCORE_FORMULA,
        "regression_rule": RULE_TEXT,
        "drills": [
            {
                "drill": o.drill,
                "status": o.status,
                "reason": o.reason,
                "run_dir": o.result.run_dir if o.result else None,
                "outcome": o.result.outcome if o.result else None,
                "score": o.score,
                "marks": [m.__dict__ for m in o.marks],
                "regressions": [v.describe() for v in o.verdicts if v.regressed],
            }
            for o in result.outcomes
        ],
    }
    (result.directory / "report.json").write_text(json.dumps(payload, indent=2) + "\n")
