"""The logs capability: a target's components' log lines from a moment on, with its secrets.

Why a capability and not a `Target` method: reading logs is evidence for the post-mortem, not an
action on the platform, and not every target can (the fake has none to read). A target that can
(`HasLogs`) hands back each component's lines as it stores them — the local sandbox's log files,
Kubernetes' pod logs — plus the secrets it knows, so that `drills.log_evidence` can redact them by
value; `collect` turns them into the run's `LogEvidence` or says why there is none. Bounded: each
source is read from the window's start for at most `max_bytes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from drills.errors import TargetError
from drills.log_evidence import (
    LOG_EVIDENCE_NAME,
    MAX_BYTES_PER_SOURCE,
    LogEvidence,
    Source,
    summarise,
)
from drills.secret import Secret


@dataclass(frozen=True)
class LogRead:
    """What a target read: one `Source` per component log, its secrets, and what it could not."""

    sources: Sequence[Source]
    secrets: Sequence[Secret] = ()
    note: str = ""


@runtime_checkable
class HasLogs(Protocol):
    """A target whose components' logs can be read."""

    def read_logs(self, since: float, until: float, max_bytes: int) -> LogRead:
        """Each component's lines from about `since` (unix seconds) on; raises TargetError."""
        ...


def collect(
    target: object, start: float, end: float, max_bytes: int = MAX_BYTES_PER_SOURCE
) -> LogEvidence:
    """The log evidence of [start, end] on `target`; never raises for a target's failure."""
    if not isinstance(target, HasLogs):
        name = getattr(target, "name", "?")
        return LogEvidence.unavailable(
            f"log evidence is not available on target {name!r}: it cannot read logs", (start, end)
        )
    try:
        read = target.read_logs(start, end, max_bytes)
        return summarise(read.sources, start, end, read.secrets, read.note)
    except TargetError as exc:
        return LogEvidence.unavailable(f"the logs could not be read: {exc}", (start, end))


def save(target: object, start: float, end: float, run_dir: Path) -> str:
    """Write the run's `log-evidence.json`; return a note for the run's reason when it could not
    be written ("" when it was). Evidence only: a failure to gather it is written down in the
    file and never changes the run's outcome."""
    try:
        evidence = collect(target, start, end)
    except Exception as exc:  # a bug here must not cost the run its result
        evidence = LogEvidence.unavailable(
            f"log evidence could not be gathered: {type(exc).__name__}: {exc}", (start, end)
        )
    try:
        evidence.write(run_dir)
    except OSError as exc:
        return f"could not write {LOG_EVIDENCE_NAME}: {exc}"
    return ""
