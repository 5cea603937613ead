"""How a run ended, and the exit code that says so: the one table every other place derives from.

`result.json` stores the outcome's value; the CLI exits with its `exit_code`; the exception classes
of `drills.errors` take their codes from here, and the game day's exit code is computed from the
outcomes of its drills. DESIGN.md §5: 0 passed · 1 ran, objective missed · 2 invalid input (never
an outcome: bad input is refused before a run exists) · 3 target error / preflight refused ·
4 observation error · 5 rollback failed · 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Outcome(StrEnum):
    """The outcome of one run; the value is what `result.json` stores."""

    PASSED = "passed"
    FAILED = "failed"  # ran to the end, an objective was missed
    PREFLIGHT_REFUSED = "preflight-refused"  # a precondition failed: nothing was injected
    TARGET_ERROR = "target-error"
    OBSERVATION_ERROR = "observation-error"
    ROLLBACK_FAILED = "rollback-failed"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"  # an abort condition ended the drill early; rolled back
    ERROR = "error"  # an internal error of the harness (a bug), after rollback

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_CODES: dict[Outcome, int] = {
    Outcome.PASSED: 0,
    Outcome.FAILED: 1,
    Outcome.PREFLIGHT_REFUSED: 3,
    Outcome.TARGET_ERROR: 3,
    Outcome.OBSERVATION_ERROR: 4,
    Outcome.ROLLBACK_FAILED: 5,
    Outcome.INTERRUPTED: 130,
    Outcome.ABORTED: 1,
    Outcome.ERROR: 1,
}

# Outcomes whose figures were measured: a refused or broken run says nothing about speed, so the
# history's baselines and the game day's score count only these.
MEASURED = frozenset({Outcome.PASSED, Outcome.FAILED, Outcome.ABORTED})
# Outcomes of a run that completed its lifecycle and was judged on every objective: the only runs
# whose *silence* about a finding is evidence that it is gone (`issues sync`). An aborted run
# stopped early, so what it did not find it may simply not have reached.
JUDGED = frozenset({Outcome.PASSED, Outcome.FAILED})
# Outcomes after which the platform cannot be trusted: a game day always stops (not a policy).
UNTRUSTED = (Outcome.ROLLBACK_FAILED, Outcome.INTERRUPTED)


def combined_exit_code(outcomes: Iterable[Outcome]) -> int:
    """The exit code of several runs (a game day): a failed rollback, then an interrupt, win;
    nothing ran at all is a target error; otherwise passed only when every run passed."""
    seen = set(outcomes)
    for loud in UNTRUSTED:
        if loud in seen:
            return loud.exit_code
    if not seen:
        return Outcome.TARGET_ERROR.exit_code
    return Outcome.PASSED.exit_code if seen == {Outcome.PASSED} else Outcome.FAILED.exit_code
