"""What a game day came to: each step's outcome, the resilience score and the exit code.

Why a module of its own: the result is what everything after the run reads — the report and the
combined post-mortem (`drills.gameday.report`), the CLI's summary and exit status, the schedule's
record of what ran. A step's score is its share of objectives met (0 when the run could not be
trusted, none when skipped); the day's score is their mean, as `SCORE_FORMULA` says in the report.
The exit code is `drills.outcome.combined_exit_code`, the one table of exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.gameday.marks import Mark
from drills.gameday.plan import Plan
from drills.history import Verdict
from drills.outcome import MEASURED, combined_exit_code
from drills.results import DrillResult

SCORE_FORMULA = (
    "score = mean over the drills that were attempted of 100 x (objectives met / objectives); "
    "a drill that could not run or be trusted (preflight refused, target or observation error, "
    "rollback failed, interrupted) scores 0; skipped drills are not counted"
)


@dataclass(frozen=True)
class DrillOutcome:
    """What became of one step of the plan."""

    drill: str
    status: str  # "ran" or "skipped"
    reason: str
    result: DrillResult | None = None
    marks: tuple[Mark, ...] = ()
    verdicts: tuple[Verdict, ...] = ()

    @property
    def score(self) -> float | None:
        """100 x objectives met / objectives; 0 for an untrusted run; None when skipped."""
        if self.result is None:
            return None
        if self.result.outcome not in MEASURED or not self.result.objectives:
            return 0.0
        met = sum(o.passed for o in self.result.objectives)
        return 100.0 * met / len(self.result.objectives)

    def human(self, mark: str) -> float | None:
        """Seconds from the injection to the responders' first `mark`, if both exist."""
        at = self.result.injected_at if self.result else None
        injected = at.timestamp() if at else None
        times = [m.at for m in self.marks if m.name == mark]
        return None if injected is None or not times else round(min(times) - injected, 3)


@dataclass
class GameDayResult:
    """The game day as it goes: filled in step by step by `run_gameday`, then reported."""

    plan: Plan
    directory: Path
    started_at: float
    finished_at: float | None = None
    outcomes: list[DrillOutcome] = field(default_factory=list)
    stopped: str = ""
    # Where the day's runs are (and every earlier run): the report's alert-coverage line reads
    # them. None: not known, and the report leaves the line out.
    runs_dir: Path | None = None

    @property
    def score(self) -> float | None:
        scores = [s for o in self.outcomes if (s := o.score) is not None]
        return round(sum(scores) / len(scores), 1) if scores else None

    @property
    def regressions(self) -> list[tuple[str, Verdict]]:
        return [(o.drill, v) for o in self.outcomes for v in o.verdicts if v.regressed]

    @property
    def exit_code(self) -> int:
        """0 every attempted drill passed · 5 a rollback failed · 130 interrupted · 3 nothing
        could run · 1 otherwise (drills.outcome.combined_exit_code)."""
        return combined_exit_code(o.result.outcome for o in self.outcomes if o.result is not None)
