"""The live part of a drill: the baseline under load, watching while the fault is held, and
waiting for recovery — polling Prometheus about once a second, feeding the live view, and
checking the abort conditions (drills.abort) at every sample.

What is seen here decides only *when* to move on; the figures are computed afterwards from range
data (drills.measurement), never from what the polling happened to see.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

from drills.abort import AbortCheck, Trip
from drills.clock import SYSTEM_CLOCK, Clock
from drills.errors import Aborted, ObservationError, PreflightRefused
from drills.faults.base import FaultContext
from drills.run_state import STEP_S, Listener, holds, probe_values
from drills.seams import Observer
from drills.spec import DrillSpec

# Imported by the ledger only at the end of a drill; not at start-up, where they were half of
# the harness's import time (psycopg ~0.3 s of CPU on the VM, seconds of wall on a busy one).
WARM_IMPORTS = ("psycopg",)
# How long after the injection a drill without a TTD objective waits for its expected alerts.
DETECTION_WAIT_S = 60.0


def warm_imports() -> None:
    """Import the end-of-drill modules in the background while the baseline waits.

    The baseline is 8+ s of sleeping between Prometheus probes, so the import costs no wall time
    there; a failure is left for the real import to report where it happens.
    """

    def load() -> None:
        for name in WARM_IMPORTS:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="warm-imports", daemon=True).start()


def baseline(
    spec: DrillSpec,
    observer: Observer,
    listener: Listener,
    started: float,
    deadline: float,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Run load for the baseline period; the steady state must then hold K samples in a row."""
    baseline_end = clock.now() + spec.load.baseline_s
    give_up = baseline_end + max(20.0, spec.load.baseline_s)
    streak = 0
    last_broken: tuple[float, list[str]] | None = None
    while True:
        values = probe_values(spec, observer)
        listener("tick", {"elapsed": clock.now() - started, "slis": values})
        # A measured 0.0 is a value (an empty queue holds `max: 1000`), not a missing one.
        broken = [
            f"{p.name}={'no data' if value is None else f'{value:g}'} "
            f"(wanted {p.tolerance.describe()})"
            for p in spec.steady_state
            if (value := values[p.name]) is None or not p.tolerance.holds(value)
        ]
        streak = 0 if broken else streak + 1
        now = clock.now()
        if broken:
            last_broken = (now, broken)
        if now >= baseline_end and streak >= spec.recovery_samples:
            return
        if now > give_up or now > deadline:
            if not broken and last_broken is not None:  # it flapped: say what broke last
                at, what = last_broken
                broken = [
                    f"it held only {streak} of {spec.recovery_samples} samples in a row; "
                    f"{now - at:.0f} s before giving up: " + "; ".join(what)
                ]
            raise PreflightRefused(
                "the steady-state hypothesis does not hold under baseline load: "
                + "; ".join(broken or ["it did not hold for long enough"])
            )
        # The last probe falls on the end of the baseline, not up to a step after it.
        clock.sleep(min(STEP_S, baseline_end - now) if now < baseline_end else STEP_S)


def watch_while(
    action: Callable[[], None],
    spec: DrillSpec,
    observer: Observer,
    ctx: FaultContext,
    checker: AbortCheck,
    t_inject: float,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Run the fault's hold in a thread while ticking the live view; the first abort condition
    that trips stops the hold (and the caller's `finally` rolls back at once)."""
    errors: list[BaseException] = []
    held = threading.Event()  # set when the hold returns: ends the step's wait early

    def target() -> None:
        try:
            action()
        except BaseException as exc:  # re-raised in the runner's thread
            errors.append(exc)
        finally:
            held.set()

    worker = threading.Thread(target=target, name="fault-hold", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            values = tick(spec, observer, ctx.emit, checker.started, clock)
            trip = checker.check(observer, clock.now(), t_inject, values)
            if trip is not None:
                ctx.stop.set()
                worker.join(10)
                raise aborted(trip, ctx, "while holding the fault")
            clock.wait(STEP_S, held)
        worker.join()
    except KeyboardInterrupt:
        ctx.stop.set()
        worker.join(10)
        raise
    if errors:
        raise errors[0]


def aborted(trip: Trip, ctx: FaultContext, where: str) -> Aborted:
    """Journal the trip and turn it into the exception that ends the drill (rollback follows)."""
    ctx.journal.append(trip.journal_record(phase=where))
    ctx.emit("abort", trip.record())
    return Aborted(f"{trip.describe()}, {where}")


def tick(
    spec: DrillSpec,
    observer: Observer,
    listener: Listener,
    started: float,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, float | None]:
    """One live-view sample while the fault is held: the probes and the firing alerts."""
    try:
        values = probe_values(spec, observer)
        firing = sorted(firing_now(observer, clock))
    except ObservationError:
        values, firing = {}, ["(Prometheus unreachable)"]
    listener("tick", {"elapsed": clock.now() - started, "slis": values, "firing": firing})
    return values


def await_recovery(
    spec: DrillSpec,
    observer: Observer,
    ctx: FaultContext,
    checker: AbortCheck,
    t_inject: float,
    clock: Clock = SYSTEM_CLOCK,
) -> float | None:
    """Wait (live, bounded) until the steady state holds K samples and the backlog is drained;
    the abort conditions still apply. The figure itself is computed afterwards from range data."""
    limit = t_inject + (spec.objectives.max_ttr_s or 120.0) * 2 + 30
    streak = 0
    while clock.now() < limit:
        values = probe_values(spec, observer)
        backlog = observer.value(spec.backlog_query) if spec.backlog_query else 0.0
        drained = backlog is not None and backlog <= spec.backlog_max
        ctx.emit(
            "tick",
            {"elapsed": clock.now() - checker.started, "slis": values, "backlog": backlog},
        )
        trip = checker.check(observer, clock.now(), t_inject, values)
        if trip is not None:
            raise aborted(trip, ctx, "while awaiting recovery")
        streak = streak + 1 if holds(spec, values) and drained else 0
        if streak >= spec.recovery_samples:
            return clock.now()
        clock.sleep(STEP_S)
    return None


def await_detection(
    spec: DrillSpec,
    observer: Observer,
    ctx: FaultContext,
    checker: AbortCheck,
    t_inject: float,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """After recovery, keep observing until every expected alert has fired since the injection,
    or until the TTD objective (DETECTION_WAIT_S without one) has passed.

    A short fault can recover before its alert's `for:` has elapsed (40 malformed events are
    dead-lettered in under a second; DeadLetterRateHigh fires 5 s later): ending the
    observation at recovery would call a detection that arrives within the objective a miss.
    """
    if not spec.expected_alerts:
        return
    wanted = set(spec.expected_alerts)
    limit = min(
        t_inject + (spec.objectives.max_ttd_s or DETECTION_WAIT_S) + 2 * STEP_S, checker.deadline
    )
    while True:
        now = clock.now()
        fired = set()
        for series in observer.range('ALERTS{alertstate="firing"}', t_inject, now, STEP_S):
            if any(t >= t_inject and v == 1 for t, v in series.samples):
                fired.add(series.labels.get("alertname", "?"))
        if wanted <= fired or now >= limit:
            return
        ctx.emit(
            "tick",
            {"elapsed": now - checker.started, "firing": sorted(fired)},
        )
        trip = checker.check(observer, now, t_inject)
        if trip is not None:
            raise aborted(trip, ctx, "while awaiting detection")
        clock.sleep(min(STEP_S, max(0.0, limit - now)))


def firing_now(observer: Observer, clock: Clock = SYSTEM_CLOCK) -> set[str]:
    """The alerts firing in Prometheus right now (the last two seconds of ALERTS)."""
    firing = set()
    now = clock.now()
    for series in observer.range('ALERTS{alertstate="firing"}', now - 2, now, 1):
        if series.samples:
            firing.add(series.labels.get("alertname", "?"))
    return firing
