"""Runs and a tracker for the `issues sync` tests: the golden rabbitmq-outage run (RabbitMQDown
never fired: a P0 "fix the alert rule" item, plus the P2 "schedule the drill again") and later runs
of the same drill made from it by editing result.json — one that meets the detection objective, one
that misses it again — exported to and synced with the fake GitHub (tests/fake_github.py)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drills.export import github
from drills.export.sync import SyncReport, facts, sync
from drills.postmortem.context import build
from drills.postmortem.render import draft
from tests.fake_github import TOKEN, FakeGitHub

GOLDEN = Path(__file__).resolve().parent / "golden" / "runs"
RUN = "20261127T062644Z-rabbitmq-outage"
STARTED = datetime(2026, 11, 27, 6, 26, 44, 807000, tzinfo=UTC)
EXPORTED = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def at(days: float, hours: float = 0.0) -> datetime:
    return STARTED + timedelta(days=days, hours=hours)


def _shift(value: Any, delta: timedelta) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and _ISO.match(value):
        shifted = datetime.fromisoformat(value) + delta
        return shifted.isoformat(timespec="milliseconds")
    return value


def later_run(runs_dir: Path, days: float, detected: bool) -> Path:
    """A run of the same drill `days` after the golden one; `detected`: RabbitMQDown fired after
    5 s (the objective is met, the run passed), otherwise the same miss again."""
    raw = json.loads((GOLDEN / RUN / "result.json").read_text())
    raw = _shift(raw, at(days) - STARTED)
    run_id = f"{at(days):%Y%m%dT%H%M%SZ}-rabbitmq-outage"
    raw["run_id"] = run_id
    if detected:
        injected = datetime.fromisoformat(raw["injected_at"])
        firing = (injected + timedelta(seconds=5)).isoformat(timespec="milliseconds")
        raw.update(outcome="passed", reason="all objectives met", ttd_seconds=5.0, ttd_reason="")
        raw["detected_at"] = firing
        alerts = raw["alerts"]
        alerts.update(fired=["RabbitMQDown"], missed=[])
        alerts["first_pending_at"]["RabbitMQDown"] = firing
        alerts["first_firing_at"]["RabbitMQDown"] = firing
        for objective in raw["objectives"]:
            if objective["name"] == "time to detect":
                objective.update(measured="5.0s", passed=True)
            if objective["name"] == "expected alerts fired":
                objective.update(measured="RabbitMQDown", passed=True)
    target = runs_dir / run_id
    target.mkdir()
    for name in ("drill.yaml", "journal.jsonl"):
        shutil.copy(GOLDEN / RUN / name, target / name)
    (target / "result.json").write_text(json.dumps(raw, indent=2))
    return target


def exporter(fake: FakeGitHub, waits: list[float] | None = None) -> github.GitHubExporter:
    sleep = waits.append if waits is not None else (lambda s: None)
    return github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=sleep)


def export(fake: FakeGitHub, runs_dir: Path) -> None:
    run = facts(runs_dir / RUN)
    ctx = build(run.run_dir)
    filed = exporter(fake).export(
        "acme/ops", run.run_id, [github.payload(ctx, item) for item in run.items.values()]
    )
    github.write_back(run.run_dir, filed)


def by_rule(report: SyncReport, fake: FakeGitHub) -> dict[str, Any]:
    """The report's rows keyed "missed-alert" / "rerun" (the rule named in the issue body)."""
    rows = {}
    for row in report.rows:
        body = fake.issue(row.number)["body"]
        rows["missed-alert" if "rule `missed-alert`" in body else "rerun"] = row
    return rows


def do_sync(fake: FakeGitHub, path: Path, now: datetime, **flags: bool) -> SyncReport:
    return sync(path, "acme/ops", exporter(fake), now=now, **flags)


def drafted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden run with its post-mortem drafted (the chart is slow: once per module)."""
    target = tmp_path_factory.mktemp("drafted") / RUN
    shutil.copytree(GOLDEN / RUN, target)
    draft(target)
    return target


def runs_dir_with(drafted: Path, tmp_path: Path) -> Path:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    shutil.copytree(drafted, runs_dir / RUN)
    return runs_dir


def started_fake() -> FakeGitHub:
    server = FakeGitHub()
    server.now = lambda: EXPORTED
    return server
