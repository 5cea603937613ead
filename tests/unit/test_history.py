"""The run history index and the regression rule (median + MAD over a rolling baseline), over
synthetic histories written as run directories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills.errors import InvalidInput
from drills.history import BASELINE_RUNS, History, judge, threshold
from drills.ledger import Ledger
from drills.outcome import Outcome
from drills.results import DrillResult


def write_run(
    runs: Path,
    n: int,
    ttd: float | None,
    ttr: float | None,
    lost: int = 0,
    outcome: str = "passed",
    drill: str = "pod-kill",
) -> Path:
    run_id = f"20260101T00{n:04d}Z-{drill}"
    run_dir = runs / run_id
    run_dir.mkdir(parents=True)
    DrillResult(
        run_id=run_id,
        drill=drill,
        target="local",
        outcome=Outcome(outcome),
        reason="",
        started_at=datetime(2026, 1, 1, 0, n // 60, n % 60, tzinfo=UTC),
        ttd_seconds=ttd,
        ttr_seconds=ttr,
        ledger=Ledger(run_id, 1, 100, 100, 100 - lost, 0, lost, 0),
        error_budget_consumed=0.01,
        wall_seconds=40.0,
        run_dir=str(run_dir),
    ).write(run_dir)
    return run_dir


def test_threshold_is_median_plus_three_scaled_mads():
    """median 10, MAD 1 → threshold 10 + 3 x 1.4826 x 1 = 14.4478."""
    med, mad, limit = threshold([9, 10, 11, 10, 12, 8, 10], floor=1.0)
    assert (med, mad) == (10, 1)
    assert limit == pytest.approx(14.4478)


def test_flat_baseline_uses_the_floors():
    """With MAD 0 the 10 % relative floor and the absolute floor keep noise from counting."""
    assert judge("ttr", 21.5, [20.0] * 6).regressed is False  # threshold 22 (2 s floor)
    assert judge("ttr", 22.5, [20.0] * 6).regressed is True
    assert judge("ttd", 55.0, [50.0] * 6).regressed is False  # threshold 55 (10 % of 50)


def test_any_loss_over_a_loss_free_baseline_regresses():
    """Lost events: a baseline of zeros makes a single lost event a regression."""
    assert judge("lost", 1, [0] * 5).regressed is True
    assert judge("lost", 0, [0] * 5).regressed is False


def test_short_history_is_never_a_regression():
    """Fewer than five baseline runs: the verdict says so instead of guessing."""
    verdict = judge("ttr", 500.0, [10.0] * 4)
    assert verdict.regressed is False
    assert "not enough history" in verdict.note


def test_check_indexes_runs_and_flags_a_slow_recovery(tmp_path):
    """Ten steady runs, then one with TTR doubled: TTR regressed, TTD did not."""
    for n in range(10):
        write_run(tmp_path, n, ttd=4.0 + (n % 3) * 0.2, ttr=20.0 + (n % 2))
    slow = write_run(tmp_path, 10, ttd=4.1, ttr=41.0)
    verdicts = {v.figure: v for v in History(tmp_path).check(slow)}
    assert verdicts["ttr"].regressed and verdicts["ttr"].baseline_size == BASELINE_RUNS
    assert not verdicts["ttd"].regressed
    assert "REGRESSED" in verdicts["ttr"].describe()
    assert (tmp_path / "history.sqlite").exists()


def test_baseline_excludes_later_runs_other_drills_and_refused_runs(tmp_path):
    """Only earlier, measured runs of the same drill form the baseline."""
    for n in range(6):
        write_run(tmp_path, n, ttd=4.0, ttr=20.0)
    write_run(tmp_path, 6, ttd=None, ttr=None, outcome="preflight-refused")
    write_run(tmp_path, 7, ttd=90.0, ttr=90.0, drill="rabbitmq-outage")
    target = write_run(tmp_path, 8, ttd=4.0, ttr=20.0)
    write_run(tmp_path, 9, ttd=1.0, ttr=1.0)
    history = History(tmp_path)
    history.sync()
    row = next(r for r in history.runs("pod-kill", 50) if r.run_dir == str(target))
    assert history.baseline(row, "ttr") == [20.0] * 6


def test_sync_is_idempotent_and_trend_is_oldest_first(tmp_path):
    """Indexing twice adds nothing; the trend lists runs oldest first with medians."""
    for n, ttr in enumerate([30.0, 20.0, 10.0]):
        write_run(tmp_path, n, ttd=5.0, ttr=ttr)
    history = History(tmp_path)
    assert history.sync() == 3
    assert history.sync() == 0
    trend = history.trend("pod-kill")
    assert trend.series("ttr") == [30.0, 20.0, 10.0]
    assert trend.median("ttr") == 20.0


def test_history_command_shows_trend_and_rule(tmp_path):
    """`genesis-drill history DRILL` lists runs, medians and states the rule."""
    from click.testing import CliRunner

    from drills.cli.main import cli

    for n in range(6):
        write_run(tmp_path, n, ttd=4.0, ttr=20.0)
    write_run(tmp_path, 6, ttd=4.0, ttr=60.0)
    out = CliRunner().invoke(cli, ["history", "pod-kill", "--runs-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "trend (median): TTD 4s, TTR 20s" in out.output
    assert "ttr: 60s REGRESSED" in out.output
    assert "rule: regression: value > median + max(3 x 1.4826 x MAD" in out.output


def test_a_result_of_an_unknown_shape_is_named_not_dropped(tmp_path):
    """`sync` indexes the readable runs and lists a result.json with a renamed field in
    `skipped` (file and field); checking that run itself is an InvalidInput naming both."""
    write_run(tmp_path, 0, ttd=4.0, ttr=20.0)
    broken = write_run(tmp_path, 1, ttd=4.0, ttr=20.0)
    raw = json.loads((broken / "result.json").read_text())
    raw["ttr"] = raw.pop("ttr_seconds")
    (broken / "result.json").write_text(json.dumps(raw))
    history = History(tmp_path)
    assert history.sync() == 1
    assert "ttr: unknown field" in history.skipped[broken]
    assert str(broken / "result.json") in history.skipped[broken]
    with pytest.raises(InvalidInput, match=r"result\.json: ttr: unknown field"):
        history.check(broken)
