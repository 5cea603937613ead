"""The harness's errors, each carrying the exit code the CLI ends with.

    GenesisError                  exit 1  (base; never raised bare)
    ├── InvalidInput              exit 2  bad file, field, flag or value
    ├── TargetError               exit 3  the platform cannot be reached, started or trusted
    │   ├── MissingDependency     a Debian package / binary the sandbox needs is absent
    │   ├── PortBusy              a port of the sandbox's block is taken by someone else
    │   ├── ComponentFailed       a component did not become healthy
    │   └── GitHubError           GitHub refused or could not answer (issue export)
    ├── ObservationError          exit 4  Prometheus (or another observer) cannot be read
    ├── RollbackFailed            exit 5  the harness could not undo what it did (loud)
    └── Interrupted               exit 130 Ctrl-C / SIGTERM

Third-party exceptions are translated into these at the boundary of the module that talks to the
third party (supervisord's XML-RPC, psycopg, httpx), re-raised `from` the original, so the CLI maps
every failure to one message and one exit code — never a traceback.
"""

from __future__ import annotations


class GenesisError(Exception):
    """Base of every error the harness reports to a user."""

    exit_code = 1


class InvalidInput(GenesisError):
    """A file, field, flag or value is invalid; the message names it."""

    exit_code = 2


class TargetError(GenesisError):
    """The platform under test cannot be reached, started, stopped or trusted."""

    exit_code = 3


class MissingDependency(TargetError):
    """A program the sandbox needs is not installed; the message names its Debian package."""


class PortBusy(TargetError):
    """A port in the sandbox's block is already in use by a process the sandbox did not start."""


class ComponentFailed(TargetError):
    """A component did not become healthy in time; the message names it and its log file."""


class GitHubError(TargetError):
    """GitHub refused or could not answer a request (an external system failed)."""


class ObservationError(GenesisError):
    """Prometheus or another observer could not be read."""

    exit_code = 4


class RollbackFailed(GenesisError):
    """The harness could not undo a fault: the platform may be left broken."""

    exit_code = 5


class Interrupted(GenesisError):
    """The user or the system asked the harness to stop (Ctrl-C, SIGTERM)."""

    exit_code = 130


class BadFile(InvalidInput):
    """A file the harness reads is unsafe or malformed (too big, not a regular file, not YAML);
    the message is `file:line: why` (drills/yamlio.py)."""

    def __init__(self, path: object, line: int | None, why: str) -> None:
        self.path, self.line, self.why = path, line, why
        super().__init__(f"{path}:{line}: {why}" if line else f"{path}: {why}")
