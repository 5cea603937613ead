"""`PgVolume` on the local sandbox: supervisord runs the server, the volume is a directory.

halt = supervisord's stop made immediate with SIGQUIT (no checkpoint, every session cut); wipe =
delete the data directory's contents, refused for any directory that is not the sandbox's own;
reprovision = initdb (which the drill may start early, while its downtime floor holds:
`EarlyReprovision`); start = supervisord's start.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from drills.errors import TargetError
from drills.sandbox.binaries import Binaries
from drills.sandbox.health import probe
from drills.sandbox.postgres import (
    InitdbJob,
    bootstrap,
    initdb_if_needed,
    place,
    pwfile_of,
    start_initdb,
)

if TYPE_CHECKING:
    from drills.targets.local import LocalTarget

COMPONENT = "postgres"
HALT_TIMEOUT_S = 30.0


class LocalVolume:
    """`PgVolume` (and `EarlyReprovision`) on the supervisord sandbox."""

    def __init__(self, target: LocalTarget) -> None:
        self.target = target
        self.sandbox = target.sandbox
        self.placement = place(self.sandbox.layout)
        self.binaries = Binaries.locate()
        self.pg_dump = self.binaries["pg_dump"]
        self.pg_restore = self.binaries["pg_restore"]
        self.program = self.sandbox.program(COMPONENT).name
        self._initdb: InitdbJob | None = None

    @property
    def data_dir(self) -> Path:
        return self.placement.data_dir

    def describe(self) -> str:
        return f"PostgreSQL data directory {self.data_dir} of {self.target.describe()}"

    def contains(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.data_dir.resolve())

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running(self) -> bool:
        return self.target.state(COMPONENT).running

    def halt(self) -> None:
        supervisor = self.sandbox.supervisor
        info = supervisor.process(self.program)
        if info.state not in ("RUNNING", "STARTING", "BACKOFF") or not info.pid:
            return
        # Ask supervisord to stop first so it does not restart the server, then make the stop
        # immediate (SIGQUIT: no checkpoint, every session cut) instead of waiting for clients.
        supervisor.stop(self.program, wait=False)
        try:
            os.kill(info.pid, signal.SIGQUIT)
        except ProcessLookupError:
            pass
        except OSError as exc:
            raise TargetError(f"cannot signal postgres (pid {info.pid}): {exc}") from exc
        deadline = time.monotonic() + HALT_TIMEOUT_S
        while time.monotonic() < deadline:
            if supervisor.process(self.program).state in ("STOPPED", "EXITED", "FATAL"):
                return
            time.sleep(0.05)
        raise TargetError(f"postgres did not stop within {HALT_TIMEOUT_S:.0f} s")

    def wipe(self) -> int:
        data_dir = checked_data_dir(self.data_dir, self.sandbox.layout.root)
        if self.running():
            raise TargetError("refusing to wipe the data directory of a running postgres")
        if not data_dir.exists():
            return 0
        removed = 0
        marker = data_dir / "PG_VERSION"
        if marker.exists():  # first, so a half-finished wipe is recognisable as one
            marker.unlink()
            removed += 1
        for entry in list(data_dir.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        return removed

    def temp_files(self) -> list[Path]:
        """initdb's password file (written 0600 beside the data directory, removed after)."""
        return [pwfile_of(self.placement)]

    def begin_reprovision(self) -> None:
        """Start initdb on the wiped volume in the background (`reprovision` waits for it).

        The cluster is built beside the data directory and renamed into place when complete;
        the server is not started by this (supervisord keeps it stopped).
        """
        if self._initdb is None:
            self._initdb = start_initdb(self.placement, self.binaries, self.sandbox.secrets)

    def reprovision(self) -> bool:
        job, self._initdb = self._initdb, None
        if job is not None:
            job.finish()
            return True
        return initdb_if_needed(self.placement, self.binaries, self.sandbox.secrets)

    def settle_reprovision(self) -> None:
        job, self._initdb = self._initdb, None
        if job is not None:  # never leave initdb (or its password file) running behind
            job.finish()

    def start(self) -> None:
        self.target.start(COMPONENT)

    def wait_accepting(self, timeout: float) -> float:
        """Poll the server itself, not supervisord's RUNNING (reported `startsecs`, 1 s, late)."""
        check = self.sandbox.program(COMPONENT).probe
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.sandbox.supervisor.process(self.program).state
            if state in ("STARTING", "RUNNING") and probe(check, self.sandbox.secrets).ok:
                return time.time()
            time.sleep(0.05)
        raise TargetError(f"postgres did not accept connections within {timeout:.0f} s")

    def bootstrap(self) -> None:
        bootstrap(self.sandbox.settings.ports.of(COMPONENT), self.sandbox.secrets)


def checked_data_dir(data_dir: Path, state_root: Path) -> Path:
    """The data directory, refused unless it is the sandbox's own (never anything outside it)."""
    resolved = data_dir.resolve()
    inside_state = resolved.is_relative_to(state_root.resolve())
    private_fallback = resolved.parent.name.startswith(
        "genesis-drill-"
    ) and resolved.parent.parent == Path(
        "/var/tmp"  # noqa: S108 - the sandbox's documented private fallback location
    )
    if resolved.name != "pgdata" or not (inside_state or private_fallback):
        raise TargetError(
            f"refusing to wipe {resolved}: not the sandbox's PostgreSQL data directory"
        )
    return resolved
