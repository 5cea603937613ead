"""The client probe: what a user of the dashboard and a caller of the notification API saw while a
drill ran (DESIGN.md §4, client-observed unavailability).

Prometheus shows what the services *report*; a dead dashboard reports nothing, and its 5xx rate
is exactly the series that goes missing. So from the baseline to the end of recovery the harness
itself requests, at a fixed rate per API, the dashboard page (`/`), the dashboard's event API
(`/api/events/recent`, which reads PostgreSQL) and the notification service's alert list
(`/api/v1/alerts`, SQLite). All three are read-only GETs that need no credentials, so the probe
carries no secret. Each outcome is recorded (drills.unavailability.Attempt); the windows are
computed afterwards by the pure drills.unavailability and land on the result.

Bounded in every direction, because it runs beside a drill on a small machine and must never be
the thing that hurts the platform or outlives the run:

* a fixed rate (RATE_PER_S per API; the drill's `client_probe.rate_per_s`), a tick missed while
  the harness was busy is skipped, never fired in a burst;
* each request is cut off after TIMEOUT_S in total (not per connect/read phase, as httpx's own
  timeout is), and at most MAX_IN_FLIGHT requests per API wait at once;
* a hard cap on requests (MAX_REQUESTS) and on duration (the drill's maximum plus a margin);
* only loopback or in-cluster (`*.svc`) URLs, and no proxy from the environment;
* one daemon thread running one asyncio loop, started when the baseline begins
  (`on_phase("baseline")`), stopped at "verify" and again — idempotently, joined with a bound —
  in the runner's `finally`, so success, abort, a failure and Ctrl-C all stop it.

TIMEOUT_S is 2 s, not 1: the dashboard page answers within about its 1 s dependency timeout when
a dependency hangs (with a banner) — degraded, not unavailable — and a 1 s client timeout would
count every such page as a failure.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from drills.results import utc
from drills.run_state import RunState
from drills.spec import DrillSpec
from drills.targets.base import Endpoints
from drills.unavailability import (
    TIMEOUT,
    UNREACHABLE,
    ApiUnavailability,
    Attempt,
    ClientUnavailability,
    FaultWindow,
    summarize,
)

RATE_PER_S = 5.0
TIMEOUT_S = 2.0
MAX_REQUESTS = 30_000  # all APIs together: 15 requests/s for over half an hour
DURATION_MARGIN_S = 60.0  # beyond the drill's own maximum duration
STOP_POLL_S = 0.1  # how soon a stop request is noticed
JOIN_TIMEOUT_S = 5.0
START_PHASE = "baseline"
STOP_PHASE = "verify"  # recovery (and the wait for late alerts) has ended
PROBE_FILE = "client-probe.json"


@dataclass(frozen=True)
class ProbedApi:
    """One API the client requests; `refused` says why it is not probed, when it is not."""

    name: str
    url: str
    refused: str = ""


def apis_of(endpoints: Endpoints) -> tuple[ProbedApi, ...]:
    """The dashboard page and API and the notification API, from the target's endpoints."""
    dashboard = endpoints.dashboard_url.rstrip("/")
    notification = endpoints.notification_url.rstrip("/")
    wanted = (
        ("dashboard page", dashboard, "/"),
        ("dashboard API", dashboard, "/api/events/recent?limit=1"),
        ("notification API", notification, "/api/v1/alerts?limit=1"),
    )
    return tuple(
        ProbedApi(name, base + path if base else "", _refusal(base)) for name, base, path in wanted
    )


def _refusal(base: str) -> str:
    """Why `base` must not be probed ("" when it may): only loopback and in-cluster hosts."""
    if not base:
        return "the target gives no URL for it"
    try:
        url = httpx.URL(base)
    except (httpx.InvalidURL, TypeError, ValueError):
        return f"not a URL: {base!r}"
    host = url.host.lower()
    if url.scheme not in ("http", "https") or not host:
        return f"not an http(s) URL: {base!r}"
    if host == "localhost" or host.endswith((".svc", ".svc.cluster.local")):
        return ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return ""
    except ValueError:
        pass
    return f"{host} is neither a loopback nor an in-cluster (*.svc) host"


class ClientProber:
    """Requests each API at a fixed rate in one background thread, recording every outcome."""

    def __init__(
        self,
        apis: Sequence[ProbedApi],
        *,
        rate_per_s: float = RATE_PER_S,
        timeout_s: float = TIMEOUT_S,
        max_requests: int = MAX_REQUESTS,
        max_duration_s: float = 3600.0,
        enabled: bool = True,
    ) -> None:
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError(f"rate_per_s must be a finite number > 0, got {rate_per_s!r}")
        self.apis = tuple(apis)
        self.rate_per_s, self.timeout_s = rate_per_s, timeout_s
        self.max_requests, self.max_duration_s = max_requests, max_duration_s
        self.enabled = enabled
        self.max_in_flight = math.ceil(rate_per_s * timeout_s) + 1
        self.attempts: dict[str, list[Attempt]] = {api.name: [] for api in self.apis}
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.notes: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def on_phase(self, phase: str) -> None:
        """The runner's phase hook: start with the baseline, stop when recovery has ended."""
        if phase == START_PHASE:
            self.start()
        elif phase == STOP_PHASE:
            self.stop()

    def start(self) -> None:
        """Start probing (once; a stopped prober stays stopped)."""
        if not self.enabled or self.started_at is not None:
            return
        self.started_at = time.time()
        if any(not api.refused for api in self.apis):
            self._thread = threading.Thread(target=self._main, name="client-probe", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop and join, bounded; idempotent, safe before start and from a `finally`."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():  # a daemon: it cannot keep the process alive
                self.notes.append(f"the probe thread did not end within {JOIN_TIMEOUT_S:g} s")
        if self.started_at is not None and self.stopped_at is None:
            self.stopped_at = time.time()

    def summary(self, fault: FaultWindow) -> ClientUnavailability:
        """The findings so far (call after `stop`)."""
        apis = tuple(
            ApiUnavailability(api.name, api.url, 0, 0, 0, 0.0, 0, (), f"not probed: {api.refused}")
            if api.refused
            else summarize(api.name, api.url, self.attempts[api.name], fault)
            for api in self.apis
        )
        return ClientUnavailability(
            rate_per_s=self.rate_per_s,
            timeout_s=self.timeout_s,
            started_at=utc(self.started_at),
            stopped_at=utc(self.stopped_at),
            fault_from=utc(fault.start),
            fault_until=utc(fault.end),
            apis=apis,
            note="; ".join(dict.fromkeys(self.notes)),
        )

    def to_json(self) -> dict[str, Any]:
        """Every request, compactly: [sent_at (unix s), elapsed_s, status (0 timeout,
        -1 unreachable)] per API, for a reader who wants more than the windows."""
        return {
            "rate_per_s": self.rate_per_s,
            "timeout_s": self.timeout_s,
            "status_codes": {"timeout": TIMEOUT, "unreachable": UNREACHABLE},
            "apis": [
                {
                    "name": api.name,
                    "url": api.url,
                    "refused": api.refused,
                    "attempts": [list(a) for a in sorted(self.attempts[api.name])],
                }
                for api in self.apis
            ],
        }

    # --- the thread ------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._probe_all())
        except Exception as exc:  # a prober bug must never break the drill: it is a note
            self.notes.append(f"the client probe failed: {type(exc).__name__}: {exc}")

    async def _probe_all(self) -> None:
        limits = httpx.Limits(max_connections=self.max_in_flight * len(self.apis))
        # trust_env=False: no proxy from the environment; the probe talks to loopback only.
        # httpx's own timeout is per phase (connect, read, ...) and a little longer, so that the
        # total one in `_request` is what cuts a request off (and reads as a timeout).
        async with httpx.AsyncClient(
            timeout=self.timeout_s + 1, limits=limits, trust_env=False, follow_redirects=False
        ) as client:
            await asyncio.gather(
                *(self._probe_one(client, api) for api in self.apis if not api.refused)
            )

    async def _probe_one(self, client: httpx.AsyncClient, api: ProbedApi) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate_per_s
        deadline = loop.time() + self.max_duration_s
        next_at = loop.time()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not self._stop.is_set():
                now = loop.time()
                if now >= deadline:
                    self.notes.append(f"probing stopped at its {self.max_duration_s:g} s cap")
                    break
                if self.sent >= self.max_requests:
                    self.notes.append(f"probing stopped at its cap of {self.max_requests} requests")
                    break
                if now < next_at:
                    await asyncio.sleep(min(next_at - now, STOP_POLL_S))
                    continue
                if len(in_flight) < self.max_in_flight:
                    self.sent += 1
                    task = asyncio.create_task(self._request(client, api))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                # A tick missed while the loop was held up is skipped, not caught up in a burst.
                next_at = max(next_at + period, now)
        finally:
            pending = list(in_flight)
            if self._stop.is_set():  # asked to stop: an unanswered request is not recorded
                for task in pending:
                    task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)  # at most TIMEOUT_S

    async def _request(self, client: httpx.AsyncClient, api: ProbedApi) -> None:
        sent, began = time.time(), time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):  # in total, not per phase
                status = (await client.get(api.url)).status_code
        except (TimeoutError, httpx.TimeoutException):
            status = TIMEOUT
        # httpx.HTTPError, and anything else a transport raises (an httpcore error httpx could
        # not map): whatever it is, the client got no answer, and a request task must not raise.
        except Exception:
            status = UNREACHABLE
        elapsed = round(time.monotonic() - began, 3)
        self.attempts[api.name].append(Attempt(round(sent, 3), elapsed, status))


def for_run(spec: DrillSpec, endpoints: Endpoints, max_duration_s: float) -> ClientProber:
    """The prober of one run, as the drill configures it, bounded by the run's own duration."""
    return ClientProber(
        apis_of(endpoints),
        rate_per_s=spec.client_probe.rate_per_s,
        max_duration_s=max_duration_s + DURATION_MARGIN_S,
        enabled=spec.client_probe.enabled,
    )


def fault_window(state: RunState) -> FaultWindow:
    """[t_inject, the later of recovered and the component ready again — else rolled back];
    open-ended when the fault was never undone. The component's return counts: a fault whose
    SLIs never broke (a dashboard killed: TTR 0) still took the component away until then."""
    if state.injection is None:
        return FaultWindow(None, None)
    recovered = state.result.recovered_at
    ready = state.fault_report.ready_at if state.fault_report is not None else None
    ends = [t for t in (recovered.timestamp() if recovered else None, ready) if t is not None]
    end = max(ends) if ends else state.rolled_back_at
    return FaultWindow(state.injection.at, end)


def conclude(prober: ClientProber, state: RunState, run_dir: Path) -> None:
    """Stop probing, save every request and put the findings on the result. Runs in the
    runner's `finally`, so it never raises: a failure is a note on the run."""
    try:
        prober.stop()
        if prober.started_at is None:
            return
        summary = prober.summary(fault_window(state))
        (run_dir / PROBE_FILE).write_text(json.dumps(prober.to_json()) + "\n")
        state.result = replace(state.result, client_unavailability=summary)
    except Exception as exc:  # must not mask the run's own outcome
        state.notes.append(f"client probe: {type(exc).__name__}: {exc}")
