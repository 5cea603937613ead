"""The game-day report and combined post-mortem: byte-for-byte golden files of a rich game day
(a passed drill with responders' marks, a failed one that stops the day, a skipped one), and
hostile text from a run (a reason with `|`, `<script>`, backticks, newlines) escaped so it cannot
break the scorecard table or the lists."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from drills.gameday import (
    DrillOutcome,
    GameDayResult,
    Mark,
    Seams,
    combined_postmortem,
    load_plan,
    report_markdown,
    run_gameday,
)
from drills.targets.fake import FakeTarget
from tests.unit.test_gameday import PLAN, FakeClock, FakeRunner, plan_file

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "gameday"
THREE = PLAN.replace("on_failure: continue", "on_failure: stop") + "  - drill: malformed-events\n"


class ScriptedMarks:
    """Ana marks "detected" 7 s and Bo "resolved" 30 s after each drill begins."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.started = clock, 0.0

    def begin(self, drill: str) -> None:
        self.started = self.clock.now()

    def end(self) -> list[Mark]:
        return [Mark("detected", self.started + 7, "Ana"), Mark("resolved", self.started + 30)]


def _day(tmp_path: Path) -> GameDayResult:
    clock = FakeClock()
    runner = FakeRunner(clock, outcomes={"rabbitmq-outage": "failed"})
    seams = Seams(runner, lambda: 1.0, lambda alerts: [], ScriptedMarks(clock), clock)
    plan = load_plan(plan_file(tmp_path, THREE))
    return run_gameday(plan, FakeTarget(), tmp_path / "runs", lambda k, d: None, seams)


@pytest.mark.parametrize(
    ("render", "golden"),
    [(report_markdown, "report.md"), (combined_postmortem, "postmortem.md")],
)
def test_report_and_postmortem_match_the_golden_files(tmp_path, render, golden):
    """The rendered Markdown is byte-for-byte the recorded one (paths normalised to TMP)."""
    text = render(_day(tmp_path)).replace(str(tmp_path), "TMP")
    assert text == (GOLDEN / golden).read_text(encoding="utf-8")


HOSTILE = "broke | here <script>alert(1)</script> `rm -rf` *now*\n| injected | row |"


def test_hostile_reasons_are_escaped_in_the_report_and_postmortem(tmp_path):
    """A reason from a run cannot add a table cell, a row, an HTML tag or a code span."""
    day = _day(tmp_path)
    ran = day.outcomes[0]
    assert ran.result is not None
    evil = DrillOutcome(
        ran.drill, "ran", HOSTILE, replace(ran.result, reason=HOSTILE), ran.marks, ran.verdicts
    )
    day.outcomes[:] = [evil, DrillOutcome("rabbitmq-outage", "skipped", HOSTILE)]
    report = report_markdown(day)
    escaped = (
        r"broke \| here \<script\>alert(1)\</script\> \`rm -rf\` \*now\* \| injected \| row \|"
    )
    skipped = [line for line in report.splitlines() if line.startswith("| rabbitmq-outage |")]
    assert skipped == [f"| rabbitmq-outage | skipped: {escaped} | | | | | | | |"]
    assert f"— {escaped}" in report  # the Runs list
    assert "<script>" not in report and "\n| injected" not in report
    postmortem = combined_postmortem(day)
    assert f"- pod-kill: passed — {escaped} (draft:" in postmortem
    assert f"- rabbitmq-outage: skipped — {escaped}" in postmortem
    assert "<script>" not in postmortem
