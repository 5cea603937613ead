"""The game-day scheduler on a fake clock (no real waiting): cron slots, missed-run policies, the
one-instance lock, stopping, and the rendered Kubernetes CronJob."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from drills.errors import InvalidInput, SchedulerBusy
from drills.gameday import GAMEDAYS, load_plan, plan_path
from drills.gameday_schedule import (
    Scheduler,
    cronjob,
    cronjob_yaml,
    next_slot,
    single_instance,
    slots_between,
)
from tests.unit.test_gameday import FakeClock

WEEKLY = load_plan(GAMEDAYS / "weekly.yaml")  # Wednesdays 10:00 UTC, missed_runs: run-once
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def scheduler(tmp_path, plan=WEEKLY, now=MONDAY):
    clock = FakeClock(now)
    fired: list[float] = []
    events: list[tuple[str, dict[str, object]]] = []

    def run_once() -> int:
        fired.append(clock.now())
        return 0

    sched = Scheduler(
        plan,
        tmp_path,
        run_once,
        clock,
        threading.Event(),
        lambda kind, data: events.append((kind, dict(data))),
    )
    return sched, clock, fired, events


def test_cron_slots():
    """next_slot and slots_between follow cron semantics (strictly after, inclusive end)."""
    assert next_slot("0 10 * * 3", MONDAY) == ts(2026, 3, 4, 10, 0)
    assert next_slot("0 10 * * 3", ts(2026, 3, 4, 10, 0)) == ts(2026, 3, 11, 10, 0)
    assert slots_between("0 10 * * 3", MONDAY, ts(2026, 3, 18, 10, 0)) == [
        ts(2026, 3, 4, 10, 0),
        ts(2026, 3, 11, 10, 0),
        ts(2026, 3, 18, 10, 0),
    ]


def test_runs_at_each_slot_without_real_waiting(tmp_path):
    """Two scheduled runs happen exactly at Wednesday 10:00 UTC, a week apart."""
    sched, _clock, fired, _ = scheduler(tmp_path)
    assert sched.serve(max_runs=2) == 2
    assert fired == [ts(2026, 3, 4, 10, 0), ts(2026, 3, 11, 10, 0)]
    state = json.loads((tmp_path / "weekly.schedule.json").read_text())
    assert state == {"last_slot": ts(2026, 3, 11, 10, 0), "last_exit_code": 0, "plan": "weekly"}


def test_missed_slots_run_once_on_restart(tmp_path):
    """run-once: three slots missed while down → one run now, then back on schedule."""
    (tmp_path / "weekly.schedule.json").write_text(json.dumps({"last_slot": ts(2026, 2, 11, 10)}))
    sched, _clock, fired, events = scheduler(tmp_path)
    sched.serve(max_runs=2)
    assert fired == [MONDAY, ts(2026, 3, 4, 10, 0)]
    missed = next(data for kind, data in events if kind == "gameday-missed")
    assert missed["count"] == 2 and missed["policy"] == "run-once"


def test_missed_slots_are_skipped_with_policy_skip(tmp_path):
    """skip: missed slots are reported and not run; the next run is the next future slot."""
    plan = load_plan(GAMEDAYS / "ci-smoke.yaml")  # daily 06:00, missed_runs: skip
    (tmp_path / "ci-smoke.schedule.json").write_text(json.dumps({"last_slot": ts(2026, 2, 26, 6)}))
    sched, _clock, fired, events = scheduler(tmp_path, plan)
    sched.serve(max_runs=1)
    assert fired == [ts(2026, 3, 3, 6, 0)]
    missed = next(data for kind, data in events if kind == "gameday-missed")
    assert missed["count"] == 4 and missed["policy"] == "skip"


def test_a_game_day_that_overruns_a_slot_counts_it_as_missed(tmp_path):
    """A run lasting past the next slot: that slot is missed (here run once, right after)."""
    plan = load_plan(GAMEDAYS / "weekly.yaml")
    sched, clock, fired, events = scheduler(tmp_path, plan)

    def long_run() -> int:
        fired.append(clock.now())
        clock.t += 8 * 24 * 3600  # eight days
        return 1

    sched.run_once = long_run
    sched.serve(max_runs=2)
    assert fired == [ts(2026, 3, 4, 10, 0), ts(2026, 3, 12, 10, 0)]
    assert [d["count"] for k, d in events if k == "gameday-missed"] == [1]


def test_stop_while_waiting_ends_at_once(tmp_path):
    """A stop request (SIGTERM) during the wait ends serve() without running anything."""
    sched, _clock, fired, events = scheduler(tmp_path)
    sched.stop.set()
    assert sched.serve() == 0
    assert fired == [] and events[-1] == ("gameday-scheduler-stopped", {"runs": 0})


def test_request_stop_reports_whether_a_game_day_is_running(tmp_path):
    """request_stop() tells the SIGTERM handler whether to interrupt a running drill."""
    sched, _clock, _fired, _ = scheduler(tmp_path)
    seen: list[bool] = []

    def run() -> int:
        seen.append(sched.request_stop())
        return 0

    sched.run_once = run
    sched.serve()
    assert seen == [True] and sched.request_stop() is False


def test_only_one_scheduler_per_plan(tmp_path):
    """While one scheduler holds the lock, a second refuses to start (exit 3)."""
    sched, *_ = scheduler(tmp_path)
    with single_instance(sched.lock_path), pytest.raises(SchedulerBusy) as error:
        sched.serve(max_runs=1)
    assert "another scheduler holds" in str(error.value) and error.value.exit_code == 3
    sched.serve(max_runs=1)  # released: it runs now


def test_cronjob_renders_a_valid_cronjob_for_the_plan():
    """The CronJob runs `gameday run PLAN` in auditflow-platform as genesis-drill, on the plan's
    schedule, one at a time, and parses back as one YAML document."""
    doc = yaml.safe_load(cronjob_yaml(WEEKLY))
    assert doc == cronjob(WEEKLY)
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    assert doc["metadata"]["namespace"] == "auditflow-platform"
    spec = doc["spec"]
    assert spec["schedule"] == "0 10 * * 3" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "genesis-drill" and pod["restartPolicy"] == "Never"
    # The image has the installed package and no checkout: the packaged plan is named.
    assert pod["containers"][0]["args"][:3] == ["gameday", "run", "weekly"]
    assert "&id" not in cronjob_yaml(WEEKLY)  # no YAML anchors: plain for kubectl and reviewers


def test_cronjob_names_a_packaged_plan_however_it_was_given(tmp_path, monkeypatch):
    """By name or by its packaged file (from any cwd), the pod is told the plan's name."""
    monkeypatch.chdir(tmp_path)
    for given in (Path("weekly"), GAMEDAYS / "weekly.yaml"):
        plan = load_plan(plan_path(given))
        assert plan.path.resolve() == (GAMEDAYS / "weekly.yaml").resolve()
        assert (
            cronjob(plan)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
                "args"
            ][2]
            == "weekly"
        )


def test_cronjob_refuses_a_plan_the_image_does_not_carry(tmp_path):
    """A plan file of the user's (even a copy of a packaged one) would not exist in the pod: the
    CronJob is refused with the file named and the packaged plans listed, exit 2."""
    copy = tmp_path / "weekly.yaml"
    copy.write_text((GAMEDAYS / "weekly.yaml").read_text())
    with pytest.raises(InvalidInput) as error:
        cronjob(load_plan(copy))
    message = str(error.value)
    assert str(copy) in message and "not a packaged game-day plan" in message
    assert "ci-smoke, weekly" in message and error.value.exit_code == 2


def test_an_unknown_plan_name_lists_the_packaged_plans():
    """A bare name that is no packaged plan is one line naming it and the plans there are."""
    with pytest.raises(
        InvalidInput, match=r"unknown game-day plan 'nosuch' \(packaged plans: ci-smoke, weekly\)"
    ):
        plan_path(Path("nosuch"))
    assert plan_path(Path("nosuch.yaml")) == Path("nosuch.yaml")  # a file name stays a file


def test_gameday_cronjob_command_takes_a_packaged_plan_by_name(tmp_path, monkeypatch):
    """`genesis-drill gameday cronjob weekly` works from any directory and prints the CronJob
    that runs `gameday run weekly`; a plan file of the user's is refused with exit 2."""
    from click.testing import CliRunner

    from drills.cli.main import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["gameday", "cronjob", "weekly"])
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.output)
    assert doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][:3] == [
        "gameday",
        "run",
        "weekly",
    ]
    mine = tmp_path / "mine.yaml"
    mine.write_text((GAMEDAYS / "weekly.yaml").read_text())
    result = CliRunner().invoke(cli, ["gameday", "cronjob", str(mine)])
    assert result.exit_code == 2 and "not a packaged game-day plan" in result.output
