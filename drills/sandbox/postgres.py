"""The sandbox's private PostgreSQL: where its data lives, who runs it, and its first boot.

PostgreSQL refuses to run as root. When the harness runs as root (CI, containers) the server runs
as the unprivileged `postgres` account that Debian's package creates, and its data directory must
be reachable by that account: the state directory if its path is traversable, otherwise a private
directory under /var/tmp named after the state directory (recorded in `postgres.location`).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from drills.errors import ComponentFailed, MissingDependency
from drills.sandbox.binaries import Binaries
from drills.sandbox.connections import pg_dsn
from drills.sandbox.layout import Layout
from drills.sandbox.secrets import SandboxSecrets

PG_SERVICE_USER = "postgres"


@dataclass(frozen=True)
class PostgresPlacement:
    """The data directory and the account the server runs as (None: the calling user)."""

    data_dir: Path
    user: str | None

    def owner_ids(self) -> tuple[int, int] | None:
        if self.user is None:
            return None
        entry = pwd.getpwnam(self.user)
        return entry.pw_uid, entry.pw_gid


def place(layout: Layout) -> PostgresPlacement:
    """Decide where PostgreSQL's data lives for this state directory (stable across calls)."""
    if os.geteuid() != 0:
        return PostgresPlacement(layout.data_of("postgres") / "pgdata", None)
    try:
        pwd.getpwnam(PG_SERVICE_USER)
    except KeyError:
        raise MissingDependency(
            "running as root, PostgreSQL needs the unprivileged 'postgres' account, which the "
            "Debian package postgresql-15 creates: `sudo apt-get install postgresql-15`"
        ) from None
    layout.data.mkdir(parents=True, exist_ok=True)
    if _reachable_by(PG_SERVICE_USER, layout.data):
        return PostgresPlacement(layout.data_of("postgres") / "pgdata", PG_SERVICE_USER)
    digest = hashlib.sha256(str(layout.root).encode()).hexdigest()[:12]
    # Made by root under the sticky /var/tmp and handed to the postgres account; name is unique.
    fallback = Path("/var/tmp") / f"genesis-drill-{digest}" / "pgdata"  # noqa: S108
    return PostgresPlacement(fallback, PG_SERVICE_USER)


def placed(layout: Layout) -> PostgresPlacement:
    """Where PostgreSQL's data is for an existing state directory, read-only (for a dry run):
    what `postgres.location` records, or where `place` would start looking."""
    user = PG_SERVICE_USER if os.geteuid() == 0 else None
    try:
        recorded = (layout.root / "postgres.location").read_text().strip()
    except OSError:
        recorded = ""
    return PostgresPlacement(
        Path(recorded) if recorded else layout.data_of("postgres") / "pgdata", user
    )


def _reachable_by(user: str, directory: Path) -> bool:
    """True when `user` can traverse every parent of `directory` (checked as that user)."""
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(directory)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


class InitdbJob:
    """An `initdb` running in the background, building the cluster beside its final place.

    The cluster is built in `<data_dir>.initdb` and renamed to `data_dir` only once complete, so
    a server started meanwhile (supervisord retries it) finds no directory rather than a
    half-made one. This lets `platform up` boot the broker — the slowest component, 7-20 s —
    while `initdb` runs (0.8-9 s), instead of one after the other.
    """

    def __init__(
        self, placement: PostgresPlacement, process: subprocess.Popen[str], pwfile: Path
    ) -> None:
        self.placement = placement
        self._process = process
        self._pwfile = pwfile

    @property
    def building(self) -> Path:
        return _building_dir(self.placement)

    def finish(self, timeout: float = 120.0) -> None:
        """Wait for initdb; move the finished cluster into place or raise naming the error."""
        try:
            _out, err = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _out, err = self._process.communicate()
            err = f"initdb did not finish within {timeout:.0f} s. {err}"
        finally:
            self._pwfile.unlink(missing_ok=True)
        if self._process.returncode != 0:
            shutil.rmtree(self.building, ignore_errors=True)
            raise ComponentFailed(
                f"postgres: initdb failed in {self.placement.data_dir}: {err.strip()[-400:]}"
            )
        os.replace(self.building, self.placement.data_dir)


def _building_dir(placement: PostgresPlacement) -> Path:
    return placement.data_dir.with_name(placement.data_dir.name + ".initdb")


def pwfile_of(placement: PostgresPlacement) -> Path:
    """Where initdb's superuser password file is written while it runs (removed after)."""
    return placement.data_dir.parent / ".pwfile"


def start_initdb(
    placement: PostgresPlacement, binaries: Binaries, secrets: SandboxSecrets
) -> InitdbJob | None:
    """Start creating the cluster if there is none; None when one already exists."""
    if (placement.data_dir / "PG_VERSION").exists():
        return None
    parent = placement.data_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    building = _building_dir(placement)
    for leftover in (placement.data_dir, building):  # from an interrupted first boot
        if leftover.exists():
            shutil.rmtree(leftover)
    ids = placement.owner_ids()
    if ids:
        os.chown(parent, *ids)
    pwfile = pwfile_of(placement)
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.postgres_superuser.reveal() + "\n")
    if ids:
        os.chown(pwfile, *ids)
    argv = [
        binaries["initdb"],
        "-D",
        str(building),
        "-U",
        "postgres",
        f"--pwfile={pwfile}",
        "--auth-host=scram-sha-256",
        "--auth-local=peer",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    ]
    if placement.user:
        argv = ["runuser", "-u", placement.user, "--", *argv]
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        pwfile.unlink(missing_ok=True)
        raise ComponentFailed(f"postgres: cannot run initdb: {exc}") from exc
    return InitdbJob(placement, process, pwfile)


def initdb_if_needed(
    placement: PostgresPlacement, binaries: Binaries, secrets: SandboxSecrets
) -> bool:
    """Create the cluster on first use, waiting for it; return True when it was created now."""
    job = start_initdb(placement, binaries, secrets)
    if job is None:
        return False
    job.finish()
    return True


def bootstrap(port: int, secrets: SandboxSecrets) -> None:
    """Create the application role and database if absent (idempotent)."""
    import psycopg  # imported when used: the local target loads this module at every drill start
    from psycopg import sql

    dsn = pg_dsn(port, secrets, superuser=True)
    try:
        with psycopg.connect(dsn.reveal(), autocommit=True) as conn:
            role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'auditflow'").fetchone()
            password = secrets.postgres_app.reveal()
            if role is None:
                conn.execute(
                    sql.SQL("CREATE ROLE auditflow LOGIN PASSWORD {}").format(sql.Literal(password))
                )
            else:
                conn.execute(
                    sql.SQL("ALTER ROLE auditflow PASSWORD {}").format(sql.Literal(password))
                )
            db = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'auditflow'").fetchone()
            if db is None:
                conn.execute("CREATE DATABASE auditflow OWNER auditflow")
    except psycopg.Error as exc:
        raise ComponentFailed(f"postgres: bootstrap of role/database failed: {exc}") from exc
