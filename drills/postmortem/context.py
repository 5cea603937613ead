"""The typed facts of one run, read back from its run directory: what templates and rules see.

`result.json` is the interface to the runner (never its internals): it is read as the one run
model, `drills.results.DrillResult` — strictly, older shapes migrated — so a field renamed by the
runner fails here, naming the field, instead of rendering as "n/a". The journal, the saved
Prometheus series, the log evidence and the copied drill file are parsed next to it into frozen
dataclasses, so templates never index raw dictionaries. Every failed outcome (preflight refused,
target error, aborted) still yields a complete context with empty measurements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from drills import journal as records
from drills.errors import SpecError
from drills.journal import read as read_journal
from drills.ledger import Ledger
from drills.log_evidence import LogEvidence
from drills.log_evidence import read as read_log_evidence
from drills.outcome import Outcome
from drills.postmortem import causal, factors, timeline
from drills.postmortem.causal_model import Chain
from drills.postmortem.factors import Factors
from drills.postmortem.impact import Impact, measure_impact
from drills.postmortem.lenient import as_dict as _dict
from drills.postmortem.lenient import as_float as _float
from drills.postmortem.lenient import as_int as _int
from drills.postmortem.lenient import as_list as _list
from drills.postmortem.lenient import as_str as _str
from drills.postmortem.lenient import read_json as _read_json
from drills.postmortem.timeline import TimelineRow
from drills.results import (
    AlertSummary,
    Check,
    DrillResult,
    Figure,
    Objective,
    Phase,
    StepResult,
)
from drills.spec import DrillSpec, load

Sample = tuple[float, float]


@dataclass(frozen=True)
class AlertInfo:
    """One expected alert, pivoted out of the result's AlertSummary for the detection table."""

    name: str
    expected: bool
    fired: bool
    first_pending_at: datetime | None
    first_firing_at: datetime | None
    # The fastest detection possible: the rule's `for:` plus one evaluation interval.
    bound_s: float | None


@dataclass(frozen=True)
class ProbeInfo:
    name: str
    query: str
    tolerance: str


@dataclass(frozen=True)
class SpecInfo:
    """The parts of the drill file a post-mortem quotes."""

    description: str
    hypothesis: str
    blast_radius: str
    component: str
    fault_kind: str
    load_rate: float
    probes: tuple[ProbeInfo, ...]
    backlog_query: str | None
    expected_alerts: tuple[str, ...]
    max_ttd_s: float | None
    max_ttr_s: float | None
    max_lost: int
    max_duplicated: int
    abort_max_duration_s: float
    abort_max_error_budget: float | None


REGRESSIONS_FILE = "regressions.json"


@dataclass(frozen=True)
class RegressionInfo:
    """One figure judged against the drill's history (written by `drills.history`)."""

    figure: str
    regressed: bool
    text: str


@dataclass(frozen=True)
class RunContext:
    """Everything a post-mortem states about one run."""

    run_dir: Path
    run_id: str
    drill: str
    target: str
    outcome: Outcome
    reason: str
    started_at: datetime
    injected_at: datetime | None
    detected_at: datetime | None
    recovered_at: datetime | None
    finished_at: datetime | None
    ttd: Figure
    ttn: Figure
    ttr: Figure
    phases: tuple[Phase, ...]
    alerts: tuple[AlertInfo, ...]
    unexpected_alerts: tuple[str, ...]
    ledger: Ledger | None
    objectives: tuple[Objective, ...]
    fault_kind: str
    fault_params: tuple[tuple[str, str], ...]
    fault_figures: tuple[tuple[str, str], ...]
    fault_checks: tuple[Check, ...]
    spec: SpecInfo | None
    spec_problem: str
    timeline: tuple[TimelineRow, ...]
    series: Mapping[str, tuple[Sample, ...]]
    window: tuple[float, float] | None
    impact: Impact
    consumer_restarts: int | None = None
    journal_events: tuple[str, ...] = field(default_factory=tuple)
    regressions: tuple[RegressionInfo, ...] = field(default_factory=tuple)
    steps: tuple[StepResult, ...] = ()  # a composite drill's, in order of injection
    chain: Chain | None = (
        None  # None: nothing injected, nothing to explain (drills.postmortem.causal)
    )
    factors: Factors = field(default_factory=lambda: Factors((), (), ()))
    log_evidence: LogEvidence | None = None  # None: the run saved none (recorded before it)

    @property
    def injected(self) -> bool:
        return self.injected_at is not None

    @property
    def missed_alerts(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alerts if a.expected and not a.fired)


# --- parsing helpers: JSON is Any at the edge, checked right here ----------------------------


# --- the pieces ------------------------------------------------------------------------------


def _alerts(alerts: AlertSummary | None) -> tuple[AlertInfo, ...]:
    if alerts is None:
        return ()
    return tuple(
        AlertInfo(
            name=name,
            expected=True,
            fired=name in alerts.fired,
            first_pending_at=alerts.first_pending_at.get(name),
            first_firing_at=alerts.first_firing_at.get(name),
            bound_s=alerts.bound_s(name),
        )
        for name in alerts.expected
    )


def _spec(run_dir: Path) -> tuple[SpecInfo | None, str]:
    path = run_dir / "drill.yaml"
    if not path.exists():
        return None, "the run directory holds no copy of the drill file"
    try:
        spec: DrillSpec = load(path)
    except SpecError as exc:
        return None, f"the drill file copy is invalid: {exc.why}"
    return (
        SpecInfo(
            description=spec.description,
            hypothesis=spec.hypothesis,
            blast_radius=spec.blast_radius,
            component=", then ".join(s.component for s in spec.steps) or spec.target,
            fault_kind=_composite_kind([s.fault.kind for s in spec.steps]) or spec.fault.kind,
            load_rate=spec.load.rate,
            probes=tuple(
                ProbeInfo(p.name, p.query, p.tolerance.describe()) for p in spec.steady_state
            ),
            backlog_query=spec.backlog_query,
            expected_alerts=spec.expected_alerts,
            max_ttd_s=spec.objectives.max_ttd_s,
            max_ttr_s=spec.objectives.max_ttr_s,
            max_lost=spec.objectives.max_lost,
            max_duplicated=spec.objectives.max_duplicated,
            abort_max_duration_s=spec.abort.max_duration_s,
            abort_max_error_budget=spec.abort.max_error_budget,
        ),
        "",
    )


def _series(run_dir: Path) -> tuple[dict[str, tuple[Sample, ...]], tuple[float, float] | None]:
    path = run_dir / "series.json"
    if not path.exists():
        return {}, None
    raw = _dict(_read_json(path))
    window = _list(raw.get("window"))
    start, end = (_float(window[0]), _float(window[1])) if len(window) == 2 else (None, None)
    series: dict[str, tuple[Sample, ...]] = {}
    for query, values in _dict(raw.get("queries")).items():
        if query == "ALERTS" or not isinstance(values, list):
            continue
        samples = []
        for pair in values:
            if isinstance(pair, list) and len(pair) == 2:
                t, v = _float(pair[0]), _float(pair[1])
                if t is not None and v is not None:
                    samples.append((t, v))
        series[str(query)] = tuple(sorted(samples))
    return series, (start, end) if start is not None and end is not None else None


def _pairs(value: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), _str(v)) for k, v in value.items())


def build(run_dir: Path) -> RunContext:
    """Read one run directory; raises InvalidInput when result.json is missing, unreadable or
    not a result (ResultError: the message names the field)."""
    result = DrillResult.read(run_dir)
    journal = read_journal(run_dir / records.JOURNAL_NAME)
    alerts = _alerts(result.alerts)
    spec, spec_problem = _spec(run_dir)
    series, window = _series(run_dir)
    fault = result.fault
    figures: Mapping[str, object] = fault.figures if fault else {}
    component = spec.component if spec and not result.steps else ""
    return RunContext(
        run_dir=run_dir,
        run_id=result.run_id,
        drill=result.drill,
        target=result.target,
        outcome=result.outcome,
        reason=result.reason,
        started_at=result.started_at,
        injected_at=result.injected_at,
        detected_at=result.detected_at,
        recovered_at=result.recovered_at,
        finished_at=result.finished_at,
        ttd=result.ttd,
        ttn=result.ttn,
        ttr=result.ttr,
        phases=result.phases,
        alerts=alerts,
        unexpected_alerts=result.alerts.unexpected if result.alerts else (),
        ledger=result.ledger,
        objectives=result.objectives,
        fault_kind=_composite_kind([s.kind for s in result.steps])
        or (fault.kind if fault and fault.kind else (spec.fault_kind if spec else "")),
        fault_params=_pairs(fault.params if fault else {}),
        fault_figures=_pairs(figures),
        fault_checks=fault.checks if fault else (),
        spec=spec,
        spec_problem=spec_problem,
        timeline=timeline.build(journal, result.phases, alerts, result.injected_at),
        series=series,
        window=window,
        impact=measure_impact(result, series, spec.backlog_query if spec else None),
        consumer_restarts=_int(figures.get("consumer_restarts")),
        journal_events=tuple(_str(r.get("event")) for r in journal),
        regressions=_regressions(run_dir),
        steps=result.steps,
        chain=causal.build(result, component),
        factors=factors.derive(result, component),
        log_evidence=read_log_evidence(run_dir),
    )


def _composite_kind(kinds: Sequence[str]) -> str:
    """A composite drill's faults in words ("" for a drill with one fault)."""
    return f"composite faults ({', then '.join(kinds)})" if kinds else ""


def _regressions(run_dir: Path) -> tuple[RegressionInfo, ...]:
    """Verdicts the history check left in the run directory (absent: never checked)."""
    path = run_dir / REGRESSIONS_FILE
    if not path.exists():
        return ()
    return tuple(
        RegressionInfo(_str(v.get("figure")), bool(v.get("regressed")), _str(v.get("text")))
        for v in map(_dict, _list(_read_json(path)))
    )
