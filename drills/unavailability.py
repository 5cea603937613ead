"""Client-observed unavailability (DESIGN.md §4): from the outcomes of a client's requests to the
windows in which an API did not answer, and whether each one is the fault's doing.

Pure on purpose: the prober (drills.client_probe) only records what each request got, and every
figure of the report is computed here, from those records, where a unit test can pin it down.

A window opens at the first failed request — an HTTP status outside 2xx, a timeout or a transport
error: what a client would count as "the API is down" — and closes at the next successful one.
Requests are ordered by the time they were *sent*, not answered: a request that timed out after
2 s says the API was not answering when it was sent, and a success sent 0.2 s later closes the
window then, whatever order the answers came back in. A window still open when probing stopped
has no end; its length is a lower bound, up to the last request sent.

The fault window is [t_inject, recovered, else rolled back]: failures inside it are what the
drill set out to cause; a window that does not overlap it (a flaky dashboard during the baseline,
a second outage after recovery) is reported as outside — the finding a drill should not explain
away. Failed requests sent outside it are counted too, since a window may start inside the fault
and last beyond recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

# `Attempt.status` for requests that got no HTTP status at all.
TIMEOUT = 0  # no answer within the request timeout
UNREACHABLE = -1  # connection refused or reset, or another transport error


class Attempt(NamedTuple):
    """One request: when it was sent (unix seconds), how long it took, what it got."""

    sent_at: float
    elapsed_s: float
    status: int  # the HTTP status, or TIMEOUT / UNREACHABLE

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Window:
    """One stretch of unavailability of one API."""

    start: datetime
    end: datetime | None  # the next success's send time; None: still failing at the end
    seconds: float  # end - start; for an open window, up to the last request sent
    failed: int  # failed requests in the window (timeouts included)
    timed_out: int
    outside_fault: bool  # the window does not overlap the fault window at all


@dataclass(frozen=True)
class ApiUnavailability:
    """What the client saw of one API."""

    name: str
    url: str
    requests: int
    failed: int
    timed_out: int
    unavailable_seconds: float  # the windows' lengths, summed
    failed_outside_fault: int  # failed requests sent outside the fault window
    windows: tuple[Window, ...]
    note: str = ""  # why there is nothing to report (not probed), when there is not


@dataclass(frozen=True)
class ClientUnavailability:
    """The client probe's findings for one run (`DrillResult.client_unavailability`)."""

    rate_per_s: float  # per API
    timeout_s: float
    started_at: datetime | None
    stopped_at: datetime | None
    fault_from: datetime | None  # t_inject; None: no fault was injected
    fault_until: datetime | None  # recovered (else rolled back); None: never ended
    apis: tuple[ApiUnavailability, ...]
    note: str = ""  # e.g. the request cap was reached

    def windows_outside_fault(self) -> int:
        return sum(1 for api in self.apis for w in api.windows if w.outside_fault)


class FaultWindow(NamedTuple):
    """[start, end] in unix seconds; start None: nothing injected; end None: never ended."""

    start: float | None
    end: float | None

    def contains(self, t: float) -> bool:
        if self.start is None or t < self.start:
            return False
        return self.end is None or t <= self.end

    def overlaps(self, start: float, end: float) -> bool:
        if self.start is None:
            return False
        return end >= self.start and (self.end is None or start <= self.end)


def _utc(ts: float) -> datetime:
    """Unix seconds as UTC, truncated to the millisecond `result.json` keeps (as
    `drills.results.utc`, which this module sits below)."""
    at = datetime.fromtimestamp(ts, UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def windows(attempts: Sequence[Attempt], fault: FaultWindow) -> list[Window]:
    """The unavailability windows of one API's requests (any order), in time order."""
    ordered = sorted(attempts, key=lambda a: a.sent_at)
    found: list[Window] = []
    failing: list[Attempt] = []
    for attempt in ordered:
        if not attempt.ok:
            failing.append(attempt)
            continue
        if failing:
            found.append(_window(failing, attempt.sent_at, True, fault))
            failing = []
    if failing:
        found.append(_window(failing, failing[-1].sent_at, False, fault))
    return found


def _window(failing: list[Attempt], end: float, closed: bool, fault: FaultWindow) -> Window:
    start = failing[0].sent_at
    return Window(
        start=_utc(start),
        end=_utc(end) if closed else None,
        seconds=round(end - start, 3),
        failed=len(failing),
        timed_out=sum(1 for a in failing if a.status == TIMEOUT),
        outside_fault=not fault.overlaps(start, end),
    )


def summarize(
    name: str, url: str, attempts: Sequence[Attempt], fault: FaultWindow
) -> ApiUnavailability:
    """One API's figures from its requests."""
    found = windows(attempts, fault)
    failed = [a for a in attempts if not a.ok]
    return ApiUnavailability(
        name=name,
        url=url,
        requests=len(attempts),
        failed=len(failed),
        timed_out=sum(1 for a in failed if a.status == TIMEOUT),
        unavailable_seconds=round(sum(w.seconds for w in found), 3),
        failed_outside_fault=sum(1 for a in failed if not fault.contains(a.sent_at)),
        windows=tuple(found),
    )
