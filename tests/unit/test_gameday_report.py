"""The game-day report and combined post-mortem: byte-for-byte golden files of a rich game day
(a passed drill with responders' marks, a failed one that stops the day, a skipped one; each run
with its fault's figures, phases, backlog peaks and log evidence, so the combined draft shows each
drill's causal chain and log groups), and hostile text from a run (a reason, a log line with `|`,
`<script>`, backticks, newlines) escaped so it cannot break the tables or the lists.

GENESIS_UPDATE_GOLDEN=1 rewrites the golden files from what renders now (then read the diff)."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drills.backlog_peaks import BUFFER_PEAK, QUEUE_PEAK
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
from drills.log_evidence import LogEvidence, LogGroup, SourceStats
from drills.results import AlertSummary, BacklogPeak, DrillResult, FaultSummary, Phase
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


# What each drill's fault reported: (kind, params, figures, component ready at T+).
FAULTS: dict[str, tuple[str, dict[str, Any], dict[str, float | str], float]] = {
    "pod-kill": (
        "process-kill",
        {"signal": "KILL"},
        {"restart_pid": "4242", "restart_seconds": 0.031, "ready_seconds": 1.9},
        1.9,
    ),
    "rabbitmq-outage": (
        "service-stop",
        {"mode": "kill", "duration_s": 5},
        {"held_down_seconds": 5.0, "ready_seconds_after_start": 4.6},
        9.6,
    ),
}
# (figure, peak or None, at T+, limit, the reason when there is no peak)
PEAKS = {
    "pod-kill": ((BUFFER_PEAK, 0.0, 0.4, 100_000.0, ""), (QUEUE_PEAK, 1432.0, 1.8, 30_000.0, "")),
    "rabbitmq-outage": (
        (BUFFER_PEAK, 1496.0, 5.0, 100_000.0, ""),
        (QUEUE_PEAK, None, None, 30_000.0, "no sample of the queue gauge from the injection"),
    ),
}


def _peak(figure: str, value: float | None, offset: float | None, limit: float, why: str, t0):
    return BacklogPeak(
        figure=figure,
        peak=value,
        at=None if offset is None else t0 + timedelta(seconds=offset),
        source=""
        if value is None
        else "prometheus: the largest of 60 raw samples, at most 1 s apart",
        resolution_s=None if value is None else 1.0,
        reason=why,
        limit_figure="limit",
        limit=limit,
        limit_source="prometheus",
    )


LogLine = tuple[str, str, int, str, str | None]  # level, template, count, component, correlation


def evidence(t0: datetime, *groups: LogLine) -> LogEvidence:
    """A run's log evidence: groups of (level, template, count, component, correlation id)."""
    start = t0.timestamp() - 10
    return LogEvidence(
        available=True,
        note="",
        window=(start, start + 70),
        groups=tuple(
            LogGroup(level, text, n, start + 11, start + 12 + n, (who,), cid, text)
            for level, text, n, who, cid in groups
        ),
        sources=tuple(
            SourceStats(who, 900, 800, sum(g[2] for g in groups if g[3] == who), 0)
            for who in dict.fromkeys(g[3] for g in groups)
        ),
    )


LOGS: dict[str, tuple[LogLine, ...]] = {
    "pod-kill": (
        ("error", "consumer lost: connection reset by peer <ip>", 2, "rabbitmq", None),
        (
            "warning",
            "redelivered <n> messages after a consumer restart",
            1,
            "audit-log-analysis",
            "c0ffee00-0000-4000-8000-000000000001",
        ),
    ),
    "rabbitmq-outage": (
        ("warning", "broker connection lost: retrying in <n> s", 5, "audit-event-generator", None),
    ),
}


class RichRunner(FakeRunner):
    """FakeRunner's runs with what a real run records for its post-mortem: the drill file, the
    fault's figures, the phases, the first firing, the backlog peaks and the log evidence."""

    logs: dict[str, tuple[LogLine, ...]] = LOGS

    def __call__(self, spec, target, options, listener) -> DrillResult:
        result = super().__call__(spec, target, options, listener)
        run_dir = Path(result.run_dir)
        (run_dir / "drill.yaml").write_text(spec.path.read_text())
        t0 = result.injected_at
        assert t0 is not None
        kind, params, figures, ready = FAULTS[spec.name]

        def at(offset: float) -> datetime:
            return t0 + timedelta(seconds=offset)

        ttr = result.ttr_seconds or 0.0
        alert = spec.expected_alerts[0]
        result = replace(
            result,
            fault=FaultSummary(kind, params, figures, ()),
            phases=(
                Phase("inject", t0, 0.0, "journal"),
                Phase("first SLO breach", at(1.0), 1.0, "prometheus: steady-state probes"),
                Phase("alert firing", at(5.0), 5.0, "prometheus: ALERTS"),
                Phase("component ready", at(ready), ready, "target: fake"),
                Phase("SLO restored", at(ttr), ttr, "prometheus: steady-state probes"),
                Phase("backlog drained", at(ttr - 1), ttr - 1, "postgres: events (exact)"),
            ),
            alerts=AlertSummary(
                (alert,), (alert,), (), (), {alert: at(3.0)}, {alert: at(5.0)}, {alert: 2.0}, 1.0
            ),
            backlog_peaks=tuple(_peak(*p, t0) for p in PEAKS[spec.name]),
        )
        result.write(run_dir)
        evidence(t0, *self.logs[spec.name]).write(run_dir)
        return result


def _day(tmp_path: Path, logs=LOGS) -> GameDayResult:
    clock = FakeClock()
    runner = RichRunner(clock, outcomes={"rabbitmq-outage": "failed"})
    runner.logs = logs
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
    if os.environ.get("GENESIS_UPDATE_GOLDEN"):
        (GOLDEN / golden).write_text(text, encoding="utf-8")
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


def _section(text: str, heading: str, drill: str) -> str:
    """The part of `heading`'s section under the drill's own sub-heading."""
    part = text[text.index(f"## {heading}\n") :]
    part = part[part.index(f"### {drill} ") :]
    part = part[part.index("\n") + 1 :]
    return part[: min(i for i in (part.find("\n### "), part.find("\n## ")) if i >= 0)]


def test_the_combined_postmortem_has_each_drills_chain_and_log_groups(tmp_path):
    """Each drill that ran has its causal chain and its log groups under its own heading, the
    same lines its own draft has (one renderer); the skipped drill has neither."""
    from drills.postmortem.render import draft

    day = _day(tmp_path)
    text = combined_postmortem(day)
    for outcome in day.outcomes[:2]:
        assert outcome.result is not None
        own = draft(Path(outcome.result.run_dir)).read_text()
        chain = _section(text, "Causal chain", outcome.drill)
        assert chain.strip() and chain.strip() in own
        logs = _section(text, "Log evidence", outcome.drill)
        assert logs.strip() and logs.strip() in own
    pod_kill = _section(text, "Causal chain", "pod-kill")
    assert "**process-kill on audit-log-analysis**" in pod_kill
    assert "2. the analysis queue held the backlog: **peak 1,432 messages ready" in pod_kill
    outage = _section(text, "Log evidence", "rabbitmq-outage")
    assert "| warning | broker connection lost: retrying in \\<n\\> s | 5 |" in outage
    assert "### malformed-events" not in text


def test_hostile_log_text_is_escaped_in_the_combined_postmortem(tmp_path):
    """A log line's template, component and correlation id with pipes, a heading, a tag, a
    backtick and a newline stay inside one cell of one row: escaped like every other value."""
    hostile = "x | y\n## Not a heading\n| --- |\n<img src=x onerror=alert(1)> `rm` [l](http://e)"
    logs = {
        **LOGS,
        "rabbitmq-outage": (("error", hostile, 3, "rabbit|mq\n# h", "`a`|\n# b"),),
    }
    text = combined_postmortem(_day(tmp_path, logs))
    section = _section(text, "Log evidence", "rabbitmq-outage")
    (row,) = [line for line in section.splitlines() if line.startswith("| error |")]
    assert row.count(" | ") == 6  # still seven cells
    assert (
        "x \\| y \\#\\# Not a heading \\| --- \\| \\<img src=x onerror=alert(1)\\> \\`rm\\` "
        "\\[l\\](http://e)"
    ) in row
    assert "rabbit\\|mq \\# h" in row and "\\`a\\`\\| \\# b" in row
    assert re.search(r"(?<!\\)<img", text) is None  # no tag that is not escaped
    assert "\n## Not a heading" not in text and "\n# h" not in text
