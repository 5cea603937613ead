"""The local revision store and `LocalDeployer` over real files (supervisord replaced by a
recorder of what would be applied): crashes at every step of a deploy leave a state an undo to
the journaled good revision repairs, `recover` after a harness crash restores the good revision,
and a corrupt revision file is a clear error naming the file and the field."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drills.crash_recovery import recover, unfinished_runs
from drills.errors import RevisionError, RollbackFailed, TargetError
from drills.fault_params import FAULT_PARAMS
from drills.faults.bad_deploy import BREAKAGES, J_DEPLOY_INTENT, BadDeploy, report
from drills.faults.base import FaultContext, Injection
from drills.journal import Journal, read
from drills.sandbox.revisions import RevisionStore, StoredRevision
from drills.spec import load
from drills.targets.base import TargetIdentity
from drills.targets.deployer import deployer_of
from drills.targets.fake import FakeTarget
from drills.targets.local_deploy import LocalDeployer
from tests import REPO_ROOT

COMPONENT = "audit-log-analysis"
BAD = {"AUDITFLOW_LOG_LEVEL": "TRACE"}
LOCAL = TargetIdentity("local", "/srv/genesis ports 28750", "--state-dir /srv/genesis")


class Crash(Exception):
    """Stands for the harness being killed at this point."""


@dataclass
class Applied:
    """What would have been rendered into supervisord.conf and reloaded, in order."""

    revisions: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    crash: bool = False

    def __call__(self, component: str, revision: StoredRevision) -> None:
        if self.crash:
            raise Crash("killed before supervisord reloaded")
        self.revisions.append((component, revision.number, dict(revision.env)))


def deployer(root: Path, applied: Applied) -> LocalDeployer:
    return LocalDeployer(lambda component: RevisionStore(root / component), applied)


def test_first_use_makes_the_sandbox_definition_revision_one(tmp_path):
    """Without history the live revision is 1, the program table's own (no added settings), and
    reading it writes nothing; the first deploy writes revision 1 and 2, owner-only."""
    store = RevisionStore(tmp_path / COMPONENT)
    live = store.live()
    assert (live.number, live.env) == (1, {})
    assert not (tmp_path / COMPONENT).exists()
    store.write_next(BAD, "drill")
    assert json.loads((tmp_path / COMPONENT / "live.json").read_text()) == {"revision": 1}
    for name in ("0001.json", "0002.json", "live.json"):
        assert (tmp_path / COMPONENT / name).stat().st_mode & 0o077 == 0


def test_deploy_then_undo_applies_each_revision_and_keeps_the_history(tmp_path):
    """A deploy applies revision 2 with the bad settings; undo applies revision 1 again; the bad
    revision stays on disk as history; a second undo changes no file and applies the same."""
    applied = Applied()
    d = deployer(tmp_path, applied)
    bad = d.deploy(COMPONENT, BAD, "drill")
    assert (bad.number, dict(bad.env)) == (2, BAD)
    assert d.is_live(COMPONENT, 2) and not d.is_live(COMPONENT, 1)
    assert d.undo(COMPONENT, 1).number == 1
    assert d.undo(COMPONENT, 1).number == 1
    assert applied.revisions == [(COMPONENT, 2, BAD), (COMPONENT, 1, {}), (COMPONENT, 1, {})]
    assert d.is_live(COMPONENT, 1) and d.live(COMPONENT).number == 1
    assert RevisionStore(tmp_path / COMPONENT).read(2).env == BAD
    assert d.deploy(COMPONENT, BAD, "again").number == 3  # numbers never reused


def test_crash_between_writing_and_switching_leaves_the_good_revision_live(tmp_path):
    """Killed after revision 2 was written but before it was made live: revision 1 is still
    live, and the undo a recover runs applies it (nothing half-switched)."""
    store = RevisionStore(tmp_path / COMPONENT)
    store.write_next(BAD, "drill")  # ...and the harness dies here
    assert store.live().number == 1
    applied = Applied()
    assert deployer(tmp_path, applied).undo(COMPONENT, 1).number == 1
    assert applied.revisions == [(COMPONENT, 1, {})]


def test_crash_between_switching_and_restart_is_undone(tmp_path):
    """Killed after the pointer switched to revision 2 but before supervisord was reloaded:
    live.json says 2 while the old process still runs revision 1; the undo puts both back."""
    crashing = Applied(crash=True)
    with pytest.raises(Crash):
        deployer(tmp_path, crashing).deploy(COMPONENT, BAD, "drill")
    store = RevisionStore(tmp_path / COMPONENT)
    assert store.live().number == 2
    applied = Applied()
    deployer(tmp_path, applied).undo(COMPONENT, 1)
    assert store.live().number == 1 and applied.revisions == [(COMPONENT, 1, {})]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "must be a JSON object"),
        ('{"revision": 1, "env": {"PATH": "/tmp"}}', "env: 'PATH' is not an AUDITFLOW_"),
        ('{"revision": 1, "env": {"AUDITFLOW_X": 5}}', "env.AUDITFLOW_X: must be a string"),
        ('{"revision": 1, "env": []}', "env: must be an object"),
        ('{"revision": 7, "env": {}}', "revision: says 7, the file name says 1"),
        ('{"revision": true, "env": {}}', "revision: must be an integer"),
    ],
)
def test_a_corrupt_revision_file_is_an_error_naming_file_and_field(tmp_path, content, says):
    """A revision that does not parse is refused with `file: field: why`, never guessed."""
    store = RevisionStore(tmp_path / COMPONENT)
    store.activate(1)
    (tmp_path / COMPONENT / "0001.json").write_text(content)
    with pytest.raises(RevisionError) as caught:
        store.live()
    assert str(tmp_path / COMPONENT / "0001.json") in str(caught.value)
    assert says in str(caught.value)


def test_a_corrupt_live_pointer_and_a_missing_revision_are_errors(tmp_path):
    """live.json pointing nowhere, or not a revision number, names the file."""
    store = RevisionStore(tmp_path / COMPONENT)
    store.activate(1)
    (tmp_path / COMPONENT / "live.json").write_text('{"revision": 5}')
    with pytest.raises(RevisionError, match="revision 5 does not exist"):
        store.live()
    (tmp_path / COMPONENT / "live.json").write_text('{"revision": "two"}')
    with pytest.raises(RevisionError, match=r"live.json: revision: must be an integer"):
        store.live()
    with pytest.raises(RevisionError, match="revision 9 does not exist"):
        store.activate(9)


# --- recover after a harness crash ------------------------------------------------------------


@dataclass
class DeployingTarget(FakeTarget):
    """A fake target whose revisions are a real store under `root` (`HasDeployer`)."""

    root: Path = Path()
    applied: Applied = field(default_factory=Applied)

    def deployer(self) -> LocalDeployer:
        return deployer(self.root, self.applied)


DRILL = """\
name: bad-deploy
description: crash-on-start, for recover
target: {component: audit-log-analysis}
fault: {kind: bad-deploy, params: {breakage: crash-on-start}}
steady_state:
  - {name: up, query: 'min(up)', tolerance: {min: 1}}
expected_alerts: [AuditAnalysisDown]
objectives: {max_lost: 0}
"""


def dead_run(runs: Path, *records: dict[str, object]) -> Path:
    run_dir = runs / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "drill.yaml").write_text(DRILL)
    start: dict[str, object] = {"event": "run-start", "drill": "bad-deploy", "target": "local"}
    start["target_identity"] = LOCAL.to_json()
    intent: dict[str, object] = {
        "event": "inject-intent",
        "kind": "bad-deploy",
        "component": COMPONENT,
    }
    lines = [start, intent, *records]
    (run_dir / "journal.jsonl").write_text(
        "".join(json.dumps({"t": time.time(), **r}) + "\n" for r in lines)
    )
    return run_dir


def test_recover_after_a_harness_crash_restores_the_journaled_good_revision(tmp_path):
    """The harness died with the bad revision live: `recover` rebuilds the fault from the
    journal, undoes to the `deploy-intent`'s good revision and applies it, and the run is done."""
    state = tmp_path / "state"
    target = DeployingTarget(name="local", ident=LOCAL, root=state)
    good = target.deployer().live(COMPONENT).number
    target.deployer().deploy(COMPONENT, BAD, "drill")  # the run's deploy, then the crash
    runs = tmp_path / "runs"
    run_dir = dead_run(
        runs,
        {"event": J_DEPLOY_INTENT, "component": COMPONENT, "good_revision": good, "env": BAD},
        {"event": "deployed", "component": COMPONENT, "revision": 2},
    )
    report_ = recover(runs, target)
    assert [r.kind for r in report_.recovered] == ["bad-deploy"]
    assert target.deployer().is_live(COMPONENT, good)
    assert target.applied.revisions[-1] == (COMPONENT, good, {})
    journal = read(run_dir / "journal.jsonl")
    undone = [r for r in journal if r["event"] == "deploy-undone"]
    assert undone and undone[0]["to_revision"] == good
    assert unfinished_runs(runs) == []


def test_recover_without_a_deploy_intent_touches_nothing(tmp_path):
    """Killed before the intent record: nothing was deployed, so nothing is undone."""
    target = DeployingTarget(name="local", ident=LOCAL, root=tmp_path / "state")
    runs = tmp_path / "runs"
    dead_run(runs)
    recover(runs, target)
    assert target.applied.revisions == []


def test_recover_with_a_corrupt_revision_fails_loudly(tmp_path):
    """A corrupt good revision: recover fails (exit 5) naming the file, never a silent pass."""
    state = tmp_path / "state"
    target = DeployingTarget(name="local", ident=LOCAL, root=state)
    target.deployer().deploy(COMPONENT, BAD, "drill")
    (state / COMPONENT / "0001.json").write_text("{torn")
    runs = tmp_path / "runs"
    dead_run(runs, {"event": J_DEPLOY_INTENT, "component": COMPONENT, "good_revision": 1})
    with pytest.raises(RollbackFailed, match=r"0001\.json: not JSON"):
        recover(runs, target)


# --- the fault's pure parts ----------------------------------------------------------------------


def test_breakage_names_match_the_parameter_table():
    """Every breakage the drill file accepts has settings, and nothing else does."""
    assert set(FAULT_PARAMS["bad-deploy"]["breakage"].choices) == set(BREAKAGES)


def test_a_target_without_revisions_is_refused_by_preflight(tmp_path):
    """A target without the deploy capability: preflight names why, nothing is injected."""
    spec = load(REPO_ROOT / "drills" / "catalog" / "bad-deploy.yaml")
    target = FakeTarget()
    with pytest.raises(TargetError, match="keeps no revisions"):
        deployer_of(target)
    ctx = FaultContext(spec, target, target.endpoints(), Journal(tmp_path), tmp_path, print)
    reasons = BadDeploy("reject-all", "automated", 45).preflight(ctx)
    assert len(reasons) == 1 and "keeps no revisions" in reasons[0]
    assert not (tmp_path / "journal.jsonl").exists()


def test_report_says_who_rolled_back_and_times_it_from_the_deploy():
    """Automated with a detection: the harness rolled back; the rollback time runs from the
    deploy to the good build ready; without a detection the check fails and says why."""
    injection = Injection(100.0, "journal", {"good_revision": 1, "bad_revision": 2})
    found = report(
        "crash-on-start",
        "automated",
        injection,
        detected_at=108.0,
        responder_at=None,
        undone_at=108.5,
        good_ready_at=111.25,
        good_live=True,
        redrive=None,
        queue_peak=3300,
    )
    assert found.figures["rolled_back_by"] == "harness"
    assert found.figures["rollback_seconds"] == 11.25
    assert found.figures["harness_saw_alert_seconds"] == 8.0
    assert found.figures["events_delayed_peak"] == 3300
    assert all(c.passed for c in found.checks)
    missed = report(
        "reject-all",
        "responder",
        injection,
        detected_at=None,
        responder_at=None,
        undone_at=160.0,
        good_ready_at=162.0,
        good_live=True,
        redrive=None,
        queue_peak=None,
    )
    assert "responder had not rolled back" in str(missed.figures["rolled_back_by"])
    redriven = {c.name: c.passed for c in missed.checks}
    assert redriven["the events the bad build dead-lettered were re-driven"] is False


def test_two_rollouts_of_one_program_never_interleave(tmp_path):
    """A responder's undo and the harness's own at the same moment: the second rollout starts
    only after the first one's apply has finished (the store's lock, across deployers)."""
    spans: list[tuple[str, float, float]] = []

    def slow(component: str, revision: StoredRevision) -> None:
        began = time.monotonic()
        time.sleep(0.3)
        spans.append((threading.current_thread().name, began, time.monotonic()))

    deployer(tmp_path, Applied()).deploy(COMPONENT, BAD, "drill")
    threads = [
        threading.Thread(
            target=lambda: LocalDeployer(lambda c: RevisionStore(tmp_path / c), slow).undo(
                COMPONENT, 1
            ),
            name=name,
        )
        for name in ("responder", "harness")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    first, second = sorted(spans, key=lambda span: span[1])
    assert len(spans) == 2 and second[1] >= first[2], spans
