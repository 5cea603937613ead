"""Pure parts of pvc-wipe-restore: RPO sets, archive selection, commands, rollback plan."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import drills
from drills import backup as backup_module
from drills.backup import (
    REPLACED_DATABASE,
    SCRATCH_DATABASE,
    Backup,
    PgServer,
    count_toc_entries,
    dump_argv,
    restore_argv,
    run_client,
    swap_statements,
)
from drills.errors import TargetError
from drills.faults.base import FaultContext, Injection
from drills.faults.pvc_wipe_restore import PvcWipeRestore, plan_rollback, volume_for
from drills.faults.pvc_wipe_restore import restore as restore_module
from drills.faults.pvc_wipe_restore import sql as sql_module
from drills.faults.pvc_wipe_restore.records import Findings
from drills.faults.redrive import (
    Selection,
    event_id_of,
    missing_ids,
    published_at_of,
    republish_headers,
)
from drills.fingerprint import Fingerprint
from drills.journal import Journal
from drills.spec import load
from drills.targets.fake import FakeTarget
from drills.targets.local_volume import LocalVolume, checked_data_dir
from drills.targets.pg_volume import EarlyReprovision

SECRET = "s3cr3t-pa55"
SERVER = PgServer("127.0.0.1", 28510, "postgres", SECRET)
A, B, C = (
    "00000000-0000-4000-8000-00000000000a",
    "00000000-0000-4000-8000-00000000000b",
    "00000000-0000-4000-8000-00000000000c",
)


def body(event_id: str, published_at: str = "2030-01-01T00:00:00+00:00") -> bytes:
    return json.dumps({"event_id": event_id, "published_at": published_at}).encode()


def test_missing_ids_is_committed_minus_restored() -> None:
    """RPO is the committed-before-wipe ids absent after restore, compared case-insensitively."""
    assert missing_ids({A, B, C}, {A.upper()}) == {B, C}
    assert missing_ids({A}, {A, B}) == frozenset()
    assert missing_ids([], [A]) == frozenset()


def test_selection_redrives_each_missing_event_once() -> None:
    """Only missing ids are selected, each once, and reading is done when all were found."""
    sel = Selection(frozenset({A, B}), wipe_at=2e9)
    assert sel.take(C, body(C)) is False
    assert sel.take(A, body(A)) is True
    assert sel.take(A, body(A)) is False  # a second copy in the stream is not re-driven
    assert not sel.done
    assert sel.take(None, body(B)) is True  # no message_id: the JSON body's event_id
    assert sel.complete and sel.done and sel.scanned == 4 and not sel.not_found


def test_selection_stops_after_a_message_published_past_the_wipe() -> None:
    """A message published after the wipe (plus margin) ends the scan even if ids are missing."""
    wipe = published_at_of(body(A, "2030-01-01T00:00:00+00:00"))
    assert wipe is not None
    sel = Selection(frozenset({A}), wipe_at=wipe, margin_s=5)
    sel.take(B, body(B, "2030-01-01T00:00:04+00:00"))
    assert not sel.done
    sel.take(C, body(C, "2030-01-01T00:00:06+00:00"))
    assert sel.done and not sel.complete and sel.not_found == {A}


def test_event_id_from_properties_or_body_or_none() -> None:
    """The message_id wins; else the body's event_id; garbage yields None instead of raising."""
    assert event_id_of(A.upper(), b"not json") == A
    assert event_id_of(None, body(B)) == B
    assert event_id_of(None, b"\xff\xfe") is None
    assert event_id_of("", b"[1, 2]") is None


def test_republished_headers_drop_the_stream_offset() -> None:
    """Re-driven messages keep their headers except the offset the stream stamped on them."""
    assert republish_headers({"x-correlation-id": "c1", "x-stream-offset": 42}) == {
        "x-correlation-id": "c1"
    }
    assert republish_headers(None) is None


def test_client_commands_keep_the_password_off_argv() -> None:
    """pg_dump/pg_restore argv never carry the password; only the child's PGPASSWORD does."""
    dump = dump_argv("/bin/pg_dump", SERVER, Path("/r/backup/a.dump"), "00000003-1")
    restore = restore_argv("/bin/pg_restore", SERVER, Path("/r/backup/a.dump"))
    for argv in (dump, restore):
        assert all(SECRET not in arg for arg in argv)
        assert "--no-password" in argv
    assert "--format=custom" in dump and "--snapshot=00000003-1" in dump
    # Into the scratch database (put in place only once verified), never in place; the drill's
    # form is one transaction (see drills.backup.RESTORE_JOBS).
    assert {"--no-owner", "--role=auditflow", "--single-transaction", "--exit-on-error"} <= set(
        restore
    )
    assert "--dbname=auditflow_restore" in restore and "--dbname=auditflow" not in restore
    assert not any(arg.startswith("--jobs") for arg in restore)
    env = SERVER.child_env({"PATH": "/bin", "PGPASSFILE": "/x"})
    assert env["PGPASSWORD"] == SECRET and "PGPASSFILE" not in env
    assert SECRET not in repr(SERVER)


def test_parallel_restore_is_not_one_transaction() -> None:
    """jobs=2 (the benchmark's alternative): --jobs, and no --single-transaction, which
    pg_restore refuses together with --jobs."""
    argv = restore_argv("/bin/pg_restore", SERVER, Path("/r/a.dump"), "scratch", jobs=2)
    assert "--jobs=2" in argv and "--dbname=scratch" in argv
    assert "--single-transaction" not in argv


def test_swap_renames_scratch_into_place_in_one_step() -> None:
    """The live database is renamed aside and the scratch one to its name (one transaction)."""
    assert swap_statements(live_exists=True) == (
        f"ALTER DATABASE auditflow RENAME TO {REPLACED_DATABASE}",
        f"ALTER DATABASE {SCRATCH_DATABASE} RENAME TO auditflow",
    )
    assert swap_statements(live_exists=False) == (
        f"ALTER DATABASE {SCRATCH_DATABASE} RENAME TO auditflow",
    )


def test_failed_restore_drops_the_scratch_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """All or nothing: a failing pg_restore leaves no half-filled database; live one untouched."""
    calls: list[str] = []
    monkeypatch.setattr(backup_module, "_recreate_scratch", lambda server: calls.append("create"))
    monkeypatch.setattr(backup_module, "drop_scratch", lambda server: calls.append("drop"))
    monkeypatch.setattr(backup_module, "put_in_place", lambda server: calls.append("swap"))

    def failing(argv: list[str], server: PgServer, what: str, timeout: float) -> str:
        calls.append("pg_restore " + next(a for a in argv if a.startswith("--dbname=")))
        raise TargetError("restore: pg_restore exited 1: ERROR: disk full")

    monkeypatch.setattr(backup_module, "run_client", failing)
    with pytest.raises(TargetError, match="disk full"):
        backup_module.restore("/bin/pg_restore", SERVER, Path("/r/a.dump"))
    assert calls == ["create", f"pg_restore --dbname={SCRATCH_DATABASE}", "drop"]


def test_local_volume_hands_a_background_initdb_to_reprovision() -> None:
    """initdb started during the downtime floor is finished (and counted) by reprovision."""

    class Job:
        finished = 0

        def finish(self) -> None:
            Job.finished += 1

    # A stand-in for the running initdb (only finish() is called): not an InitdbJob, on purpose.
    volume = object.__new__(LocalVolume)
    volume._initdb = Job()  # type: ignore[assignment]
    assert isinstance(volume, EarlyReprovision)
    assert volume.reprovision() is True and Job.finished == 1
    volume._initdb = Job()  # type: ignore[assignment]
    volume.settle_reprovision()
    volume.settle_reprovision()  # idempotent
    assert Job.finished == 2 and volume._initdb is None


@pytest.mark.parametrize("matches", [True, False])
def test_restore_is_put_in_place_only_when_it_matches_the_backup(
    matches: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified in the scratch database, then swapped in; a mismatch is never put in place."""
    calls: list[str] = []
    expected = Fingerprint(3, None, "ab")
    restored = expected if matches else Fingerprint(2, None, "cd")
    dump = tmp_path / "backup" / "auditflow.dump"
    dump.parent.mkdir()
    dump.write_bytes(b"x")
    monkeypatch.setattr(sql_module, "lock_out_app", lambda server: calls.append("lock out"))
    monkeypatch.setattr(sql_module, "let_app_in", lambda server: calls.append("let in"))

    def present(server: PgServer, ids: frozenset[str], dbname: str = "") -> set[str]:
        calls.append(f"present in {dbname}")
        return {A}

    def fingerprint_of(server: PgServer, dbname: str = "", method: str = "") -> Fingerprint:
        calls.append(f"fingerprint of {dbname} by {method}")
        return restored

    monkeypatch.setattr(sql_module, "present", present)

    def restore(*args: object) -> float:
        calls.append("restore")
        return 1.5

    monkeypatch.setattr(backup_module, "restore", restore)
    monkeypatch.setattr(backup_module, "fingerprint_of", fingerprint_of)
    monkeypatch.setattr(backup_module, "put_in_place", lambda server: calls.append("swap"))
    monkeypatch.setattr(backup_module, "drop_replaced", lambda server: calls.append("drop old"))
    findings = Findings(captured=frozenset({A, B}))
    ctx: Any = type("Ctx", (), {"journal": Journal(tmp_path), "emit": lambda *a: None})()
    backup = Backup(str(dump), 1, 1.0, 2.0, 5, expected)
    volume = FakeTarget().pg_volume()
    if matches:
        restore_module.restore(ctx, volume, SERVER, backup, "hold", findings)
    else:
        with pytest.raises(TargetError, match="not put in place"):
            restore_module.restore(ctx, volume, SERVER, backup, "hold", findings)
    # The restored database is fingerprinted by the method the backup recorded.
    scratch = [
        f"present in {SCRATCH_DATABASE}",
        f"fingerprint of {SCRATCH_DATABASE} by {expected.method}",
    ]
    assert calls[:2] == ["lock out", "restore"] and sorted(calls[2:4]) == sorted(scratch)
    assert calls[4:] == (["swap", "let in", "drop old"] if matches else ["let in", "drop old"])
    assert findings.integrity_ok is matches
    assert findings.missing == (frozenset({B}) if matches else frozenset({A, B}))
    done = [r for r in ctx.journal.records() if r["event"] == "restore-done"]
    assert done and done[0]["integrity_ok"] is matches
    assert set(done[0]["steps"]) == {
        "reprovision",
        "start",
        "bootstrap",
        "pg_restore",
        "verify",
        "swap_and_let_in",
    }


def test_admin_dsn_is_parsed_into_a_server() -> None:
    """The target's admin conninfo gives host, port, user and password for the client programs."""
    server = PgServer.from_dsn(
        f"host=127.0.0.1 port=28510 connect_timeout=3 user=postgres dbname=postgres "
        f"password={SECRET}"
    )
    assert (server.host, server.port, server.user, server.password) == (
        "127.0.0.1",
        28510,
        "postgres",
        SECRET,
    )


def test_client_failure_is_a_target_error_without_the_password() -> None:
    """A failing client program becomes TargetError with its stderr, the password scrubbed."""
    argv = ["/bin/sh", "-c", 'echo "auth failed for $PGPASSWORD" >&2; exit 3']
    with pytest.raises(TargetError) as caught:
        run_client(argv, SERVER, "backup", timeout=10)
    message = str(caught.value)
    assert "exited 3" in message and "auth failed for ***" in message
    assert SECRET not in message


def test_toc_entries_ignore_comment_lines() -> None:
    """`pg_restore --list` comment lines (';') are not counted as entries."""
    listing = ";\n; Archive created at ...\n;\n215; 1259 16389 TABLE public audit_events a\n"
    assert count_toc_entries(listing + "3350; 0 16389 TABLE DATA public audit_events a\n") == 2


def test_backup_record_round_trips_and_holds_no_secret() -> None:
    """The journaled backup record rebuilds the same Backup and contains no password."""
    backup = Backup("/r/backup/a.dump", 10, 1.0, 2.0, 5, Fingerprint(3, "2030-01-01", "ab"))
    record = backup.as_record()
    assert Backup.from_record(json.loads(json.dumps(record))) == backup
    assert SECRET not in json.dumps(record)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        # never wiped, all fine: nothing to do
        (dict(wiped=False, restored=False, initialised=True, running=True), (0, 0, 0, 0, 0)),
        # halted but not wiped (crash between halt and wipe): just start it
        (dict(wiped=False, restored=False, initialised=True, running=False), (0, 1, 0, 0, 0)),
        # wiped, crash before re-initialising: everything
        (dict(wiped=True, restored=False, initialised=False, running=False), (1, 1, 1, 1, 1)),
        # died mid-wipe (marker gone, no wipe-done): treated as wiped
        (dict(wiped=False, restored=False, initialised=False, running=False), (1, 1, 1, 1, 1)),
        # re-initialised and running but the restore never finished: restore again
        (dict(wiped=True, restored=False, initialised=True, running=True), (0, 0, 1, 1, 1)),
        # restored and re-driven: only make sure the app can log in
        (dict(wiped=True, restored=True, initialised=True, running=True), (0, 0, 0, 1, 0)),
    ],
)
def test_rollback_plan_undoes_only_what_is_still_in_effect(
    state: dict[str, bool], expected: tuple[int, ...]
) -> None:
    """Rollback re-initialises, starts, restores and re-drives only what the journal says is due."""
    redriven = state["restored"]
    plan = plan_rollback(redriven=redriven, redrive_enabled=True, **state)
    got = (plan.reprovision, plan.start, plan.restore, plan.let_app_in, plan.redrive)
    assert tuple(int(x) for x in got) == expected


def test_rollback_plan_without_redrive_never_redrives() -> None:
    """With `redrive: false` a rollback restores but does not replay the archive."""
    plan = plan_rollback(
        wiped=True,
        restored=False,
        redriven=False,
        redrive_enabled=False,
        initialised=False,
        running=False,
    )
    assert plan.restore and not plan.redrive


def test_wipe_refuses_directories_that_are_not_the_sandboxs(tmp_path: Path) -> None:
    """Only a `pgdata` inside the state directory (or the private /var/tmp fallback) is wiped."""
    state = tmp_path / "state"
    ok = state / "data" / "postgres" / "pgdata"
    assert checked_data_dir(ok, state) == ok.resolve()
    for bad in (tmp_path / "elsewhere" / "pgdata", state / "data", Path("/")):
        with pytest.raises(TargetError):
            checked_data_dir(bad, state)


def test_targets_without_a_pg_volume_are_refused(tmp_path: Path) -> None:
    """A target that lends no PgVolume is refused, naming the targets that can."""

    class OtherTarget:
        name = "kubernetes"

    # The wrong target type is the point; volume_for reads nothing but the target.
    ctx: Any = FaultContext(
        spec=None,  # type: ignore[arg-type]
        target=OtherTarget(),  # type: ignore[arg-type]
        endpoints=None,  # type: ignore[arg-type]
        journal=Journal(tmp_path),
        run_dir=tmp_path,
        emit=lambda _k, _d: None,
        stop=threading.Event(),
    )
    with pytest.raises(TargetError, match="Kubernetes"):
        volume_for(ctx)


def test_fingerprint_record_round_trip_and_legacy_md5_records() -> None:
    """A backup record keeps its digest method; one journaled before methods existed reads as
    md5-sorted, so a crash recovery verifies against what that backup really recorded."""
    from drills.fingerprint import HASH_METHOD, MD5_METHOD

    backup = Backup("/r/a.dump", 10, 1.0, 2.0, 5, Fingerprint(3, "2030-01-01", "12:34"))
    again = Backup.from_record(backup.as_record())
    assert again == backup and again.fingerprint.method == HASH_METHOD
    fp = {"rows": 3, "max_stored_at": None, "ids_md5": "ab"}
    old = Backup.from_record({**backup.as_record(), "fingerprint": fp}).fingerprint
    assert (old.method, old.ids_digest, old.rows) == (MD5_METHOD, "ab", 3)


def test_fingerprints_match_only_by_the_same_method_rows_and_digest() -> None:
    from drills.fingerprint import MD5_METHOD

    base = Fingerprint(3, None, "ab")
    assert base.matches(Fingerprint(3, "2030-01-01", "ab"))  # stored_at is not compared
    assert not base.matches(Fingerprint(4, None, "ab"))
    assert not base.matches(Fingerprint(3, None, "ac"))
    assert not base.matches(Fingerprint(3, None, "ab", MD5_METHOD))


def test_unknown_fingerprint_method_is_a_target_error() -> None:
    from drills.fingerprint import fingerprint

    with pytest.raises(TargetError, match="unknown fingerprint method 'sha9'"):
        fingerprint(None, "sha9")  # type: ignore[arg-type]  # refused before any query


def test_verify_of_a_run_that_never_restored_reports_without_a_database(tmp_path: Path) -> None:
    """Stopped before the restore: verify reports what it has (no RPO, failed checks) and never
    connects to the server (the fake's endpoints point at a closed port)."""
    fault = PvcWipeRestore(events_after_backup_s=1, redrive=False)
    target = FakeTarget()
    ctx = FaultContext(
        load(Path(drills.__file__).parent / "catalog" / "pvc-wipe-restore.yaml"),
        target,
        target.endpoints(),
        Journal(tmp_path),
        tmp_path,
        lambda _k, _d: None,
    )
    report = fault.verify(ctx, Injection(100.0, "test"))
    assert report.figures["rpo_after_redrive"] is None and report.figures["rto_seconds"] is None
    assert report.figures["redrive_source"] == "disabled"
    assert [c.passed for c in report.checks] == [False, False, False]
    assert report.checks[0].detail == "no backup was taken"
    assert report.ready_at is None and report.complete_at is None
    assert report.incomplete == "the database was never restored"
