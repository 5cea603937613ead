"""Game days: a plan of drills run in order, with a cool-down, an error-budget gate and an abort
policy, ending in one scorecard and one combined post-mortem draft.

Why a package: teams do not run one drill, they run a rehearsed sequence on a schedule, and what
they review afterwards is the whole morning. Each concept has its module, in the order of the flow:

- `plan` — the plan (`drills/gamedays/*.yaml` or a user's file), validated with `file:line: field`
  errors, packaged plans by name, each step resolved to a drill file `drills.spec` re-validates;
- `clock` — wall time and waits a stop request ends (the seam that keeps tests from waiting);
- `marks` — the responders' own "detected / mitigated / resolved" marks;
- `gates` — the checks before each drill: error budget above the floor, expected alerts quiet;
- `run` — `run_gameday`: the control flow, its seams and the abort policy;
- `result` — what each step came to, the resilience score, the exit code;
- `report` — `report.md`, the combined `postmortem.md` (Jinja2 templates in `templates/`) and
  `report.json`.

The schedule and the Kubernetes CronJob live in `drills.gameday_schedule`. Everything callers use
is re-exported here, so `from drills.gameday import run_gameday` is the way in.
"""

from drills.gameday.clock import Clock, SystemClock
from drills.gameday.gates import (
    BudgetSource,
    QuietCheck,
    await_quiet,
    below_floor,
    prometheus_budget,
    prometheus_quiet,
)
from drills.gameday.marks import MARKS, LineMarks, Mark, MarkSource, NoMarks, parse_mark
from drills.gameday.plan import (
    BUDGET_ACTIONS,
    CATALOG,
    FAILURE_ACTIONS,
    GAMEDAYS,
    MISSED_POLICIES,
    AbortPolicy,
    BudgetGate,
    Plan,
    PlanDrill,
    Roles,
    load_plan,
    packaged_plan_name,
    plan_path,
    resolve_step,
)
from drills.gameday.report import (
    Report,
    ScorecardRow,
    combined_postmortem,
    report_markdown,
    scorecard,
    write_report,
)
from drills.gameday.result import SCORE_FORMULA, DrillOutcome, GameDayResult
from drills.gameday.run import DrillRunner, Seams, gameday_dir, run_gameday

__all__ = [
    "BUDGET_ACTIONS",
    "CATALOG",
    "FAILURE_ACTIONS",
    "GAMEDAYS",
    "MARKS",
    "MISSED_POLICIES",
    "SCORE_FORMULA",
    "AbortPolicy",
    "BudgetGate",
    "BudgetSource",
    "Clock",
    "DrillOutcome",
    "DrillRunner",
    "GameDayResult",
    "LineMarks",
    "Mark",
    "MarkSource",
    "NoMarks",
    "Plan",
    "PlanDrill",
    "QuietCheck",
    "Report",
    "Roles",
    "ScorecardRow",
    "Seams",
    "SystemClock",
    "await_quiet",
    "below_floor",
    "combined_postmortem",
    "gameday_dir",
    "load_plan",
    "packaged_plan_name",
    "parse_mark",
    "plan_path",
    "prometheus_budget",
    "prometheus_quiet",
    "report_markdown",
    "resolve_step",
    "run_gameday",
    "scorecard",
    "write_report",
]
