"""`issues sync`: close the loop between exported action items and the runs that came after them.

For every genesis-drill issue of the repository whose finding the given runs know (by fingerprint,
or by its `drill:` label when the run that found it has been pruned), the sync reads the issue and
its comments, judges the finding over the later runs of the same drill (drills.export.verdict:
fixed / still-failing / regressed / no-later-run), and — only with `apply` — comments with the
deciding run's evidence, closes fixed items (`close_fixed`) and reopens regressed ones. Open items
past the due date of their priority are flagged overdue. Whatever it writes or not, it records
each item's tracker state in the run directories (`tracker.json`, and the post-mortem's tracking
cells: drills.export.tracker), because reading the tracker is harmless and the post-mortem and the
report should show it.

Runs are ordered by their own `started_at` (result.json), not by the history index: history sits
above the exporter in the layers, and result.json is what it reads too.

Writes are serial and go through the exporter's `_call` (back-off on 403/429 with Retry-After).
A sync that fails half-way is simply run again: what it already said is in the issues' comments
(sync marks), so nothing is said twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.errors import InvalidInput
from drills.export import tracker
from drills.export.github import GitHubExporter, parse_repo
from drills.export.tracked import SyncMark, TrackedIssue, last_mark
from drills.export.verdict import (
    EVERY_RUN_RULES,
    Judgement,
    Plan,
    RunFacts,
    Verdict,
    day,
    due_date,
    judge,
    overdue,
    plan,
)
from drills.postmortem.actions import ActionItem, derive
from drills.postmortem.context import build
from drills.postmortem.tracker import TrackerState
from drills.results import RESULT_NAME, DrillResult


@dataclass(frozen=True)
class RunSet:
    """The runs a sync judges by, and (for a single run directory) the run whose items it syncs."""

    runs: tuple[RunFacts, ...]
    focus: RunFacts | None = None
    skipped: Mapping[Path, str] = field(default_factory=dict)


def facts(run_dir: Path) -> RunFacts:
    """One run directory read as the sync needs it (InvalidInput when result.json is not a
    result)."""
    ctx = build(run_dir)
    return RunFacts(
        run_id=ctx.run_id,
        drill=ctx.drill,
        outcome=ctx.outcome,
        started_at=ctx.started_at,
        run_dir=run_dir,
        items={item.fingerprint: item for item in derive(ctx)},
        ttd_s=ctx.ttd.seconds,
        ttr_s=ctx.ttr.seconds,
        lost=ctx.ledger.lost if ctx.ledger else None,
        duplicated=ctx.ledger.duplicated if ctx.ledger else None,
    )


def read_runs(path: Path) -> RunSet:
    """RUNS_DIR: every run directory in it. RUN_DIR: that run's items, judged by the runs of the
    same drill beside it (its parent is the runs directory)."""
    if (path / RESULT_NAME).is_file():
        focus = facts(path)
        candidates, drill = _run_dirs(path.parent), focus.drill
    elif path.is_dir():
        focus, candidates, drill = None, _run_dirs(path), None
        if not candidates:
            raise InvalidInput(f"{path}: holds no run directory (no */{RESULT_NAME})")
    elif path.exists():
        raise InvalidInput(f"{path}: not a run directory nor a runs directory")
    else:
        raise InvalidInput(f"{path}: no such run or runs directory")
    runs: list[RunFacts] = [focus] if focus else []
    skipped: dict[Path, str] = {}
    for run_dir in candidates:
        if focus is not None and run_dir.resolve() == path.resolve():
            continue
        try:
            if drill is not None and DrillResult.read(run_dir).drill != drill:
                continue
            runs.append(facts(run_dir))
        except InvalidInput as exc:  # one broken run must not hide the others
            skipped[run_dir] = str(exc)
    return RunSet(tuple(sorted(runs, key=RunFacts.order)), focus, skipped)


def _run_dirs(runs_dir: Path) -> list[Path]:
    return sorted(p.parent for p in runs_dir.glob(f"*/{RESULT_NAME}"))


@dataclass(frozen=True)
class SyncRow:
    """One item: its issue, the verdict, the due date, and what the sync did (or would do)."""

    fingerprint: str
    number: int
    url: str
    title: str
    priority: str | None
    state: str
    state_reason: str | None
    verdict: Verdict
    run_id: str | None
    due: datetime | None
    overdue: bool
    actions: tuple[str, ...]  # "comment", "close", "reopen"
    note: str = ""

    def tracker_state(self, synced_at: datetime) -> TrackerState:
        return TrackerState(
            number=self.number,
            url=self.url,
            state=self.state,
            state_reason=self.state_reason,
            verdict=str(self.verdict),
            verdict_run=self.run_id,
            due=day(self.due),
            overdue=self.overdue,
            synced_at=synced_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "issue": self.number,
            "url": self.url,
            "title": self.title,
            "priority": self.priority,
            "state": self.state,
            "state_reason": self.state_reason,
            "verdict": str(self.verdict),
            "run": self.run_id,
            "due": self.due.date().isoformat() if self.due else None,
            "overdue": self.overdue,
            "actions": list(self.actions),
            "note": self.note,
        }


@dataclass(frozen=True)
class SyncReport:
    repo: str
    applied: bool
    rows: tuple[SyncRow, ...]
    skipped: Mapping[Path, str]
    synced_at: datetime

    @property
    def overdue(self) -> tuple[SyncRow, ...]:
        return tuple(row for row in self.rows if row.overdue)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "applied": self.applied,
            "synced_at": self.synced_at.isoformat(timespec="seconds"),
            "items": [row.to_json() for row in self.rows],
            "overdue": [row.fingerprint for row in self.overdue],
            "skipped": {str(path): why for path, why in self.skipped.items()},
        }


def sync(
    path: Path,
    repo: str,
    exporter: GitHubExporter,
    *,
    now: datetime,
    apply: bool = False,
    close_fixed: bool = False,
) -> SyncReport:
    """Judge every tracked item the runs at `path` know, write to the tracker only with `apply`,
    and record the tracker states in the run directories."""
    owner, name = parse_repo(repo)
    runs = read_runs(path)
    issues = _in_scope(_one_per_fingerprint(exporter.tracked_issues(owner, name)), runs)
    rows = []
    for issue in issues:
        known = _newest_item(issue.fingerprint, runs.runs)
        drill = issue.label("drill") or (known.drill if known else None)
        of_drill = [r for r in runs.runs if r.drill == drill]
        item = _newest_item(issue.fingerprint, of_drill)
        rule = item.rule if item else issue.rule
        mark = last_mark(exporter.comment_bodies(owner, name, issue.number))
        judgement = judge(issue, rule, of_drill, mark)
        todo = plan(issue, judgement, mark, close_fixed)
        now_issue = issue
        if apply and todo.writes:
            now_issue = _write(exporter, owner, name, issue, judgement, todo, item, rule)
        rows.append(_row(now_issue, judgement, todo, item, now))
    report = SyncReport(repo, apply, tuple(rows), runs.skipped, now)
    _record(report, runs)
    return report


def _one_per_fingerprint(issues: Sequence[TrackedIssue]) -> list[TrackedIssue]:
    """The issue that tracks each fingerprint: the newest open one, else the newest closed one
    (`issues export` files a new issue when the old one is closed, and that one is current)."""
    chosen: dict[str, TrackedIssue] = {}
    for issue in sorted(issues, key=lambda i: (i.state == "open", i.number)):
        chosen[issue.fingerprint] = issue
    return sorted(chosen.values(), key=lambda i: i.number)


def _in_scope(issues: Sequence[TrackedIssue], runs: RunSet) -> list[TrackedIssue]:
    if runs.focus is not None:
        return [i for i in issues if runs.focus.finds(i.fingerprint)]
    drills = {r.drill for r in runs.runs}
    return [
        i
        for i in issues
        if any(r.finds(i.fingerprint) for r in runs.runs) or i.label("drill") in drills
    ]


def _newest_item(fingerprint: str, runs: Sequence[RunFacts]) -> ActionItem | None:
    """The item as the newest of `runs` (oldest first) that derived it words it."""
    for run in reversed(runs):
        if run.finds(fingerprint):
            return run.items[fingerprint]
    return None


def _write(
    exporter: GitHubExporter,
    owner: str,
    name: str,
    issue: TrackedIssue,
    judgement: Judgement,
    todo: Plan,
    item: ActionItem | None,
    rule: str | None,
) -> TrackedIssue:
    """Comment first, then change the state: a comment that made it is never posted again."""
    if todo.comment:
        exporter.comment(owner, name, issue.number, comment(issue, judgement, item, rule, todo))
    if todo.state is not None and todo.state_reason is not None:
        changed = exporter.set_state(owner, name, issue.number, todo.state, todo.state_reason)
        return changed or replace(issue, state=todo.state, state_reason=todo.state_reason)
    return issue


def _row(
    issue: TrackedIssue, judgement: Judgement, todo: Plan, item: ActionItem | None, now: datetime
) -> SyncRow:
    priority = issue.label("priority") or (item.priority if item else None)
    due = due_date(issue, priority)
    actions = (("comment",) if todo.comment else ()) + (
        ({"closed": "close", "open": "reopen"}[todo.state],) if todo.state else ()
    )
    return SyncRow(
        fingerprint=issue.fingerprint,
        number=issue.number,
        url=issue.url,
        title=issue.title,
        priority=priority,
        state=issue.state,
        state_reason=issue.state_reason,
        verdict=judgement.verdict,
        run_id=judgement.run.run_id if judgement.run else None,
        due=due,
        overdue=overdue(issue.state, due, now),
        actions=actions,
        note=todo.note,
    )


def _record(report: SyncReport, runs: RunSet) -> None:
    """Each run directory gets the states of the items it derived (a single RUN_DIR: only it)."""
    states = {row.fingerprint: row.tracker_state(report.synced_at) for row in report.rows}
    for run in (runs.focus,) if runs.focus else runs.runs:
        mine = {fp: states[fp] for fp in run.items if fp in states}
        if mine:
            tracker.write(run.run_dir, mine)


# --- what the comments say -----------------------------------------------------------------


def figures(run: RunFacts) -> str:
    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} s"

    def count(value: int | None, what: str) -> str:
        return f"{'n/a' if value is None else value} {what}"

    return (
        f"TTD {seconds(run.ttd_s)} · TTR {seconds(run.ttr_s)} · {count(run.lost, 'events lost')}"
        f" · {count(run.duplicated, 'duplicated')}"
    )


def comment(
    issue: TrackedIssue,
    judgement: Judgement,
    item: ActionItem | None,
    rule: str | None,
    todo: Plan,
) -> str:
    """The comment for a fixed or regressed verdict: the deciding run, its figures, the done
    condition, and the sync mark that keeps a re-run from saying it again."""
    run = judgement.run
    if run is None:
        raise ValueError("only a verdict that rests on a run is commented")
    when = run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    head = f"run `{run.run_id}` of drill `{run.drill}` (outcome: {run.outcome}, started {when})"
    done_when = item.done_when if item else issue.done_when
    lines: list[str] = []
    if judgement.verdict == Verdict.FIXED:
        if rule in EVERY_RUN_RULES:
            lines.append(f"**Done in {head}**: the drill ran again to completion.")
        else:
            lines.append(
                f"**Fixed in {head}**: the run no longer finds this item "
                f"(rule `{rule or '?'}`, fingerprint `{issue.fingerprint}`)."
            )
    else:
        since = (
            f"this issue was closed ({issue.closed_at:%Y-%m-%d})"
            if issue.state == "closed" and issue.closed_at
            else "it was reported fixed"
        )
        lines.append(f"**Regressed in {head}**: the run finds this item again after {since}.")
        found = run.items.get(issue.fingerprint)
        if found is not None:
            lines += ["", f"**Evidence:** {found.evidence}"]
    lines += ["", f"Figures of that run: {figures(run)}."]
    if done_when:
        lines += ["", f"**Done when:** {done_when}"]
    if todo.state == "closed":
        lines += ["", "Closing as completed (`genesis-drill issues sync --close-fixed`)."]
    elif todo.state == "open":
        lines += ["", "Reopening with this evidence (`genesis-drill issues sync`)."]
    mark = SyncMark(str(judgement.verdict), run.run_id, run.started_at)
    return "\n".join([*lines, "", mark.text()])
