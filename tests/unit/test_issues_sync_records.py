"""`issues sync`: due dates and overdue items, the tracker state in tracker.json and the
post-mortem, and the transport — back-off, the token never printed, clear input errors.

Runs and helpers: tests/sync_support.py.
"""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.issues_sync import table
from drills.cli.main import cli
from drills.export import tracker
from drills.export.sync import sync
from drills.export.verdict import DUE_AFTER, Verdict
from drills.postmortem.render import draft
from drills.postmortem.review import review_file
from tests.fake_github import TOKEN
from tests.sync_support import (
    EXPORTED,
    RUN,
    at,
    by_rule,
    do_sync,
    drafted_run,
    export,
    exporter,
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


# --- due dates and overdue ---------------------------------------------------------------------


def test_overdue_items_are_listed_with_an_injected_clock(fake, runs):
    """P0 is due 7 days after the issue's creation, P2 after 90: on day 8 only the P0 is overdue,
    in the rows, the table, tracker.json and the post-mortem."""
    export(fake, runs)
    now = EXPORTED + timedelta(days=8)
    report = do_sync(fake, runs, now)
    rows = by_rule(report, fake)
    assert rows["missed-alert"].due == EXPORTED + DUE_AFTER["P0"]
    assert rows["missed-alert"].overdue and not rows["rerun"].overdue
    assert rows["rerun"].due == EXPORTED + timedelta(days=90)
    assert rows["missed-alert"].verdict == Verdict.NO_LATER_RUN
    assert report.overdue == (rows["missed-alert"],)
    text = table(report)
    overdue = text[text.index("overdue (1):") :]
    assert (
        f"#{rows['missed-alert'].number} P0 due 2026-12-04: [rabbitmq-outage] Add or fix" in overdue
    )
    state = tracker.load(runs / RUN)[rows["missed-alert"].fingerprint]
    assert state.overdue and str(state.due) == "2026-12-04"
    assert "open, overdue since 2026-12-04" in (runs / RUN / "postmortem.md").read_text()
    # A day before the due date, nothing is overdue.
    assert do_sync(fake, runs, EXPORTED + timedelta(days=6)).overdue == ()


def test_the_help_states_the_due_table_it_applies():
    """`issues sync --help` quotes DUE_AFTER; a changed table without the help fails here."""
    out = CliRunner().invoke(cli, ["issues", "sync", "--help"], terminal_width=200)
    days = {p: d.days for p, d in DUE_AFTER.items()}
    assert f"(P0 {days['P0']} days, P1 {days['P1']}, P2 {days['P2']} from" in out.output


# --- tracker.json and the post-mortem ----------------------------------------------------------


def test_tracker_state_is_recorded_and_shown_in_the_re_rendered_postmortem(fake, runs):
    """tracker.json holds each item's state; the post-mortem's tracking cells show it in place,
    a fresh render shows the same cells, and the draft still passes review."""
    export(fake, runs)
    fixed = later_run(runs, 1, detected=True)
    report = do_sync(fake, runs, at(1, 6), apply=True, close_fixed=True)
    missed = by_rule(report, fake)["missed-alert"]
    states = tracker.load(runs / RUN)
    state = states[missed.fingerprint]
    assert (state.number, state.state, state.state_reason) == (missed.number, "closed", "completed")
    assert (state.verdict, state.verdict_run) == ("fixed", fixed.name)
    assert state.synced_at == at(1, 6).replace(microsecond=0)
    url = missed.url
    cell = f"[\\#{missed.number}]({url}) closed (fixed in run {fixed.name})"
    in_place = (runs / RUN / "postmortem.md").read_text()
    assert cell in in_place
    assert in_place.count("not filed yet") == 0
    rendered = draft(runs / RUN).read_text()
    assert cell in rendered
    assert review_file(runs / RUN / "postmortem.md", allow_draft=True).findings == ()
    # The later run derived the rerun item too: it records that item's state.
    assert set(tracker.load(fixed)) == {by_rule(report, fake)["rerun"].fingerprint}


def test_tracker_loader_is_lenient():
    """A missing or broken tracker.json reads as never synced; bad entries are left out."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        assert tracker.load(run_dir) == {}
        (run_dir / "tracker.json").write_text("{not json")
        assert tracker.load(run_dir) == {}
        good = {
            "number": 3,
            "url": "https://github.example/acme/ops/issues/3",
            "state": "open",
            "state_reason": None,
            "verdict": "still-failing",
            "verdict_run": "r2",
            "due": "2026-12-10",
            "overdue": False,
            "synced_at": "2026-12-04T10:00:00+00:00",
        }
        (run_dir / "tracker.json").write_text(
            json.dumps({"gd-1": good, "gd-2": {**good, "state": "lost"}, "gd-3": [1]})
        )
        states = tracker.load(run_dir)
        assert list(states) == ["gd-1"]
        assert states["gd-1"].describe() == "open, due 2026-12-10"


# --- transport: back-off, token, input errors --------------------------------------------------


def test_sync_writes_back_off_on_rate_limits(fake, runs):
    """The sync's comments and closes go through the exporter's back-off (Retry-After)."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    waits: list[float] = []
    fake.rate_limit = [(429, "4"), (403, "2")]
    sync(runs, "acme/ops", exporter(fake, waits), now=at(1, 6), apply=True, close_fixed=True)
    assert waits == [4.0, 2.0]
    assert all(issue["state"] == "closed" for issue in fake.issues)


def test_cli_sync_end_to_end_never_prints_the_token(fake, runs):
    """The CLI reads GITHUB_TOKEN and GITHUB_API_URL, applies, and prints a table and JSON
    without the token; a wrong token is one error line with exit 3."""
    export(fake, runs)
    later_run(runs, 1, detected=True)
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    runner = CliRunner()
    out = runner.invoke(
        cli, ["issues", "sync", str(runs), "--repo", "acme/ops", "--apply"], env=env
    )
    assert out.exit_code == 0, out.output
    assert "fixed" in out.output and "comment" in out.output and TOKEN not in out.output
    as_json = runner.invoke(
        cli, ["issues", "sync", str(runs), "--repo", "acme/ops", "--output", "json"], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert payload["applied"] is False and TOKEN not in as_json.output
    assert {item["verdict"] for item in payload["items"]} == {"fixed"}
    wrong = runner.invoke(
        cli,
        ["issues", "sync", str(runs), "--repo", "acme/ops"],
        env={"GITHUB_TOKEN": "ghp_wrong_token_value", "GITHUB_API_URL": fake.url},
    )
    assert wrong.exit_code == 3
    assert "HTTP 401" in wrong.output and "ghp_wrong_token_value" not in wrong.output
    assert "Traceback" not in wrong.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--repo", "not a repo"], {"GITHUB_TOKEN": TOKEN}, "expected OWNER/NAME"),
        (["--repo", "acme/ops"], {"GITHUB_TOKEN": ""}, "issues sync needs a token in GITHUB_TOKEN"),
        ([], {"GITHUB_TOKEN": TOKEN}, "Missing option '--repo'"),
    ],
)
def test_cli_input_errors_are_one_line_with_exit_2(runs, args, env, message):
    """A bad --repo, no token or no --repo: exit 2 and a message naming it, no traceback."""
    out = CliRunner().invoke(cli, ["issues", "sync", str(runs), *args], env=env)
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output


def test_cli_missing_or_empty_runs_dir_is_invalid_input(fake, tmp_path):
    """A RUNS_DIR that does not exist, or holds no run, is exit 2 naming the path."""
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    runner = CliRunner()
    missing = runner.invoke(
        cli, ["issues", "sync", str(tmp_path / "nope"), "--repo", "acme/ops"], env=env
    )
    assert missing.exit_code == 2
    assert "nope: no such run or runs directory" in missing.output
    empty = runner.invoke(cli, ["issues", "sync", str(tmp_path), "--repo", "acme/ops"], env=env)
    assert empty.exit_code == 2 and "holds no run directory" in empty.output
    assert "Traceback" not in missing.output + empty.output


def test_cli_sync_refreshes_the_runs_report_pages(fake, runs):
    """A run's report.html, written before the sync, shows the tracker state afterwards."""
    from drills.report.page import REPORT_NAME, write_run_report

    export(fake, runs)
    later = later_run(runs, 1, detected=True)
    page = write_run_report(runs / RUN)
    assert 'class="state' not in page.read_text()
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    out = CliRunner().invoke(cli, ["issues", "sync", str(runs), "--repo", "acme/ops"], env=env)
    assert out.exit_code == 0, out.output
    html = (runs / RUN / REPORT_NAME).read_text()
    states = tracker.load(runs / RUN)
    assert states, "the sync recorded no tracker state"
    for fingerprint, state in states.items():
        row = html.split(f'<tr data-fingerprint="{fingerprint}">', 1)[1].split("</tr>", 1)[0]
        assert f">#{state.number}</a>" in row and state.describe() in row
    assert not (later / REPORT_NAME).exists()  # only pages that existed are rewritten
