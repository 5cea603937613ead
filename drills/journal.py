"""The run journal: an append-only JSON-lines file, flushed and fsynced line by line.

Intent is written *before* every action and the outcome after it, so a harness killed mid-drill
leaves enough on disk for `genesis-drill recover` (or the next run's preflight) to find the fault
that is still in effect and undo it. Nothing secret is ever written here.

The records the runner and `recover` write are typed (`Record` subclasses below, appended with
`Journal.append`), so a misspelt event or field is a type error, and readers name events by the
same classes (`InjectIntent.EVENT`). Reading stays lenient — a journal is a crash log, and older
harnesses wrote fewer fields — so readers take plain dicts and check each value they use. A fault's
own records (a backup, a wipe) are its business: it writes them with `Journal.write`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from drills.sandbox.procfs import pid_alive, pid_start_ticks

JOURNAL_NAME = "journal.jsonl"


@dataclass(frozen=True)
class Record:
    """One typed journal record; `EVENT` is its `event` in the file.

    A field whose default is None is left out of the file while it is None (who wrote a
    `rollback-done`: only `recover` says `by`); every other field is always written."""

    EVENT: ClassVar[str]

    def fields(self) -> dict[str, Any]:
        return {
            f.name: value
            for f in dataclasses.fields(self)
            if (value := getattr(self, f.name)) is not None or f.default is not None
        }


@dataclass(frozen=True)
class RunStart(Record):
    EVENT = "run-start"
    drill: str
    target: str
    target_identity: Mapping[str, str]  # `recover` acts only on the same platform
    harness: Mapping[str, Any]  # harness_process(): and never on a run whose harness is alive
    spec: str


@dataclass(frozen=True)
class PhaseStarted(Record):
    EVENT = "phase"
    phase: str


@dataclass(frozen=True)
class RecoveredEarlierRun(Record):
    EVENT = "recovered-earlier-run"
    run: str
    kind: str


@dataclass(frozen=True)
class UnfinishedRunLeftAlone(Record):
    EVENT = "unfinished-run-left-alone"
    run: str
    why: str


@dataclass(frozen=True)
class Budget(Record):
    """The error budget the preflight saw (remaining None: no traffic, or no floor to judge)."""

    EVENT = "budget"
    remaining: float | None
    floor: float | None
    source: str


@dataclass(frozen=True)
class AlertsQuiet(Record):
    EVENT = "alerts-quiet"
    alerts: tuple[str, ...]
    waited_s: float
    still_firing: tuple[str, ...]


@dataclass(frozen=True)
class Load(Record):
    """The drill's load is set; `previous_rate` is what `recover` restores."""

    EVENT = "load"
    rate: float
    previous_rate: float | None


@dataclass(frozen=True)
class InjectIntent(Record):
    EVENT = "inject-intent"
    kind: str
    component: str
    params: Mapping[str, Any]
    # A composite drill's step (drills.spec_steps); a single-fault drill writes none, as before.
    step: str | None = None


@dataclass(frozen=True)
class Injected(Record):
    EVENT = "injected"
    at: float  # when the fault took effect (`t` is when this line was written)
    source: str
    details: Mapping[str, Any]
    step: str | None = None


@dataclass(frozen=True)
class Abort(Record):
    EVENT = "abort"
    condition: str
    value: float
    limit: str
    at: float
    after_inject_s: float | None
    reason: str
    phase: str


@dataclass(frozen=True)
class RollbackIntent(Record):
    EVENT = "rollback-intent"
    kind: str
    step: str | None = None


@dataclass(frozen=True)
class RollbackError(Record):
    EVENT = "rollback-error"
    error: str
    attempt: int | None = None
    retry: bool | None = None
    by: str | None = None
    step: str | None = None


@dataclass(frozen=True)
class RollbackDone(Record):
    EVENT = "rollback-done"
    at: float | None = None
    by: str | None = None
    step: str | None = None


@dataclass(frozen=True)
class StepReady(Record):
    """A composite drill's step rolled back and its component ready again: what a later step
    that starts `after` it counts its delay from."""

    EVENT = "step-ready"
    step: str
    component: str
    at: float


@dataclass(frozen=True)
class FaultVerified(Record):
    EVENT = "fault-verified"
    figures: Mapping[str, float | int | str | None]


@dataclass(frozen=True)
class LoadRestored(Record):
    EVENT = "load-restored"
    rate: float
    by: str | None = None


@dataclass(frozen=True)
class InternalError(Record):
    EVENT = "internal-error"
    error: str


@dataclass(frozen=True)
class RunEnd(Record):
    EVENT = "run-end"
    outcome: str


@dataclass(frozen=True)
class TempFile(Record):
    """Written before the file is created (FaultContext.temp_file)."""

    EVENT = "temp-file"
    path: str


@dataclass(frozen=True)
class RecoverStart(Record):
    EVENT = "recover-start"
    target_identity: Mapping[str, str]


@dataclass(frozen=True)
class TempFileRemoved(Record):
    EVENT = "temp-file-removed"
    path: str
    by: str | None = None


class Journal:
    """Appends timestamped records to `run_dir/journal.jsonl`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_NAME
        run_dir.mkdir(parents=True, exist_ok=True)

    def append(self, record: Record) -> dict[str, Any]:
        """Write one typed record (the runner's and `recover`'s)."""
        return self.write(record.EVENT, **record.fields())

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write a record of any event (a fault's own); prefer `append` with a `Record`."""
        record = {"t": time.time(), "event": event, **fields}
        line = json.dumps(record, default=str, sort_keys=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def records(self) -> list[dict[str, Any]]:
        return read(self.path)


def read(path: Path) -> list[dict[str, Any]]:
    """All records of a journal; a torn last line (crash mid-write) is ignored."""
    records: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def harness_process() -> dict[str, Any]:
    """Who is writing this journal: host, PID and the PID's start time (survives PID reuse).

    Recorded in `run-start` so that `recover` (and another run's preflight) can tell a run whose
    harness died from one whose harness is still running — rolling back a live drill's fault from
    a second terminal would end that drill's observation in the middle.
    """
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start_ticks": pid_start_ticks(pid)}


def harness_alive(record: Any) -> bool:
    """True when a `harness_process()` record names a process that is still running here.

    A record from another host cannot be checked and counts as alive only if it is ours; absent or
    malformed records (older harnesses) count as dead, as before.
    """
    if not isinstance(record, dict):
        return False
    pid, ticks, host = record.get("pid"), record.get("start_ticks"), record.get("host")
    if (
        not isinstance(pid, int)
        or isinstance(pid, bool)
        or pid <= 0
        or host != socket.gethostname()
    ):
        return False
    if pid == os.getpid():
        # This very process: its runs are sequential (runner.run returns only when its run is
        # over), so an unfinished run of ours is one that ended badly, not one in progress.
        return False
    return pid_alive(pid) and (ticks is None or pid_start_ticks(pid) == ticks)
