"""`issues sync` against the local fake GitHub: what it judges and what it writes — fixed →
comment (and close with --close-fixed), still failing → left alone, regressed after closing →
reopened with evidence, people's closings and reopenings respected, idempotent re-runs, dry run.

Runs and helpers: tests/sync_support.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

from drills.cli.issues_sync import table
from drills.export import tracker
from drills.export.tracked import SYNC_MARK
from drills.export.verdict import Verdict
from tests.sync_support import (
    RUN,
    at,
    by_rule,
    do_sync,
    drafted_run,
    export,
    later_run,
    runs_dir_with,
    started_fake,
)


@pytest.fixture(scope="module")
def drafted(tmp_path_factory):
    return drafted_run(tmp_path_factory)


@pytest.fixture
def fake():
    server = started_fake()
    yield server
    server.close()


@pytest.fixture
def runs(drafted, tmp_path):
    """A runs directory holding the golden run, its post-mortem drafted."""
    return runs_dir_with(drafted, tmp_path)


# --- verdicts and writes -----------------------------------------------------------------------


def test_fixed_in_a_later_run_comments_with_that_runs_evidence(fake, runs):
    """A later passed run that no longer finds the missed alert: a comment naming the run, its
    TTD and the done condition, with a sync mark; without --close-fixed the issue stays open."""
    export(fake, runs)
    fixed = later_run(runs, 1, detected=True)
    report = do_sync(fake, runs, at(1, 6), apply=True)
    rows = by_rule(report, fake)
    missed = rows["missed-alert"]
    assert (missed.verdict, missed.run_id, missed.actions) == (
        Verdict.FIXED,
        fixed.name,
        ("comment",),
    )
    assert fake.issue(missed.number)["state"] == "open" and missed.state == "open"
    [comment] = fake.comments_on(missed.number)
    assert f"**Fixed in run `{fixed.name}` of drill `rabbitmq-outage` (outcome: passed" in comment
    assert "TTD 5.0 s · TTR 11.1 s · 0 events lost · 0 duplicated" in comment
    assert "**Done when:** a re-run of drill rabbitmq-outage reports RabbitMQDown firing" in comment
    assert f"<!-- {SYNC_MARK}: fixed run={fixed.name} at=" in comment
    # The "schedule the drill again" item is done by the later judged run.
    rerun = rows["rerun"]
    assert rerun.verdict == Verdict.FIXED and rerun.run_id == fixed.name
    assert fake.comments_on(rerun.number)[0].startswith(f"**Done in run `{fixed.name}`")
    assert fake.problems == []


def test_close_fixed_closes_as_completed(fake, runs):
    """--close-fixed closes a fixed item with state_reason completed, after its comment."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    report = do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    missed = by_rule(report, fake)["missed-alert"]
    assert missed.actions == ("comment", "close")
    issue = fake.issue(missed.number)
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert (missed.state, missed.state_reason, missed.overdue) == ("closed", "completed", False)
    assert "Closing as completed" in fake.comments_on(missed.number)[0]
    patches = [w for w in fake.writes if w[0] == "PATCH"]
    assert patches == [
        ("PATCH", f"/api/v3/repos/acme/ops/issues/{n}")
        for n in sorted(r.number for r in report.rows)
    ]


def test_still_failing_is_neither_commented_nor_closed(fake, runs):
    """A later run that misses the alert again: still-failing, nothing written for that item."""
    export(fake, runs)
    again = later_run(runs, 1, detected=False)
    report = do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    missed = by_rule(report, fake)["missed-alert"]
    assert (missed.verdict, missed.run_id, missed.actions) == (
        Verdict.STILL_FAILING,
        again.name,
        (),
    )
    assert fake.issue(missed.number)["state"] == "open"
    assert fake.comments_on(missed.number) == []


def test_only_a_complete_judged_run_can_show_a_fix(fake, runs):
    """A later aborted run that happens not to find the item proves nothing: no-later-run."""
    export(fake, runs)
    aborted = later_run(runs, 1, detected=True)
    raw = json.loads((aborted / "result.json").read_text())
    raw.update(outcome="aborted", reason="abort: max duration 60 s reached")
    (aborted / "result.json").write_text(json.dumps(raw))
    report = do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    rows = by_rule(report, fake)
    assert rows["missed-alert"].verdict == Verdict.NO_LATER_RUN
    assert rows["rerun"].verdict == Verdict.NO_LATER_RUN
    assert fake.writes == [w for w in fake.writes if w[1].endswith("/issues")]  # exports only


def test_regressed_after_close_is_reopened_with_the_new_evidence(fake, runs):
    """Closed as fixed, then a newer run misses the alert again: reopened, with a comment giving
    that run and its evidence."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    fake.now = lambda: at(1, 6)
    do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    regressed = later_run(runs, 2, detected=False)
    report = do_sync(fake, runs, at(2, 6), apply=True, close_fixed=True)
    missed = by_rule(report, fake)["missed-alert"]
    assert (missed.verdict, missed.run_id, missed.actions) == (
        Verdict.REGRESSED,
        regressed.name,
        ("comment", "reopen"),
    )
    issue = fake.issue(missed.number)
    assert (issue["state"], issue["state_reason"], issue["closed_at"]) == ("open", "reopened", None)
    comment = fake.comments_on(missed.number)[-1]
    assert f"**Regressed in run `{regressed.name}`" in comment
    assert "after this issue was closed (2026-11-28)" in comment
    assert "**Evidence:** RabbitMQDown was expected but never fired" in comment
    assert "TTD n/a" in comment and "Reopening with this evidence" in comment
    # The next sync has nothing to add: reopened and still failing.
    again = by_rule(do_sync(fake, runs, at(2, 7), apply=True, close_fixed=True), fake)
    assert again["missed-alert"].verdict == Verdict.STILL_FAILING
    assert again["missed-alert"].actions == ()


def test_a_closing_by_hand_after_the_failing_run_is_respected(fake, runs):
    """Closed by a person after the last failing run (they fixed it): not a regression."""
    export(fake, runs)
    later_run(runs, 1, detected=False)
    fake.now = lambda: at(1, 6)
    missed = by_rule(do_sync(fake, runs, at(1, 6)), fake)["missed-alert"]
    fake.set_state(missed.number, "closed")
    report = do_sync(fake, runs, at(1, 7), apply=True)
    row = by_rule(report, fake)["missed-alert"]
    assert (row.verdict, row.state, row.actions) == (Verdict.STILL_FAILING, "closed", ())


def test_not_planned_is_never_reopened(fake, runs):
    """An item closed as not planned stays closed when its finding comes back."""
    export(fake, runs)
    missed = by_rule(do_sync(fake, runs, at(0, 1)), fake)["missed-alert"]
    fake.now = lambda: at(0, 2)
    fake.set_state(missed.number, "closed", "not_planned")
    later_run(runs, 1, detected=False)
    row = by_rule(do_sync(fake, runs, at(1, 6), apply=True), fake)["missed-alert"]
    assert (row.verdict, row.actions) == (Verdict.REGRESSED, ())
    assert "not planned" in row.note and fake.issue(missed.number)["state"] == "closed"


def test_rerunning_sync_posts_nothing_new(fake, runs):
    """A second sync of the same runs finds its own marks and writes nothing; nor does a third
    after the fix is confirmed by yet another run."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    writes = list(fake.writes)
    report = do_sync(fake, runs, at(1, 7), apply=True, close_fixed=True)
    assert fake.writes == writes
    assert all(row.actions == () for row in report.rows)
    assert {row.verdict for row in report.rows} == {Verdict.FIXED}
    later_run(runs, 2, detected=True)
    do_sync(fake, runs, at(2, 7), apply=True, close_fixed=True)
    assert fake.writes == writes


def test_a_fix_reported_on_an_open_issue_is_closed_later_without_a_second_comment(fake, runs):
    """Sync without --close-fixed comments; a later --close-fixed closes it, commenting nothing."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    do_sync(fake, runs, at(1, 6), apply=True)
    comments = len(fake.comments)
    report = do_sync(fake, runs, at(1, 7), apply=True, close_fixed=True)
    assert len(fake.comments) == comments
    assert all(row.actions == ("close",) for row in report.rows)
    assert all(fake.issue(row.number)["state"] == "closed" for row in report.rows)


def test_a_fix_reported_on_an_open_issue_that_fails_again_is_a_regression(fake, runs):
    """Reported fixed (left open), then a newer run finds it again: a regressed comment, no state
    change needed; a further sync of the same runs says nothing more."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    do_sync(fake, runs, at(1, 6), apply=True)
    regressed = later_run(runs, 2, detected=False)
    row = by_rule(do_sync(fake, runs, at(2, 6), apply=True), fake)["missed-alert"]
    assert (row.verdict, row.run_id, row.actions, row.state) == (
        Verdict.REGRESSED,
        regressed.name,
        ("comment",),
        "open",
    )
    assert "again after it was reported fixed" in fake.comments_on(row.number)[-1]
    writes = list(fake.writes)
    do_sync(fake, runs, at(2, 7), apply=True, close_fixed=True)
    assert [w for w in fake.writes[len(writes) :] if f"/issues/{row.number}" in w[1]] == []


def test_an_issue_reopened_by_hand_after_the_fix_is_not_closed_again(fake, runs):
    """Someone reopened the issue after the sync closed it: --close-fixed leaves it open."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    missed = by_rule(do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True), fake)
    number = missed["missed-alert"].number
    fake.set_state(number, "open")
    row = by_rule(do_sync(fake, runs, at(1, 7), apply=True, close_fixed=True), fake)
    assert row["missed-alert"].actions == () and "left open" in row["missed-alert"].note
    assert fake.issue(number)["state"] == "open"


def test_dry_run_sends_no_writes_but_says_what_it_would(fake, runs):
    """Without --apply: only GETs reach GitHub; the table says what would be sent."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    exported = list(fake.writes)
    report = do_sync(fake, runs, at(1, 6), close_fixed=True)
    assert fake.writes == exported
    assert report.applied is False
    assert all(row.actions == ("comment", "close") for row in report.rows)
    assert all(row.state == "open" for row in report.rows)
    text = table(report)
    assert "would comment, would close" in text
    assert "dry run: 4 write(s) not sent; run again with --apply" in text


def test_pruned_finding_run_is_judged_by_the_drill_label(fake, runs):
    """The run an issue was filed from is gone from the runs directory: the issue's drill label
    and creation time still let a later run show the fix."""
    export(fake, runs)
    shutil.rmtree(runs / RUN)
    fixed = later_run(runs, 1, detected=True)
    rows = by_rule(do_sync(fake, runs, at(1, 6)), fake)
    assert rows["missed-alert"].verdict == Verdict.FIXED
    assert rows["missed-alert"].run_id == fixed.name


def test_a_single_run_dir_is_judged_by_the_runs_beside_it(fake, runs):
    """RUN_DIR syncs that run's items against later runs of its drill in the same parent, and
    records the states in that run directory only."""
    export(fake, runs)
    fixed = later_run(runs, 1, detected=True)
    report = do_sync(fake, runs / RUN, at(1, 6))
    assert {row.verdict for row in report.rows} == {Verdict.FIXED}
    assert set(tracker.load(runs / RUN)) == {row.fingerprint for row in report.rows}
    assert not (fixed / "tracker.json").exists()


def test_a_broken_run_is_skipped_and_named_not_fatal(fake, runs):
    """A run directory whose result.json is not a result is listed as skipped (file and field);
    the other runs are still judged."""
    export(fake, runs)
    broken = later_run(runs, 1, detected=True)
    raw = json.loads((broken / "result.json").read_text())
    raw["ttr"] = raw.pop("ttr_seconds")
    (broken / "result.json").write_text(json.dumps(raw))
    report = do_sync(fake, runs, at(1, 6))
    assert "ttr: unknown field" in report.skipped[broken]
    assert {row.verdict for row in report.rows} == {Verdict.NO_LATER_RUN}
