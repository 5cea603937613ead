"""The harness's errors, each carrying the exit code the CLI ends with.

    GenesisError                  exit 1  (base; never raised bare)
    ├── InvalidInput              exit 2  bad file, field, flag or value
    │   ├── SpecError             a drill or game-day file is invalid (file:line: field: why)
    │   ├── ResultError           a run's result.json is not a result this harness can read
    │   └── DecodeError           a JSON value does not fit its type (drills.jsoncodec; the
    │                             caller re-raises it naming the file, as ResultError)
    ├── TargetError               exit 3  the platform cannot be reached, started or trusted
    │   ├── TemporaryError        worth retrying: unreachable, 5xx, 409 conflict, a timeout
    │   ├── PermanentError        retrying cannot help: 403 forbidden, 404 not found, 422 invalid
    │   ├── PreflightRefused      a precondition failed: the fault was not injected
    │   ├── MissingDependency     a Debian package / binary the sandbox needs is absent
    │   ├── PortBusy              a port of the sandbox's block is taken by someone else
    │   ├── ComponentFailed       a component did not become healthy
    │   ├── FaultProxyError       the sandbox's fault proxy refused or did not answer
    │   ├── SchedulerBusy         another scheduler of the same game-day plan holds the lock
    │   └── GitHubError           GitHub refused or could not answer (issue export)
    ├── Aborted                   exit 1  an abort condition ended the drill early; rolled back
    ├── ObservationError          exit 4  Prometheus (or another observer) cannot be read
    ├── RollbackFailed            exit 5  the harness could not undo what it did (loud)
    └── Interrupted               exit 130 Ctrl-C / SIGTERM

Temporary vs permanent (as kopf has it): a backend says which of the two a failure is where it
translates the third-party error, and `drills.retry` retries only the temporary kind; a plain
`TargetError` is neither and is not retried. Third-party exceptions are translated into these at
the boundary of the module that talks to the third party (supervisord's XML-RPC, psycopg, httpx,
the Kubernetes client), re-raised `from` the original, so the CLI maps every failure to one
message and one exit code — never a traceback. The codes of the errors a run can end with come
from `drills.outcome.Outcome`, so a run's outcome and the error behind it cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

from drills.outcome import Outcome


class GenesisError(Exception):
    """Base of every error the harness reports to a user."""

    exit_code = Outcome.ERROR.exit_code


class InvalidInput(GenesisError):
    """A file, field, flag or value is invalid; the message names it."""

    exit_code = 2


class SpecError(InvalidInput):
    """A drill file is invalid; the message is `file:line: field: why`."""

    def __init__(self, path: Path, line: int | None, field_path: str, why: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        self.path, self.line, self.field_path, self.why = path, line, field_path, why
        super().__init__(f"{where}: {field_path}: {why}" if field_path else f"{where}: {why}")


class TargetError(GenesisError):
    """The platform under test cannot be reached, started, stopped or trusted."""

    exit_code = Outcome.TARGET_ERROR.exit_code


class TemporaryError(TargetError):
    """A failure that may go away by itself (unreachable, 5xx, conflict): worth a retry.

    `delay` is the back-off the backend suggests (a Retry-After), or None for the default."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(TargetError):
    """A failure a retry cannot fix (forbidden, not found, invalid): fail at once."""


class OutcomesUnavailable(TargetError):
    """The generator gave no usable per-seq publish outcomes (an older version without
    `/admin/outcomes`, a refused token, an answer that does not add up); the ledger falls back
    to its conservative accounting and records this message as the reason."""


class PreflightRefused(TargetError):
    """The steady state does not hold (or a precondition failed): the fault is not injected."""

    exit_code = Outcome.PREFLIGHT_REFUSED.exit_code


class MissingDependency(TargetError):
    """A program the sandbox needs is not installed; the message names its Debian package."""


class PortBusy(TargetError):
    """A port in the sandbox's block is already in use by a process the sandbox did not start."""


class FaultProxyError(TargetError):
    """The fault proxy's control channel (drills.netfault) refused a call or did not answer;
    `unreachable`: nothing listens on its port (no proxy running, so it holds no fault)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class ComponentFailed(TargetError):
    """A component did not become healthy in time; the message names it and its log file."""


class SchedulerBusy(TargetError):
    """Another scheduler of the same game-day plan already holds the lock."""


class RevisionError(TargetError):
    """A sandbox program revision file that cannot be trusted (drills.sandbox.revisions):
    `file: field: why`."""


class GitHubError(TargetError):
    """GitHub refused or could not answer a request (an external system failed)."""


class Aborted(GenesisError):
    """An abort condition (max duration, error budget, burn rate, SLI floor) ended the run
    early; rollback ran. The message names the condition, the value and when it fired."""

    exit_code = Outcome.ABORTED.exit_code


class ObservationError(GenesisError):
    """Prometheus or another observer could not be read."""

    exit_code = Outcome.OBSERVATION_ERROR.exit_code


class RollbackFailed(GenesisError):
    """The harness could not undo a fault: the platform may be left broken."""

    exit_code = Outcome.ROLLBACK_FAILED.exit_code


class Interrupted(GenesisError):
    """The user or the system asked the harness to stop (Ctrl-C, SIGTERM)."""

    exit_code = Outcome.INTERRUPTED.exit_code


class BadFile(InvalidInput):
    """A file the harness reads is unsafe or malformed (too big, not a regular file, not YAML);
    the message is `file:line: why` (drills/yamlio.py)."""

    def __init__(self, path: object, line: int | None, why: str) -> None:
        self.path, self.line, self.why = path, line, why
        super().__init__(f"{path}:{line}: {why}" if line else f"{path}: {why}")


class ResultError(InvalidInput):
    """A run's `result.json` does not hold a result of a known schema; the message is
    `file: field: why`, so a renamed or mistyped field fails loudly instead of reading as "n/a"."""

    def __init__(self, path: object, field_path: str, why: str) -> None:
        self.path, self.field_path, self.why = path, field_path, why
        super().__init__(f"{path}: {field_path}: {why}" if field_path else f"{path}: {why}")


class DecodeError(InvalidInput):
    """A JSON value does not fit the type it is read as; `field_path` says where (`alerts.fired[2]`,
    empty: the top). Raised by drills.jsoncodec, which does not know the file: its callers re-raise
    it naming the file (ResultError)."""

    def __init__(self, field_path: str, why: str) -> None:
        self.field_path, self.why = field_path, why
        super().__init__(f"{field_path}: {why}" if field_path else why)
