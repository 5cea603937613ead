"""Judging one exported action item against the later runs of its drill — pure, no I/O.

The question `issues sync` asks of every issue: does the finding it tracks still happen? A finding
is an action item's fingerprint (drill + rule + subject, drills.postmortem.actions), so the answer
is read from which runs of the same drill derive that fingerprint again:

- **later** runs are those that started after the run the issue was filed from (named in its body;
  when that run is not on disk, the first local run that found it; failing that, the issue's
  creation);
- a later run that derives the fingerprint is evidence the finding is **present** (whatever its
  outcome: an aborted run that missed an alert still missed it); a later run that does not is
  evidence it is **absent** only when the run was complete and judged (`drills.outcome.JUDGED`:
  passed or failed) — an aborted or refused run did not look;
- the newest piece of evidence decides: absent → **fixed**; present → **still-failing**, or
  **regressed** when that run started after the issue was closed, or (open issue) after the run an
  earlier sync reported it fixed in; no evidence yet → **no-later-run**.

Items of rules in `EVERY_RUN_RULES` are derived by every run ("schedule the drill again"), so
absence can never be observed: any later judged run is the evidence they were done, and they never
regress. What the sync then does to the tracker (`plan`) depends on its earlier word there (the
newest sync mark, drills.export.tracked) so that a re-run repeats nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from drills.export.tracked import SyncMark, TrackedIssue
from drills.outcome import JUDGED, Outcome
from drills.postmortem.actions import ActionItem

# How long an open action item may stay open, by priority, counted from the issue's creation.
# Why these: a P0 is a failure nobody saw or an event lost — it must not survive the next weekly
# game day; a P1 (slow detection or recovery, a failed check) fits one monthly planning cycle; a P2
# (noise, a re-run to schedule) one quarter. One table, so the report and the sync cannot disagree.
DUE_AFTER: Mapping[str, timedelta] = {
    "P0": timedelta(days=7),
    "P1": timedelta(days=30),
    "P2": timedelta(days=90),
}
# Rules whose item every run derives: done by running again, never "regressed" by doing so.
EVERY_RUN_RULES = frozenset({"rerun"})


class Verdict(StrEnum):
    FIXED = "fixed"
    STILL_FAILING = "still-failing"
    REGRESSED = "regressed"
    NO_LATER_RUN = "no-later-run"


@dataclass(frozen=True)
class RunFacts:
    """What the sync needs of one run: when, how it ended, what it found, its headline figures."""

    run_id: str
    drill: str
    outcome: Outcome
    started_at: datetime
    run_dir: Path
    items: Mapping[str, ActionItem]  # fingerprint → the item the run derived
    ttd_s: float | None = None
    ttr_s: float | None = None
    lost: int | None = None
    duplicated: int | None = None

    @property
    def judged(self) -> bool:
        return self.outcome in JUDGED

    def finds(self, fingerprint: str) -> bool:
        return fingerprint in self.items

    def order(self) -> tuple[datetime, str]:
        return self.started_at, self.run_id


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    run: RunFacts | None  # the run the verdict rests on (None: no later run)
    since: datetime  # runs that started after this are "later"


def _since(issue: TrackedIssue, runs: Sequence[RunFacts]) -> datetime:
    named = [r for r in runs if r.run_id == issue.origin_run]
    if named:
        return named[0].started_at
    finding = [r.started_at for r in runs if r.finds(issue.fingerprint)]
    return min(finding) if finding else issue.created_at


def judge(
    issue: TrackedIssue, rule: str | None, runs: Sequence[RunFacts], mark: SyncMark | None
) -> Judgement:
    """The verdict on `issue`'s finding over `runs` (the runs of its drill, any order)."""
    since = _since(issue, runs)
    later = sorted((r for r in runs if r.started_at > since), key=RunFacts.order)
    if rule in EVERY_RUN_RULES:
        evidence = [r for r in later if r.judged]
    else:
        evidence = [r for r in later if r.finds(issue.fingerprint) or r.judged]
    if not evidence:
        return Judgement(Verdict.NO_LATER_RUN, None, since)
    latest = evidence[-1]
    if rule in EVERY_RUN_RULES or not latest.finds(issue.fingerprint):
        return Judgement(Verdict.FIXED, latest, since)
    return Judgement(_present(issue, latest, mark), latest, since)


def _present(issue: TrackedIssue, latest: RunFacts, mark: SyncMark | None) -> Verdict:
    """Found again by `latest`: a regression when that run is newer than the fix — the issue's
    closing, or (still open) the run an earlier sync reported it fixed in."""
    if issue.state == "closed":
        fixed_at = issue.closed_at
    else:
        fixed_at = mark.at if mark is not None and mark.verdict == Verdict.FIXED else None
    if fixed_at is not None and latest.started_at > fixed_at:
        return Verdict.REGRESSED
    return Verdict.STILL_FAILING


@dataclass(frozen=True)
class Plan:
    """What the sync does to the issue: post a comment, change its state, or say why not."""

    comment: bool = False
    state: str | None = None  # "closed" or "open"; None: leave it
    state_reason: str | None = None
    note: str = ""

    @property
    def writes(self) -> bool:
        return self.comment or self.state is not None


def plan(
    issue: TrackedIssue, judgement: Judgement, mark: SyncMark | None, close_fixed: bool
) -> Plan:
    """The writes `judgement` calls for, given the sync's newest mark on the issue."""
    run = judgement.run
    if run is None:
        return Plan()
    if judgement.verdict == Verdict.FIXED:
        return _plan_fixed(issue, mark, close_fixed)
    if judgement.verdict == Verdict.REGRESSED:
        return _plan_regressed(issue, run, mark)
    return Plan()


def _plan_fixed(issue: TrackedIssue, mark: SyncMark | None, close_fixed: bool) -> Plan:
    comment = mark is None or mark.verdict != Verdict.FIXED
    if not close_fixed or issue.state == "closed":
        return Plan(comment=comment)
    if not comment and issue.state_reason == "reopened":
        # Someone reopened it after the sync reported it fixed: their word is the newer one.
        return Plan(note="reopened after it was reported fixed: left open")
    return Plan(comment=comment, state="closed", state_reason="completed")


def _plan_regressed(issue: TrackedIssue, run: RunFacts, mark: SyncMark | None) -> Plan:
    said = mark is not None and (mark.verdict, mark.run_id) == (Verdict.REGRESSED, run.run_id)
    if issue.state == "open":
        return Plan(comment=not said)
    if issue.state_reason == "not_planned":
        return Plan(note="closed as not planned: left closed")
    return Plan(comment=not said, state="open", state_reason="reopened")


def due_date(issue: TrackedIssue, priority: str | None) -> datetime | None:
    """When the item is due (its creation plus `DUE_AFTER[priority]`); None: priority unknown."""
    after = DUE_AFTER.get(priority or "")
    return None if after is None else issue.created_at + after


def overdue(state: str, due: datetime | None, now: datetime) -> bool:
    return state == "open" and due is not None and now > due


def day(at: datetime | None) -> date | None:
    return None if at is None else at.date()
