"""One table of exit codes: each outcome carries its code, and the errors and the game day's
exit code derive from it, so the three cannot drift apart."""

from __future__ import annotations

import pytest

from drills import errors
from drills.outcome import EXIT_CODES, MEASURED, Outcome, combined_exit_code

# The error a run ends with → the outcome the runner records for it (drills.runner.run).
OUTCOME_OF_ERROR = {
    errors.PreflightRefused: Outcome.PREFLIGHT_REFUSED,
    errors.TargetError: Outcome.TARGET_ERROR,
    errors.ObservationError: Outcome.OBSERVATION_ERROR,
    errors.RollbackFailed: Outcome.ROLLBACK_FAILED,
    errors.Interrupted: Outcome.INTERRUPTED,
    errors.Aborted: Outcome.ABORTED,
    errors.GenesisError: Outcome.ERROR,
}


def test_outcome_values_are_the_strings_result_files_hold():
    """Renaming an outcome would orphan every recorded run: the values are fixed."""
    assert [o.value for o in Outcome] == [
        "passed",
        "failed",
        "preflight-refused",
        "target-error",
        "observation-error",
        "rollback-failed",
        "interrupted",
        "aborted",
        "error",
    ]
    assert set(EXIT_CODES) == set(Outcome)


@pytest.mark.parametrize(("error", "outcome"), OUTCOME_OF_ERROR.items())
def test_error_exit_codes_agree_with_the_outcome(error, outcome):
    """Each error's exit code is the exit code of the outcome a run records for it."""
    assert error.exit_code == outcome.exit_code


def test_exit_codes_are_the_designs():
    """DESIGN.md §5: 0 passed · 1 objective missed · 3 target error / preflight refused ·
    4 observation error · 5 rollback failed · 130 interrupted; bad input (2) is no outcome."""
    assert {o.value: o.exit_code for o in Outcome} == {
        "passed": 0,
        "failed": 1,
        "preflight-refused": 3,
        "target-error": 3,
        "observation-error": 4,
        "rollback-failed": 5,
        "interrupted": 130,
        "aborted": 1,
        "error": 1,
    }
    assert 2 not in EXIT_CODES.values() and errors.InvalidInput.exit_code == 2


def test_game_day_exit_code_precedence():
    """Rollback failed beats interrupted beats a miss; nothing ran is a target error (3)."""
    assert combined_exit_code([Outcome.INTERRUPTED, Outcome.ROLLBACK_FAILED]) == 5
    assert combined_exit_code([Outcome.FAILED, Outcome.INTERRUPTED]) == 130
    assert combined_exit_code([Outcome.PASSED, Outcome.PASSED]) == 0
    assert combined_exit_code([Outcome.PASSED, Outcome.OBSERVATION_ERROR]) == 1
    assert combined_exit_code([]) == errors.TargetError.exit_code
    assert {Outcome.PASSED, Outcome.FAILED, Outcome.ABORTED} == MEASURED
