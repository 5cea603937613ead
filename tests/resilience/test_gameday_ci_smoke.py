"""A two-drill game day end to end on the sandbox (drills/gamedays/ci-smoke.yaml): both drills run
with the plan's short parameters, the report scores them, and the combined post-mortem exists."""

from __future__ import annotations

import json

import pytest

from drills.gameday import GAMEDAYS, load_plan, run_gameday

pytestmark = [pytest.mark.integration, pytest.mark.drill, pytest.mark.destructive]


def test_ci_smoke_game_day(genesis_target, genesis_runs_dir):
    """rabbitmq-outage (5 s) then malformed-events (40): both pass, score 100, report written."""
    events: list[str] = []
    plan = load_plan(GAMEDAYS / "ci-smoke.yaml")
    result = run_gameday(plan, genesis_target, genesis_runs_dir, lambda k, d: events.append(k))
    summary = [(o.drill, o.result.outcome if o.result else o.reason) for o in result.outcomes]
    print(f"\ngame day: score {result.score} {summary} in {result.directory}")
    for o in result.outcomes:
        if o.result:
            print(
                f"  {o.drill}: TTD={o.result.ttd_seconds} TTR={o.result.ttr_seconds} "
                f"ledger={o.result.ledger} wall={o.result.wall_seconds}s"
            )
    reasons = [o.result.reason if o.result else o.reason for o in result.outcomes]
    assert summary == [("rabbitmq-outage", "passed"), ("malformed-events", "passed")], reasons
    outage = result.outcomes[0].result
    assert outage is not None and outage.fault is not None
    held = outage.fault.figures["held_down_seconds"]
    assert isinstance(held, int | float) and held < 15
    assert result.score == 100.0 and result.exit_code == 0
    assert events.count("drill-start") == 2 and "cool-down" in events
    report = (result.directory / "report.md").read_text()
    assert "## Resilience score: 100 / 100" in report
    assert "| rabbitmq-outage | passed |" in report and "| malformed-events | passed |" in report
    postmortem = (result.directory / "postmortem.md").read_text()
    assert "## Action items" in postmortem and "status: draft" in postmortem
    saved = json.loads((result.directory / "report.json").read_text())
    assert [d["outcome"] for d in saved["drills"]] == ["passed", "passed"]
