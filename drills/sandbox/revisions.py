"""A supervised program's revision history: what was deployed, in order, and which one is live.

The sandbox's own program table (`programs.build_programs`) is revision 1, the good build. A
deploy writes revision N+1 — only the deploy-time settings it adds to the program's environment,
never the table's own variables, which hold passwords — and then switches the `live` pointer to
it; a rollback switches the pointer back. Both files are replaced atomically (write, fsync,
rename), so a harness killed at any moment leaves either the old or the new state, never half
of one, and a crash between writing a revision and switching to it leaves the old one live.

The files are the record; supervisord runs what they say only once `LocalDeployer` has
rendered the configuration and reloaded it. `platform up` renders the table itself (revision 1),
so after one the live program is the good build whatever the pointer says, and the next undo
puts the pointer back in step without restarting anything.

A file that does not parse is an error naming the file and the field (`RevisionError`), never a
silent fallback: guessing which revision is good is how a broken build stays deployed.

    <state>/revisions/<program>/0001.json   {"revision": 1, "env": {}, "cause": "...", "at": ...}
    <state>/revisions/<program>/live.json   {"revision": 2}
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.errors import RevisionError

LIVE = "live.json"
LOCK = ".lock"
FILE_RE = re.compile(r"^(\d{4,})\.json$")
# Names of the environment a revision may set: AuditFlow's own settings only.
ENV_NAME_RE = re.compile(r"^AUDITFLOW_[A-Z0-9_]{1,64}$")
MAX_VALUE = 4096
MAX_REVISIONS = 9999


@dataclass(frozen=True)
class StoredRevision:
    """One revision as stored: its number, the environment it adds, why it was made, when."""

    number: int
    env: dict[str, str] = field(default_factory=dict)
    cause: str = ""
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.number, "env": self.env, "cause": self.cause, "at": self.at}


def _env(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise RevisionError(f"{where}: env: must be an object of strings, got {value!r:.80}")
    for name, text in value.items():
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            raise RevisionError(f"{where}: env: {name!r:.80} is not an AUDITFLOW_* variable name")
        if not isinstance(text, str) or len(text) > MAX_VALUE or "\x00" in text:
            raise RevisionError(f"{where}: env.{name}: must be a string (at most {MAX_VALUE})")
    return dict(value)


def _number(value: Any, where: str, name: str = "revision") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_REVISIONS:
        raise RevisionError(
            f"{where}: {name}: must be an integer 1..{MAX_REVISIONS}, got {value!r:.40}"
        )
    return value


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RevisionError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RevisionError(f"{path}: not JSON ({exc}); restore or delete the file") from exc
    if not isinstance(value, dict):
        raise RevisionError(f"{path}: must be a JSON object")
    return value


def _write_atomic(path: Path, value: Mapping[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(value, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


FIRST = StoredRevision(1, {}, "the sandbox's own program definition")


class RevisionStore:
    """The revision history of one program, in `directory` (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the history's lock: one rollout of a program at a time, across processes.

        A responder's `genesis-drill rollout undo` and the harness's own rollback can run at the
        same moment; interleaved, one's reload removes the process group the other is stopping.
        With the lock the second waits, then finds the good definition applied: a no-op.
        """
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:04d}.json"

    def _ensure(self) -> None:
        """Write revision 1 (the program table's own definition) and make it live, if there is
        no history yet. Only writers call this: reading a history that was never written
        creates nothing (a status or a dry run changes no file)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._path(1).exists():
            _write_atomic(self._path(1), FIRST.to_json())
        if not (self.directory / LIVE).exists():
            _write_atomic(self.directory / LIVE, {"revision": 1})

    def read(self, number: int) -> StoredRevision:
        path = self._path(number)
        if number == 1 and not path.exists() and not (self.directory / LIVE).exists():
            return FIRST  # no history yet: the program table's own definition
        if not path.exists():
            raise RevisionError(f"{path}: revision {number} does not exist")
        raw = _read_json(path)
        stored = _number(raw.get("revision"), str(path))
        if stored != number:
            raise RevisionError(f"{path}: revision: says {stored}, the file name says {number}")
        cause, at = raw.get("cause", ""), raw.get("at", 0.0)
        if not isinstance(cause, str):
            raise RevisionError(f"{path}: cause: must be a string")
        if not isinstance(at, int | float) or isinstance(at, bool):
            raise RevisionError(f"{path}: at: must be unix seconds")
        return StoredRevision(number, _env(raw.get("env"), str(path)), cause, float(at))

    def numbers(self) -> list[int]:
        if not self.directory.exists():
            return []
        found = (FILE_RE.match(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def live(self) -> StoredRevision:
        """The live revision (revision 1 while there is no history)."""
        path = self.directory / LIVE
        if not path.exists():
            return self.read(1)
        return self.read(_number(_read_json(path).get("revision"), str(path)))

    def write_next(self, env: Mapping[str, str], cause: str) -> StoredRevision:
        """Write revision N+1 (the live revision's environment plus `env`); not live yet."""
        base = self.live()
        self._ensure()
        number = max(self.numbers(), default=1) + 1
        if number > MAX_REVISIONS:
            raise RevisionError(f"{self.directory}: more than {MAX_REVISIONS} revisions")
        merged = _env({**base.env, **env}, f"{self._path(number)} (new)")
        revision = StoredRevision(number, merged, cause, time.time())
        _write_atomic(self._path(number), revision.to_json())
        return revision

    def activate(self, number: int) -> StoredRevision:
        """Make revision `number` live (it must exist and parse)."""
        revision = self.read(number)
        self._ensure()
        _write_atomic(self.directory / LIVE, {"revision": number})
        return revision
