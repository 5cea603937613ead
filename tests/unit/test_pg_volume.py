"""The `PgVolume` capability: how a target lends pvc-wipe-restore its database's storage.

The fault is driven against the fake target's volume, so these tests prove that the fault's
lifecycle goes through the capability alone (no concrete target, no database needed on the paths
exercised here); the Kubernetes volume is tested against the simulated API server (tests/k8s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import drills
from drills.errors import RollbackFailed, TargetError
from drills.faults.base import FaultContext
from drills.faults.pvc_wipe_restore import J_WIPE_DONE, J_WIPE_INTENT, PvcWipeRestore
from drills.journal import Journal
from drills.spec import load
from drills.targets.base import ComponentState
from drills.targets.fake import FakeTarget
from drills.targets.kubernetes import KubernetesTarget
from drills.targets.local import LocalTarget
from drills.targets.pg_volume import EarlyReprovision, HasPgVolume, pg_volume_of

SPEC = load(Path(drills.__file__).parent / "catalog" / "pvc-wipe-restore.yaml")


def context(target: FakeTarget, run_dir: Path) -> FaultContext:
    return FaultContext(
        SPEC, target, target.endpoints(), Journal(run_dir), run_dir, lambda _k, _d: None
    )


def volume_calls(target: FakeTarget) -> list[str]:
    return [what for kind, what in target.calls if kind == "volume"]


def test_every_real_target_offers_the_capability() -> None:
    """The local sandbox, Kubernetes and the fake all hand out a `PgVolume`."""
    for target_class in (LocalTarget, KubernetesTarget, FakeTarget):
        assert issubclass(target_class, HasPgVolume), target_class


def test_pg_volume_of_returns_the_targets_volume_and_refuses_others() -> None:
    """The fake lends one volume for the whole run; a target without one is a TargetError."""
    target = FakeTarget()
    assert pg_volume_of(target) is pg_volume_of(target)
    assert not isinstance(pg_volume_of(target), EarlyReprovision)  # optional, and absent here

    class Bare:
        name = "bare"

    with pytest.raises(TargetError, match=r"target 'bare' \(Bare\) cannot wipe"):
        pg_volume_of(Bare())


def test_fake_volume_refuses_to_wipe_a_running_server() -> None:
    """Like the sandbox's and the cluster's, the fake's volume is never wiped under a server."""
    target = FakeTarget()
    volume = target.pg_volume()
    with pytest.raises(TargetError, match="running postgres"):
        volume.wipe()
    volume.halt()
    assert volume.wipe() == 3 and not volume.initialised()
    assert volume.wipe() == 0
    with pytest.raises(TargetError, match="no cluster"):
        volume.wait_accepting(1)


def test_rollback_of_nothing_touches_no_volume(tmp_path: Path) -> None:
    """A run that never reached the wipe leaves a running, initialised server alone."""
    target = FakeTarget()
    PvcWipeRestore(8, redrive=True).rollback(context(target, tmp_path))
    assert volume_calls(target) == []
    assert target.state("postgres").running


def test_rollback_after_a_halt_only_starts_the_server(tmp_path: Path) -> None:
    """Halted but not wiped (the harness died between the two): start it, nothing more."""
    target = FakeTarget()
    ctx = context(target, tmp_path)
    ctx.journal.write(J_WIPE_INTENT, data="x", backup="none", component="postgres")
    target.pg_volume().halt()
    PvcWipeRestore(8, redrive=True).rollback(ctx)
    assert volume_calls(target) == ["halt", "start"]
    assert target.state("postgres").running


def test_rollback_after_a_wipe_without_backup_reprovisions_and_fails_loudly(
    tmp_path: Path,
) -> None:
    """Wiped with no backup file: a new cluster runs again, its temp files were journaled
    before the reprovision could write them, and the rollback says the database is empty."""
    target = FakeTarget()
    volume = target.pg_volume()
    volume.temp = [tmp_path / "pgdata.pwfile"]
    ctx = context(target, tmp_path)
    volume.halt()
    volume.wipe()
    ctx.journal.write(J_WIPE_DONE, at=0.0, removed_entries=3, captured=0)
    with pytest.raises(RollbackFailed, match="runs again, empty"):
        PvcWipeRestore(8, redrive=False).rollback(ctx)
    assert volume_calls(target) == ["halt", "wipe", "reprovision", "start", "bootstrap"]
    assert volume.initialised() and target.state("postgres").running
    temp = [r["path"] for r in ctx.journal.records() if r["event"] == "temp-file"]
    assert temp == [str(tmp_path / "pgdata.pwfile")]


def test_preflight_names_the_missing_client_programs(tmp_path: Path) -> None:
    """The volume says which pg_dump/pg_restore run against it; missing ones refuse the drill."""
    target = FakeTarget()
    target.components["postgres"] = ComponentState("postgres", False, "0", None, False)
    reasons = PvcWipeRestore(8, redrive=True).preflight(context(target, tmp_path))
    assert reasons[:2] == [
        "pg_dump is missing (/fake/bin/pg_dump); install postgresql-client-15",
        "pg_restore is missing (/fake/bin/pg_restore); install postgresql-client-15",
    ]
    assert "postgres is not running and ready" in reasons
