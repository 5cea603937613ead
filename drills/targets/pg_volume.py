"""The `PgVolume` capability: PostgreSQL's server and the volume under it, for data-loss faults.

Why a capability of its own, beside `Target`: only a fault that destroys the database's storage
(pvc-wipe-restore) needs it, and only some targets can offer it. A target that can hands out a
`PgVolume` from `pg_volume()` (`HasPgVolume`); the fault asks `pg_volume_of(target)` and never
learns which backend it talks to — the local sandbox (supervisord and a data directory,
`drills.targets.local_volume`), Kubernetes (the StatefulSet and its PVC,
`drills.targets.kubernetes.volume`) or the fake of the unit tests (`drills.targets.fake`).

The dump and the restore themselves are the harness's (`drills.backup`, over the admin DSN of the
target's endpoints); the volume says which `pg_dump`/`pg_restore` to run and does everything the
SQL cannot: halt the server, delete and re-create its storage, start it again. Every method raises
`TargetError` (or a subclass) and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from drills.errors import TargetError


class PgVolume(Protocol):
    """The database server and the volume under it, as a data-loss fault drives them."""

    pg_dump: str  # the client programs the harness runs against this server (absolute paths)
    pg_restore: str

    def describe(self) -> str:
        """One line naming the storage a wipe would delete (shown before anything happens)."""
        ...

    def contains(self, path: Path) -> bool:
        """True when `path` lives on the volume (a wipe would delete it)."""
        ...

    def initialised(self) -> bool:
        """True when the volume holds a cluster (on the sandbox: its PG_VERSION marker exists)."""
        ...

    def running(self) -> bool: ...

    def halt(self) -> None:
        """Stop the server abruptly (no checkpoint, sessions cut) and keep it stopped."""
        ...

    def wipe(self) -> int:
        """Delete everything on the volume (the server is halted); return entries removed."""
        ...

    def temp_files(self) -> list[Path]:
        """Files `reprovision` may write and delete again (a password file for initdb).

        The fault journals them before each reprovision, so `recover` removes what a harness
        that died mid-reprovision left behind. Empty when the target writes none.
        """
        ...

    def reprovision(self) -> bool:
        """Create an empty cluster on an empty volume; True when one was created now."""
        ...

    def start(self) -> None: ...

    def wait_accepting(self, timeout: float) -> float:
        """Block until the server accepts superuser connections; return when (unix seconds)."""
        ...

    def bootstrap(self) -> None:
        """Set the application role's password and create its database (idempotent)."""
        ...


@runtime_checkable
class EarlyReprovision(Protocol):
    """Optional for a `PgVolume`: build the new cluster while the downtime floor holds."""

    def begin_reprovision(self) -> None:
        """Start creating the cluster on the wiped volume, without starting the server."""
        ...

    def settle_reprovision(self) -> None:
        """Wait for a started creation that `reprovision` did not take over (idempotent)."""
        ...


@runtime_checkable
class HasPgVolume(Protocol):
    """A target that can lend a data-loss fault its PostgreSQL volume."""

    def pg_volume(self) -> PgVolume: ...


def pg_volume_of(target: object) -> PgVolume:
    """The target's `PgVolume`; a TargetError naming the target when it has none."""
    if isinstance(target, HasPgVolume):
        return target.pg_volume()
    name = getattr(target, "name", "?")
    raise TargetError(
        f"target {name!r} ({type(target).__name__}) cannot wipe and restore PostgreSQL's "
        "volume (no PgVolume): use the local sandbox or the Kubernetes target"
    )
