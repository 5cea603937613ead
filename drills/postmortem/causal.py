"""The causal chain of one run: what the fault did, step by step, each step a measured figure.

A post-mortem that lists the injected fault and a check ("rabbitmq ready again: yes") as its
causes explains nothing. The chain walks from the fault to what users and the error budget felt:
broker stopped → steady state breached → alert firing → broker ready again (start-up of it) →
backlog drained → events over the latency threshold → share of the budget. Every link is an
explicit rule over `result.json` (`drills.results.DrillResult`), never free text: a rule returns
a `Link` with its figure, its time and the result field or query it came from, or `None` when
the result does not hold the figure — then the link is left out and the chain names it in
`missing`, so nothing is invented. Per fault kind the links come from `causal_kinds`; the links
every drill shares (breach, detection, recovery, backlog, budget, delay, clients, ledger) are
here. A composite drill's chain is each step's chain in order of injection, then the shared tail.
"""

from __future__ import annotations

import re
from datetime import datetime

from drills.backlog_peaks import BUFFER_PEAK, QUEUE_PEAK
from drills.postmortem.causal_kinds import KINDS, Rules
from drills.postmortem.causal_model import (
    Chain,
    Link,
    Scope,
    Segment,
    count,
    percent,
    seconds,
)
from drills.results import BacklogPeak, DrillResult, Phase, StepResult


def phase(result: DrillResult, name: str) -> Phase | None:
    return next((p for p in result.phases if p.name == name), None)


def backlog_peak_of(result: DrillResult, figure: str) -> BacklogPeak | None:
    """The recorded peak named `figure` (None: the run predates them, or never measured one)."""
    return next((p for p in result.backlog_peaks if p.figure == figure), None)


def _phase_link(result: DrillResult, name: str, text: str) -> Link | None:
    found = phase(result, name)
    if found is None or found.at is None or found.offset_s is None:
        return None
    return Link(
        text,
        f"T+{found.offset_s:.1f} s",
        found.at,
        f"result.json: phases[{name}] ({found.source})",
    )


# --- shared links ----------------------------------------------------------------------------


def slo_breach(scope: Scope, result: DrillResult) -> Link | None:
    """The steady state left tolerance — or, measured and absent, never did: a blind spot."""
    found = phase(result, "first SLO breach")
    if found is None:
        return None
    if found.at is None:
        return Link(
            "the steady-state probes never left tolerance while the fault was in effect",
            "no breach",
            None,
            f"result.json: phases[first SLO breach] ({found.source})",
        )
    return _phase_link(result, "first SLO breach", "the steady state left tolerance")


def detection(scope: Scope, result: DrillResult) -> Link | None:
    """The drill's expected alerts: the first firing and TTD, or that none fired."""
    alerts = result.alerts
    if alerts is None or not alerts.expected:
        return None
    if result.ttd_seconds is None:
        return Link(
            f"no expected alert fired ({', '.join(alerts.missed or alerts.expected)} missed)",
            "none fired",
            None,
            "result.json: alerts.first_firing_at",
        )
    firing = [(at, name) for name, at in alerts.first_firing_at.items() if at is not None]
    at, name = min(firing) if firing else (result.detected_at, ", ".join(alerts.fired))
    return Link(
        f"{name} firing{_against_breach(scope, result, at)}",
        f"TTD {seconds(result.ttd_seconds)}",
        at,
        "result.json: ttd_seconds",
    )


def _against_breach(scope: Scope, result: DrillResult, firing: datetime | None) -> str:
    """Whether the alert came before or after the steady state was breached — said only for
    a breach in this fault's window (a composite's later step came after the first breach)."""
    breach = phase(result, "first SLO breach")
    if breach is None or breach.at is None or firing is None:
        return ""
    if scope.injected_at is not None and breach.at < scope.injected_at:
        return ""
    return (
        ", after the steady state was already breached"
        if firing > breach.at
        else ", before the steady state was breached"
    )


def step_detection(scope: Scope, result: DrillResult) -> Link | None:
    """A composite step's own detection: its expected alerts after its own injection."""
    step = next((s for s in result.steps if s.name == scope.step), None)
    if step is None or not step.expected_alerts:
        return None
    where = f"result.json: steps[{step.name}].ttd_seconds"
    if step.ttd_seconds is None:
        missed = ", ".join(step.missed_alerts or step.expected_alerts)
        return Link(f"no expected alert fired ({missed} missed)", "none fired", None, where)
    fired = ", ".join(step.detected_alerts)
    against = _against_breach(scope, result, step.detected_at)
    return Link(
        f"{fired} firing{against}", f"TTD {seconds(step.ttd_seconds)}", step.detected_at, where
    )


def _peak_link(result: DrillResult, figure: str, what: str, unit: str) -> Link | None:
    """One backlog's peak over the fault window (drills.backlog_peaks), against its limit; a
    composite drill's names the step in effect when it was reached."""
    found = backlog_peak_of(result, figure)
    if found is None or found.peak is None:
        return None
    limit = found.limit
    share = f" ({percent(found.peak / limit)} of its {count(limit)})" if limit else ""
    at = found.at
    during = [s.name for s in result.steps if s.injected_at and at and s.injected_at <= at]
    step = f", during step {during[-1]}" if during else ""
    text = f"{what} the backlog{step}" if found.peak else f"{what} no backlog"
    return Link(
        text,
        f"peak {count(found.peak)} {unit}{share}",
        found.at,
        f"result.json: backlog_peaks[{figure}] ({found.source})",
    )


def buffer_peak(scope: Scope, result: DrillResult) -> Link | None:
    return _peak_link(result, BUFFER_PEAK, "the generator buffered", "events")


def queue_peak(scope: Scope, result: DrillResult) -> Link | None:
    return _peak_link(result, QUEUE_PEAK, "the analysis queue held", "messages ready")


def backlog_drained(scope: Scope, result: DrillResult) -> Link | None:
    return _phase_link(result, "backlog drained", "backlog drained")


def slo_restored(scope: Scope, result: DrillResult) -> Link | None:
    link = _phase_link(result, "SLO restored", "steady state back within tolerance")
    if link is None or result.ttr_seconds is None:
        return link
    return Link(
        f"{link.text} (time to recover {seconds(result.ttr_seconds)})",
        link.figure,
        link.at,
        link.source,
    )


# "6647 events slower than 0.5 s / budget of 10800 (1.00% of 300 events/s over 3600 s)":
# drills.budget.Consumed.describe, the harness's own words (never an event's or a log's).
_BUDGET = re.compile(
    r"^(?P<bad>\d+) events slower than (?P<threshold>[\d.]+ s) / budget of (?P<budget>\d+)"
    r"(?: \(.* over (?P<window>[^)]+)\))?"
)


def latency_budget(scope: Scope, result: DrillResult) -> Link | None:
    """Events over the latency threshold, and the share of the SLO's budget they spent."""
    share = result.error_budget_consumed
    if share is None:
        return None
    match = _BUDGET.match(result.error_budget_reason)
    if match is None:
        return Link(
            "latency error budget consumed",
            f"{share * 100:.2f} % of the budget",
            None,
            "result.json: error_budget_consumed",
        )
    window = f" over {match['window']}" if match["window"] else ""
    return Link(
        f"{count(int(match['bad']))} events slower than {match['threshold']}, out of a latency "
        f"error budget of {count(int(match['budget']))} events{window}",
        f"{share * 100:.2f} % of the budget",
        None,
        "result.json: error_budget_consumed, error_budget_reason",
    )


def user_delay(scope: Scope, result: DrillResult) -> Link | None:
    """What users waited, occurred → stored (the SLI leaves the buffered time out)."""
    delay = result.delay
    if delay is None or not delay.events or delay.p99_s is None or delay.max_s is None:
        return None
    return Link(
        f"users saw events late: occurred → stored p99 over {count(delay.events)} events "
        f"(max {delay.max_s:.3f} s)",
        f"p99 {delay.p99_s:.3f} s",
        None,
        "result.json: delay.p99_s, delay.max_s",
    )


def client_unavailability(scope: Scope, result: DrillResult) -> Link | None:
    """What the client probe saw of each API: the worst API's unavailable time, or none."""
    client = result.client_unavailability
    if client is None:
        return None
    measured = [api for api in client.apis if not api.note]
    if not measured:
        return None
    worst = max(measured, key=lambda api: api.unavailable_seconds)
    if worst.unavailable_seconds <= 0 and worst.failed == 0:
        names = ", ".join(api.name for api in measured)
        return Link(
            f"clients saw no failed request ({names})",
            "0 failed",
            None,
            "result.json: client_unavailability.apis[].failed",
        )
    return Link(
        f"{worst.name} unavailable to clients ({count(worst.failed)} failed requests)",
        seconds(worst.unavailable_seconds),
        worst.windows[0].start if worst.windows else None,
        f"result.json: client_unavailability.apis[{worst.name}].unavailable_seconds",
    )


def ledger(scope: Scope, result: DrillResult) -> Link | None:
    """The end of the chain for the data: every confirmed event stored once, or not."""
    found = result.ledger
    if found is None or found.note:
        return None
    return Link(
        f"{count(found.confirmed)} events confirmed, {count(found.stored)} stored, "
        f"{count(found.duplicated)} duplicated",
        f"{count(found.lost)} lost",
        None,
        "result.json: ledger",
    )


# The tail every injected drill shares, after its fault's (or its steps') own links.
SHARED: Rules = (
    ("generator buffer peak", buffer_peak),
    ("analysis queue peak", queue_peak),
    ("backlog drained", backlog_drained),
    ("steady state restored", slo_restored),
    ("events over the latency threshold and the budget they spent", latency_budget),
    ("delay users saw", user_delay),
    ("client-observed unavailability", client_unavailability),
    ("event ledger", ledger),
)


def in_time_order(links: list[Link]) -> list[Link]:
    """Time-stamped links by time; a link without a time stays right after the one before it
    (it happened as a consequence of it), so the chain reads the way the run unfolded."""
    keyed = []
    last = None
    for index, link in enumerate(links):
        last = link.at or last
        keyed.append((last.timestamp() if last else float("-inf"), index, link))
    return [link for _, _, link in sorted(keyed, key=lambda k: (k[0], k[1]))]


def apply(rules: Rules, scope: Scope, result: DrillResult, by_time: bool = True) -> Segment:
    """The links whose figures the result holds, in time order unless `by_time` is off (the
    shared tail is in causal order already); the names of those it does not."""
    links: list[Link] = []
    missing: list[str] = []
    for name, rule in rules:
        link = rule(scope, result)
        if link is None:
            missing.append(name)
        else:
            links.append(link)
    if by_time:
        links = in_time_order(links)
    title = f"{scope.kind} on {scope.component}" if scope.component else scope.kind
    if scope.step:
        title = f"step {scope.step}: {title}"
    return Segment(title, tuple(links), tuple(missing))


BREACH: Rules = (("first SLO breach", slo_breach),)


def _single_scope(result: DrillResult, component: str) -> Scope:
    """A single-fault drill's scope; `component` from the drill file (the result's fault params
    do not name it)."""
    fault = result.fault
    ready = phase(result, "component ready")
    return Scope(
        kind=fault.kind if fault else "",
        component=component,
        params=fault.params if fault else {},
        figures=fault.figures if fault else {},
        injected_at=result.injected_at,
        ready_at=ready.at if ready else None,
        ready_offset_s=ready.offset_s if ready else None,
        step="",
        prefix="fault.figures.",
    )


def _step_scope(result: DrillResult, step: StepResult, last: bool) -> Scope:
    fault = result.fault
    key = f"{step.name}."
    figures = {
        k[len(key) :]: v for k, v in (fault.figures if fault else {}).items() if k.startswith(key)
    }
    params = {
        k[len(key) :]: v for k, v in (fault.params if fault else {}).items() if k.startswith(key)
    }
    ready = phase(result, "component ready")
    # The drill's `component ready` is its last step's; earlier steps carry their own.
    ready_at = step.ready_at or (ready.at if last and ready else None)
    return Scope(
        kind=step.kind,
        component=step.component,
        params=params,
        figures=figures,
        injected_at=step.injected_at,
        ready_at=ready_at,
        ready_offset_s=None,
        step=step.name,
        prefix=f"fault.figures.{key}",
    )


def _fault_segment(scope: Scope, result: DrillResult, middle: Rules) -> Segment:
    onset, back = KINDS.get(scope.kind, ((), ()))
    segment = apply((*onset, *middle, *back), scope, result)
    if scope.kind not in KINDS:
        return Segment(
            segment.title, segment.links, (f"links of fault kind {scope.kind}", *segment.missing)
        )
    return segment


def build(result: DrillResult, component: str = "") -> Chain | None:
    """The run's causal chain, or None when no fault was injected (nothing to explain).
    `component` names a single-fault drill's target, from the drill file (a composite's steps
    name their own)."""
    if result.injected_at is None:
        return None
    segments: list[Segment] = []
    if result.steps:
        for index, step in enumerate(result.steps):
            scope = _step_scope(result, step, index == len(result.steps) - 1)
            middle = (*(BREACH if index == 0 else ()), ("detection", step_detection))
            segments.append(_fault_segment(scope, result, middle))
    else:
        scope = _single_scope(result, component)
        segments.append(_fault_segment(scope, result, (*BREACH, ("detection", detection))))
    tail = apply(SHARED, _single_scope(result, component), result, by_time=False)
    segments.append(Segment("recovery and what it cost", tail.links, tail.missing))
    return Chain(tuple(segments))
