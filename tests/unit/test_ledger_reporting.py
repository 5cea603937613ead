"""Where the Jepsen ledger and the user-facing delay surface: judging (an unexpected event fails
the drill, and the reason says so), the post-mortem's impact table and the CLI summary."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from drills.cli.reporter import print_summary
from drills.delay import SOURCE, Delay, from_row
from drills.judging import judge
from drills.ledger import Ledger
from drills.outcome import Outcome
from drills.postmortem.render import draft
from drills.results import DrillResult
from drills.run_state import RunState
from drills.spec import load
from tests import REPO_ROOT

GOLDEN_RUN = (
    Path(__file__).resolve().parents[1] / "golden" / "runs" / "20261127T062644Z-rabbitmq-outage"
)
LEDGER = Ledger(
    "run",
    101,
    200,
    confirmed=97,
    stored=99,
    dead_lettered=0,
    lost=0,
    duplicated=0,
    published=100,
    info=3,
    had_info=40,
    recovered=2,
    unexpected=0,
    outcomes_source="generator: per-seq publish outcomes (/admin/outcomes)",
)
DELAY = Delay(100, 0.004, 21.5, 23.25, 101, 22.75, 0.003, 0.012, 0.9, SOURCE)


def _judged(ledger: Ledger) -> DrillResult:
    spec = load(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml")
    result = DrillResult.read(GOLDEN_RUN)
    state = RunState(started=0.0, result=replace(result, ledger=ledger))
    judge(spec, state)
    return state.result


def test_an_unexpected_event_fails_the_drill_and_the_reason_names_it():
    """Stored but never published is a broken invariant, not a tolerance: the drill fails
    whatever max_lost says, and the reason names the objective."""
    clean = _judged(LEDGER)
    assert not any(o.name.startswith("unexpected") and not o.passed for o in clean.objectives)
    failed = _judged(replace(LEDGER, unexpected=2, unexpected_sample=(0, 205)))
    assert failed.outcome is Outcome.FAILED
    assert "unexpected events (stored, never published)" in failed.reason
    objective = next(o for o in failed.objectives if o.name.startswith("unexpected"))
    assert (objective.measured, objective.passed) == ("2", False)


def test_delay_figures_are_read_from_the_query_row():
    assert from_row((0, None, None, None, None, None, None, None, None)).reason
    delay = from_row((3, 0.0041, 20.00049, 23.2501, 7, 22.7, 0.003, 0.01, 0.9))
    assert (delay.events, delay.p50_s, delay.p99_s, delay.max_s) == (3, 0.004, 20.0, 23.25)
    assert (delay.oldest_seq, delay.oldest_s, delay.published_p99_s) == (7, 22.7, 0.01)


def test_the_post_mortem_impact_shows_the_ledger_categories_and_the_delay(tmp_path):
    run_dir = tmp_path / GOLDEN_RUN.name
    shutil.copytree(GOLDEN_RUN, run_dir)
    result = replace(DrillResult.read(run_dir), ledger=LEDGER, delay=DELAY)
    (run_dir / "result.json").write_text(json.dumps(result.to_json()))
    text = draft(run_dir, link_template=None).read_text()
    assert (
        "| events published (seqs 101-200) | 100: 97 confirmed (ok), 0 refused (fail), "
        "3 outcome unknown (info); 0 never published |" in text
    )
    assert "| events re-published after an unconfirmed / refused attempt | 40 / 0 |" in text
    assert "| events recovered (unconfirmed, yet stored) | 2 |" in text
    assert "| events unexpected (stored, never published) | 0 |" in text
    assert "occurred → stored (p50 / p99 / max, 100 events) | 0.004 / 21.500 / 23.250 s |" in text
    assert "| delay of the oldest canary event (seq 101), occurred → stored | 22.750 s |" in text
    assert (
        "publish → stored (p50 / p99 / max; excludes time buffered) | 0.003 / 0.012 / 0.900 s"
        in text
    )


def test_the_cli_summary_shows_the_ledger_categories_and_the_delay():
    result = replace(DrillResult.read(GOLDEN_RUN), ledger=LEDGER, delay=DELAY)
    out = io.StringIO()
    print_summary(result, Console(file=out, width=200))
    text = out.getvalue()
    assert (
        "100 published: 0 fail, 3 info (40 re-published after an unconfirmed attempt), "
        "2 recovered, 0 unexpected" in text
    )
    assert (
        "p50 0.004s, p99 21.5s, max 23.25s, oldest event 22.75s (publish → stored p99 0.012s)"
        in text
    )
    unmeasured = replace(result, delay=replace(DELAY, events=0, reason="no stored events"))
    out = io.StringIO()
    print_summary(unmeasured, Console(file=out, width=200))
    assert "n/a (no stored events)" in out.getvalue()


def test_a_page_that_never_arrived_fails_a_drill_with_a_ttn_objective():
    """`objectives.max_ttn_s` is enforced: a TTN of null (the page was lost) or above the limit
    fails the drill; within it, the objective passes."""
    spec = load(REPO_ROOT / "drills" / "catalog" / "notification-outage.yaml")
    assert spec.objectives.max_ttn_s == 40
    golden = DrillResult.read(GOLDEN_RUN)
    for ttn, passed in ((None, False), (41.0, False), (17.5, True)):
        state = RunState(started=0.0, result=replace(golden, ttn_seconds=ttn))
        judge(spec, state)
        [objective] = [o for o in state.result.objectives if o.name == "time to notify"]
        assert objective.passed is passed, (ttn, objective)
        if not passed:
            assert state.result.outcome is Outcome.FAILED
