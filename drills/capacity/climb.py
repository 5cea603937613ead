"""The capacity climb: step the generator's rate, measure each step, stop at the first that fails.

Where each figure comes from, and how precise it is:
- offered rate: the generator's own pacing (`POST /admin/rate`);
- confirmed per second: the generator's broker-confirmed counter (exact) over the step's
  monotonic seconds;
- buffer peak: the generator's `buffered`, polled every second (a peak between polls is missed);
- stored per second, share stored within the SLO threshold, p99: the analysis service's
  `event_processing_duration_seconds` histogram through Prometheus, `increase()` over the step
  (Prometheus extrapolates to the window's edges: about one scrape interval of the step);
- CPU and memory: drills.capacity.usage (/proc locally: one clock tick per process).
Prometheus is queried a scrape interval after the step ends, while the rate still holds, so the
step's last samples are in the window.

The climb never leaves the generator at a rate it set: whatever ends it — a failed step, the
last step, Ctrl-C, SIGTERM or an error — the rate in force before it is restored, then the
generator's buffer is drained and every event generated during the climb is accounted for in
PostgreSQL (drills.reconcile), as a drill's ledger is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from drills.capacity.analysis import ComponentStep, Step
from drills.capacity.plan import Plan, judge_step
from drills.capacity.usage import Reading, UsageSource
from drills.ledger import GeneratorMark, Ledger
from drills.slo import LatencySlo

HISTOGRAM = "event_processing_duration_seconds"
DEAD_LETTERED = "sum(events_dead_lettered_total)"
SCRAPE_WAIT_S = 2.0  # one scrape interval (1 s) and Prometheus' ingestion
Progress = Callable[[str, Mapping[str, Any]], None]


class Generator(Protocol):
    def mark(self) -> GeneratorMark: ...

    def set_rate(self, rate: float) -> None: ...

    def wait_drained(self, timeout: float) -> GeneratorMark: ...


class Prometheus(Protocol):
    def value(self, query: str) -> float | None: ...


Reconcile = Callable[[GeneratorMark, GeneratorMark, int], Ledger]


@dataclass
class Climb:
    """What the climb found so far (a stopped climb keeps the steps it measured)."""

    plan: Plan
    previous_rate: float
    load_before: float | None  # events stored per second before the climb (Prometheus)
    steps: list[Step] = field(default_factory=list)
    ledger: Ledger | None = None
    stopped: str = ""  # why the climb ended before its last step ("" when it did not)
    started_at: float = 0.0
    finished_at: float = 0.0


def step_queries(seconds: float, threshold_s: float) -> dict[str, str]:
    """The PromQL of one step's latency figures over the last `seconds`."""
    window = f"[{max(round(seconds), 2)}s]"
    bucket = f'{HISTOGRAM}_bucket{{le="{threshold_s:g}"}}'
    return {
        "stored": f"sum(increase({HISTOGRAM}_count{window}))",
        "within": f"sum(increase({bucket}{window}))",
        "p99": f"histogram_quantile(0.99, sum by (le) (increase({HISTOGRAM}_bucket{window})))",
    }


def _components(
    before: Mapping[str, Reading], after: Mapping[str, Reading], seconds: float, events: int
) -> dict[str, ComponentStep]:
    found = {}
    for name, end in after.items():
        start = before.get(name)
        if start is None or end.cpu_seconds < start.cpu_seconds:  # restarted in the step
            continue
        used = end.cpu_seconds - start.cpu_seconds
        found[name] = ComponentStep(
            cpu_cores=used / seconds if seconds > 0 else 0.0,
            ceiling_cores=end.ceiling_cores,
            cpu_us_per_event=1e6 * used / events if events > 0 else None,
            rss_bytes=end.rss_bytes,
        )
    return found


def measure_step(
    rate: float,
    plan: Plan,
    slo: LatencySlo,
    generator: Generator,
    prometheus: Prometheus,
    usage: UsageSource,
    stop: threading.Event,
    progress: Progress,
    clock: Callable[[], float],
) -> Step | None:
    """Hold `rate` for one step and measure it; None when `stop` was set before it finished.
    Every wait is `stop.wait`, so a stop request ends the step within a second."""
    generator.set_rate(rate)
    if stop.wait(plan.settle_s):
        return None
    start, first, used = clock(), generator.mark(), usage.read()
    peak = first.buffered
    while (elapsed := clock() - start) < plan.step_s:
        if stop.wait(min(1.0, plan.step_s - elapsed)):
            return None
        mark = generator.mark()
        peak = max(peak, mark.buffered)
        seconds = clock() - start
        progress(
            "step-progress",
            {
                "rate": rate,
                "seconds": seconds,
                "of": plan.step_s,
                "confirmed_per_s": (mark.confirmed - first.confirmed) / max(seconds, 1e-9),
                "buffered": mark.buffered,
            },
        )
    end, last, used_after = clock(), generator.mark(), usage.read()
    seconds = end - start
    if stop.wait(SCRAPE_WAIT_S):
        return None
    window_s = max(round(clock() - start), 2)  # the queries' range, whole seconds
    queries = step_queries(window_s, slo.threshold_s)
    figures = {name: prometheus.value(query) for name, query in queries.items()}
    stored, within = figures["stored"] or 0.0, figures["within"]
    share = within / stored if stored > 0 and within is not None else None
    confirmed = last.confirmed - first.confirmed
    verdict = judge_step(
        rate,
        confirmed / seconds,
        peak,
        stored,
        share,
        slo.objective,
        slo.threshold_s,
    )
    components = _components(used, used_after, seconds, confirmed)
    return Step(
        offered=rate,
        seconds=seconds,
        confirmed_per_s=confirmed / seconds,
        stored_per_s=stored / window_s,
        peak_buffer=peak,
        share_within=share,
        p99_s=figures["p99"],
        held=verdict.held,
        why=verdict.why,
        components=components,
        machine_cores=sum(c.cpu_cores for c in components.values()),
    )


def climb(
    plan: Plan,
    slo: LatencySlo,
    generator: Generator,
    prometheus: Prometheus,
    usage: UsageSource,
    reconcile: Reconcile,
    stop: threading.Event,
    progress: Progress,
    drain_timeout_s: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> Climb:
    """Run the climb (module docstring); always restores the previous rate and counts the ledger."""
    before = generator.mark()
    load = prometheus.value(f"sum(rate({HISTOGRAM}_count[1m]))")
    result = Climb(plan, before.rate, load, started_at=time.time())
    dead_before = prometheus.value(DEAD_LETTERED) or 0.0
    try:
        rates = plan.rates()
        for index, rate in enumerate(rates):
            progress("step-start", {"rate": rate, "index": index + 1, "total": len(rates)})
            step = measure_step(
                rate, plan, slo, generator, prometheus, usage, stop, progress, clock
            )
            if step is None:
                result.stopped = "stopped by the user (Ctrl-C / SIGTERM)"
                break
            result.steps.append(step)
            progress("step-end", {"step": step})
            if not step.held:
                break
    finally:
        generator.set_rate(before.rate)
        progress("restored", {"rate": before.rate})
        after = generator.wait_drained(drain_timeout_s)
        dead = max(0, round((prometheus.value(DEAD_LETTERED) or 0.0) - dead_before))
        result.ledger = reconcile(before, after, dead)
        result.finished_at = time.time()
    return result
