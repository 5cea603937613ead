"""Contributing factors and "where we got lucky", by explicit rules over `result.json`.

Each rule is one finding a reviewer would otherwise have to spot in the figures: one drill spent
a large share of the error budget; the recovery was mostly a component's start-up; the alert
fired only after the SLO was already breached, or not before the platform had recovered; the
steady-state probes never saw the fault; the steady state read as restored before the component
was back; a backlog came close to a limit (the generator's buffer, the analysis queue's bound).
A rule whose data the result does not hold finds nothing; the near-limit rule states each peak
against its limit with where it came from (`result.json: backlog_peaks`, measured by
drills.backlog_peaks from Prometheus' raw samples) and names the limits it could not judge, and
why, so a draft never reads "no risk" where nothing was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from auditflow.generator.settings import DEFAULT_BUFFER_MAX
from auditflow.topology import QUEUE_MAX_LENGTH
from drills.backlog_peaks import BUFFER_PEAK, QUEUE_PEAK
from drills.postmortem.causal import backlog_peak_of, phase
from drills.postmortem.causal_model import percent
from drills.results import DrillResult

# A single drill spending at least this share of an SLO window's budget is a finding in itself.
BUDGET_SHARE = 0.25
# Recovery "dominated" by start-up: start-up is at least this share of rollback → recovered.
STARTUP_SHARE = 0.5
# A backlog "came close" to a limit at this share of it (within 20 %).
NEAR_LIMIT_SHARE = 0.8

# fault kind → (start-up figure, the deliberate hold before the rollback, or None: instant)
_STARTUP = {
    "service-stop": ("ready_seconds_after_start", "held_down_seconds"),
    "process-kill": ("ready_seconds", None),
    "process-freeze": ("ready_seconds_after_thaw", "held_frozen_seconds"),
}

# (the limit, the figure of its peak in `backlog_peaks`, its unit, the default limit)
LIMITS = (
    ("the generator's buffer", BUFFER_PEAK, "events", DEFAULT_BUFFER_MAX),
    ("the analysis queue's bound", QUEUE_PEAK, "messages ready", QUEUE_MAX_LENGTH),
)
# Why a run recorded before the peaks were measured (schema 3 and older) judges no limit.
NO_PEAK = "the result carries no peak for it"


@dataclass(frozen=True)
class Factor:
    rule: str
    text: str


@dataclass(frozen=True)
class Limit:
    """One limit as the near-limit rule saw it: judged, with the peak against it in words
    (`text`: figure, share, time, source), or not, and `why`."""

    label: str
    judged: bool
    text: str = ""
    why: str = ""


@dataclass(frozen=True)
class Factors:
    contributing: tuple[Factor, ...]
    lucky: tuple[Factor, ...]
    limits: tuple[Limit, ...] = ()  # every limit the near-limit rule looked at

    @property
    def not_judged(self) -> tuple[str, ...]:
        """The limits whose peak the result does not carry (or could not measure)."""
        return tuple(limit.label for limit in self.limits if not limit.judged)


def _offset(result: DrillResult, at: datetime) -> str:
    t0 = result.injected_at
    return "" if t0 is None else f" (T+{(at - t0).total_seconds():.1f} s)"


def budget_share(result: DrillResult, component: str = "") -> list[Factor]:
    share = result.error_budget_consumed
    if share is None or share < BUDGET_SHARE:
        return []
    return [
        Factor(
            "budget-share",
            f"this one drill spent {share * 100:.2f} % of the latency error budget, at or above "
            f"the {BUDGET_SHARE * 100:.0f} % a single drill may spend "
            f"({result.error_budget_reason})",
        )
    ]


def _figure(figures: Mapping[str, object], name: str | None) -> float | None:
    value = figures.get(name or "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def startup_dominated(result: DrillResult, component: str = "") -> list[Factor]:
    """Start-up made up most of the time from the rollback to the recovery."""
    fault, recovered = result.fault, result.recovered_at
    if fault is None or recovered is None or result.injected_at is None:
        return []
    found = []
    # (kind, component, figure prefix, rolled back at; None: the hold figure says, from t_inject)
    scopes: list[tuple[str, str, str, datetime | None]] = [
        (s.kind, s.component, f"{s.name}.", s.rolled_back_at) for s in result.steps
    ]
    if not result.steps:
        name = component or str(fault.params.get("component") or "the component")
        scopes.append((fault.kind, name, "", None))
    for kind, who, prefix, rolled_back in scopes:
        startup_name, hold_name = _STARTUP.get(kind, (None, None))
        figures = {k[len(prefix) :]: v for k, v in fault.figures.items() if k.startswith(prefix)}
        startup = _figure(figures, startup_name)
        hold = _figure(figures, hold_name) if hold_name else 0.0
        if startup is None or (rolled_back is None and hold is None):
            continue
        if rolled_back is not None:
            after = (recovered - rolled_back).total_seconds()
        else:
            after = (recovered - result.injected_at).total_seconds() - (hold or 0.0)
        if after > 0 and startup >= STARTUP_SHARE * after:
            found.append(
                Factor(
                    "startup-dominated",
                    f"recovery was mostly {who}'s start-up: {startup:.1f} s "
                    f"({startup_name}) of the {after:.1f} s from the rollback to the recovery",
                )
            )
    return found


def _first_firing(result: DrillResult) -> tuple[str, datetime] | None:
    alerts = result.alerts
    if alerts is None:
        return None
    fired = [(at, name) for name, at in alerts.first_firing_at.items() if at is not None]
    if not fired:
        return None
    at, name = min(fired)
    return name, at


def alert_after_breach(result: DrillResult, component: str = "") -> list[Factor]:
    breach = phase(result, "first SLO breach")
    first = _first_firing(result)
    if breach is None or breach.at is None or first is None or first[1] <= breach.at:
        return []
    name, at = first
    late = (at - breach.at).total_seconds()
    return [
        Factor(
            "alert-after-breach",
            f"{name} fired{_offset(result, at)} only {late:.1f} s after the SLO was already "
            f"breached{_offset(result, breach.at)}",
        )
    ]


def no_alert_before_recovery(result: DrillResult, component: str = "") -> list[Factor]:
    alerts, recovered = result.alerts, result.recovered_at
    if alerts is None or not alerts.expected or recovered is None:
        return []
    first = _first_firing(result)
    if first is not None and first[1] <= recovered:
        return []
    when = "never fired" if first is None else f"fired only after it{_offset(result, first[1])}"
    return [
        Factor(
            "no-alert-before-recovery",
            f"no expected alert fired before the platform recovered{_offset(result, recovered)}: "
            f"{', '.join(alerts.expected)} {when}",
        )
    ]


def probes_blind(result: DrillResult, component: str = "") -> list[Factor]:
    """Measured, and never breached: the fault did not reach the platform or the probes miss it."""
    breach = phase(result, "first SLO breach")
    if result.injected_at is None or breach is None or breach.at is not None:
        return []
    kind = result.fault.kind if result.fault else "the fault"
    return [
        Factor(
            "probes-blind",
            f"the steady-state probes never left tolerance while {kind} was in effect: either "
            "the fault did not reach the platform or the probes do not see it",
        )
    ]


def restored_before_ready(result: DrillResult, component: str = "") -> list[Factor]:
    restored, ready = phase(result, "SLO restored"), phase(result, "component ready")
    if restored is None or ready is None or restored.at is None or ready.at is None:
        return []
    if restored.at >= ready.at or result.steps:
        return []
    return [
        Factor(
            "restored-before-ready",
            f"the steady state read as restored{_offset(result, restored.at)} before the "
            f"component was ready again{_offset(result, ready.at)}: the time to recover does "
            "not measure this fault's recovery",
        )
    ]


def near_limit(result: DrillResult) -> tuple[list[Factor], list[Limit]]:
    """A backlog within 20 % of a limit; and every limit, judged (its peak against it, in
    words, with the figure's source) or not (and why)."""
    found: list[Factor] = []
    limits: list[Limit] = []
    for label, figure, unit, default in LIMITS:
        recorded = backlog_peak_of(result, figure)
        if recorded is None or recorded.peak is None:
            why = NO_PEAK if recorded is None else recorded.reason
            limits.append(Limit(label, judged=False, why=why))
            continue
        peak = recorded.peak
        limit = recorded.limit or float(default)
        of = "" if recorded.limit else " (the default: the run recorded no limit)"
        t0, at = result.injected_at, recorded.at
        when = "" if t0 is None or at is None else f" at T+{(at - t0).total_seconds():.1f} s"
        share = percent(peak / limit)
        limits.append(
            Limit(
                label,
                judged=True,
                text=f"{label}: {peak:,.0f} of {limit:,.0f} {unit}{of} ({share}){when}, "
                f"from {recorded.source}",
            )
        )
        if peak >= NEAR_LIMIT_SHARE * limit:
            found.append(
                Factor(
                    "near-limit",
                    f"the backlog peaked at {peak:,.0f} of {label} of {limit:,.0f} "
                    f"({share}){when}: a longer outage would have hit it",
                )
            )
    return found, limits


# The contributing-factor rules, in the order the draft lists what they find.
CONTRIBUTING: tuple[Callable[[DrillResult, str], list[Factor]], ...] = (
    budget_share,
    startup_dominated,
    alert_after_breach,
    no_alert_before_recovery,
    probes_blind,
    restored_before_ready,
)


def derive(result: DrillResult, component: str = "") -> Factors:
    """The factors of one run; `component` names a single-fault drill's target (drill file)."""
    contributing = [f for rule in CONTRIBUTING for f in rule(result, component)]
    lucky, limits = near_limit(result) if result.injected_at is not None else ([], [])
    return Factors(tuple(contributing), tuple(lucky), tuple(limits))
