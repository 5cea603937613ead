"""The harness's one retry helper: bounded back-off for temporary errors only.

Why one helper: rollback, fault actions and backend calls used to carry their own
`for attempt in range(...)` loops that retried every error alike — a 403 or a 404 three times, as
if waiting could grant a permission. Here a failure is retried only when it is *temporary*
(`drills.errors.TemporaryError`, or an OSError such as a refused connection or a timeout); a
`PermanentError` or any other error is raised at once. The sleep is a seam, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from drills.errors import PermanentError, TemporaryError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """At most `attempts` tries, waiting `first_s`, then doubling, never more than `max_s`."""

    attempts: int = 3
    first_s: float = 1.0
    max_s: float = 8.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """The wait after failed try number `attempt` (0-based); a backend's hint, if bounded."""
        wanted = self.first_s * 2**attempt if hint is None else hint
        return max(0.0, min(wanted, self.max_s))


def is_temporary(exc: BaseException) -> bool:
    """Whether waiting and trying again may help."""
    if isinstance(exc, PermanentError):
        return False
    return isinstance(exc, TemporaryError | ConnectionError | TimeoutError)


def call(
    action: Callable[[], T],
    backoff: Backoff = Backoff(),
    *,
    on_error: Callable[[int, Exception, bool], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `action`, retrying temporary failures with bounded back-off.

    `on_error(attempt, exc, will_retry)` is told about every failure (the runner journals them).
    The last failure, or the first one that is not temporary, is re-raised as it was.
    """
    for attempt in range(backoff.attempts):
        try:
            return action()
        except Exception as exc:
            retry = is_temporary(exc) and attempt + 1 < backoff.attempts
            if on_error is not None:
                on_error(attempt, exc, retry)
            if not retry:
                raise
            sleep(backoff.delay(attempt, getattr(exc, "delay", None)))
    raise AssertionError("unreachable: Backoff.attempts must be >= 1")  # pragma: no cover
