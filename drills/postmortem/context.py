"""The typed facts of one run, read back from its run directory: what templates and rules see.

`result.json` is the interface to the runner (never its internals): this module parses it, the
journal, the saved Prometheus series and the copied drill file into frozen dataclasses once, at the
edge, so templates never index raw dictionaries and a key missing from an older result file becomes
`None` here instead of an error half-way through rendering. Every failed outcome (preflight
refused, target error, aborted) still yields a complete context with empty measurements.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills import journal as records
from drills.errors import InvalidInput, SpecError
from drills.journal import read as read_journal
from drills.spec import DrillSpec, load

Sample = tuple[float, float]

# The chart's SLIs, by the exact PromQL the runner saves into series.json (drills.runner
# CHART_QUERIES; a unit test keeps the two lists equal). Drill probes with the same text count too.
THROUGHPUT_QUERY = 'sum(rate(events_processed_total{result="stored"}[5s]))'
P99_QUERY = (
    "histogram_quantile(0.99, sum by (le) (rate(event_processing_duration_seconds_bucket[10s])))"
)
QUEUE_QUERY = 'sum(rabbitmq_queue_messages{queue="auditflow.analysis"})'
ERROR_RATE_QUERY = (
    '(sum(rate(events_processed_total{result="dead_lettered"}[5s])) or vector(0))'
    " / sum(rate(events_processed_total[5s]))"
)
DASHBOARD_5XX_QUERY = (
    'sum(rate(api_request_duration_seconds_count{service="event-audit-dashboard",'
    'route!~"/metrics|/healthz",status=~"5.."}[5s])) or vector(0)'
)
CHART_QUERIES = (THROUGHPUT_QUERY, P99_QUERY, QUEUE_QUERY, ERROR_RATE_QUERY, DASHBOARD_5XX_QUERY)


@dataclass(frozen=True)
class Figure:
    """A measured duration, where it came from, and why it is missing when it is."""

    seconds: float | None
    source: str
    reason: str

    @property
    def text(self) -> str:
        return "n/a" if self.seconds is None else f"{self.seconds:.1f} s"


@dataclass(frozen=True)
class AlertInfo:
    name: str
    expected: bool
    fired: bool
    first_pending_at: datetime | None
    first_firing_at: datetime | None
    # The fastest detection possible: the rule's `for:` plus one evaluation interval.
    bound_s: float | None


@dataclass(frozen=True)
class PhaseInfo:
    name: str
    at: datetime | None
    offset_s: float | None
    source: str


@dataclass(frozen=True)
class ObjectiveInfo:
    name: str
    target: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class LedgerInfo:
    confirmed: int
    stored: int
    dead_lettered: int
    lost: int
    duplicated: int
    missing_sample: tuple[int, ...]
    note: str


@dataclass(frozen=True)
class CheckInfo:
    name: str
    passed: bool
    detail: str


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


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    offset_s: float | None
    event: str
    source: str


@dataclass(frozen=True)
class Impact:
    """Quantified impact; `None` means the run directory does not hold the data."""

    peak_backlog: float | None
    worst_p99_s: float | None
    lost: int | None
    duplicated: int | None
    dead_lettered: int | None
    slo_breach_minutes: float | None
    error_budget_consumed: float | None
    error_budget_reason: str
    dashboard_errors: float | None


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
    outcome: str
    reason: str
    started_at: datetime | None
    injected_at: datetime | None
    detected_at: datetime | None
    recovered_at: datetime | None
    finished_at: datetime | None
    ttd: Figure
    ttn: Figure
    ttr: Figure
    phases: tuple[PhaseInfo, ...]
    alerts: tuple[AlertInfo, ...]
    unexpected_alerts: tuple[str, ...]
    ledger: LedgerInfo | None
    objectives: tuple[ObjectiveInfo, ...]
    fault_kind: str
    fault_params: tuple[tuple[str, str], ...]
    fault_figures: tuple[tuple[str, str], ...]
    fault_checks: tuple[CheckInfo, ...]
    spec: SpecInfo | None
    spec_problem: str
    timeline: tuple[TimelineRow, ...]
    series: Mapping[str, tuple[Sample, ...]]
    window: tuple[float, float] | None
    impact: Impact
    consumer_restarts: int | None = None
    journal_events: tuple[str, ...] = field(default_factory=tuple)
    regressions: tuple[RegressionInfo, ...] = field(default_factory=tuple)

    @property
    def injected(self) -> bool:
        return self.injected_at is not None

    @property
    def missed_alerts(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alerts if a.expected and not a.fired)


# --- parsing helpers: JSON is Any at the edge, checked right here ----------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp (result.json) or unix seconds (journal) as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _figure(raw: dict[str, Any], name: str) -> Figure:
    return Figure(
        _float(raw.get(f"{name}_seconds")),
        _str(raw.get(f"{name}_source")),
        _str(raw.get(f"{name}_reason")),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc}") from exc


# --- the pieces ------------------------------------------------------------------------------


def _alerts(raw: dict[str, Any]) -> tuple[tuple[AlertInfo, ...], tuple[str, ...]]:
    alerts = _dict(raw.get("alerts"))
    if not alerts:
        return (), ()
    expected = [_str(a) for a in _list(alerts.get("expected"))]
    fired = {_str(a) for a in _list(alerts.get("fired"))}
    pending = _dict(alerts.get("first_pending_at"))
    firing = _dict(alerts.get("first_firing_at"))
    for_s = _dict(alerts.get("for_seconds"))
    evaluation = _float(alerts.get("evaluation_interval_s"))
    older_bound = _dict(alerts.get("detection_lower_bound_s"))  # result files before for_seconds
    infos = []
    for name in expected:
        rule_for = _float(for_s.get(name))
        bound = (
            rule_for + (evaluation or 0.0)
            if rule_for is not None
            else _float(older_bound.get(name))
        )
        infos.append(
            AlertInfo(
                name=name,
                expected=True,
                fired=name in fired,
                first_pending_at=parse_time(pending.get(name)),
                first_firing_at=parse_time(firing.get(name)),
                bound_s=bound,
            )
        )
    unexpected = tuple(_str(a) for a in _list(alerts.get("unexpected")))
    return tuple(infos), unexpected


def _ledger(raw: dict[str, Any]) -> LedgerInfo | None:
    ledger = _dict(raw.get("ledger"))
    if not ledger:
        return None
    return LedgerInfo(
        confirmed=_int(ledger.get("confirmed")) or 0,
        stored=_int(ledger.get("stored")) or 0,
        dead_lettered=_int(ledger.get("dead_lettered")) or 0,
        lost=_int(ledger.get("lost")) or 0,
        duplicated=_int(ledger.get("duplicated")) or 0,
        missing_sample=tuple(
            n for n in (_int(v) for v in _list(ledger.get("missing_sample"))) if n is not None
        ),
        note=_str(ledger.get("note")),
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
            component=spec.target,
            fault_kind=spec.fault.kind,
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


# How the timeline words a journal record; keyed by the typed records' events, so an event the
# runner renames cannot silently drop out of every post-mortem.
_JOURNAL_WORDS = {
    records.RunStart.EVENT: "harness started the run",
    records.AlertsQuiet.EVENT: (
        "waited {waited_s} s for expected alert(s) {alerts} to resolve first"
    ),
    records.Load.EVENT: "load set to {rate} events/s (was {previous_rate})",
    records.InjectIntent.EVENT: "about to inject {kind} on {component}",
    records.Injected.EVENT: "fault in effect",
    records.RollbackIntent.EVENT: "rollback started",
    records.RollbackDone.EVENT: "rollback done",
    records.RollbackError.EVENT: "rollback attempt failed: {error}",
    records.FaultVerified.EVENT: "fault effects verified",
    records.LoadRestored.EVENT: "load restored to {rate} events/s",
    records.InternalError.EVENT: "harness internal error: {error}",
    records.RecoveredEarlierRun.EVENT: "rolled back the fault of an earlier run {run}",
    records.RunEnd.EVENT: "run ended: {outcome}",
}


def _journal_row(record: dict[str, Any], t_inject: float | None) -> TimelineRow | None:
    event = _str(record.get("event"))
    # `injected` and `rollback-done` carry when the action took effect; `t` is when it was written.
    when = (records.Injected.EVENT, records.RollbackDone.EVENT)
    at = _float(record.get("at")) if event in when else None
    at = at if at is not None else _float(record.get("t"))
    if at is None or not event:
        return None
    if event == records.PhaseStarted.EVENT:
        text = f"phase: {_str(record.get('phase'))}"
    else:
        template = _JOURNAL_WORDS.get(event, event)
        values = {
            k: ", ".join(map(_str, v)) if isinstance(v, list) else _str(v)
            for k, v in record.items()
        }
        try:
            text = template.format_map(_Missing(values))
        except (ValueError, IndexError):
            text = event
    offset = None if t_inject is None else round(at - t_inject, 3)
    return TimelineRow(datetime.fromtimestamp(at, UTC), offset, text, "journal")


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _timeline(
    journal: Sequence[dict[str, Any]],
    phases: Sequence[PhaseInfo],
    alerts: Sequence[AlertInfo],
    injected_at: datetime | None,
) -> tuple[TimelineRow, ...]:
    t_inject = injected_at.timestamp() if injected_at else None
    rows = [row for record in journal if (row := _journal_row(record, t_inject)) is not None]
    for phase in phases:
        # The journal already has the injection; the other phases are Prometheus/target facts.
        if phase.at is None or phase.name == "inject":
            continue
        rows.append(TimelineRow(phase.at, phase.offset_s, phase.name, phase.source))
    for alert in alerts:
        for state, at in (("pending", alert.first_pending_at), ("firing", alert.first_firing_at)):
            if at is None:
                continue
            offset = None if t_inject is None else round(at.timestamp() - t_inject, 3)
            rows.append(
                TimelineRow(
                    at,
                    offset,
                    f"{alert.name} {state}",
                    f'PromQL: ALERTS{{alertname="{alert.name}",alertstate="{state}"}}',
                )
            )
    return tuple(sorted(rows, key=lambda row: row.at))


def _max_after(samples: Sequence[Sample], after: float | None) -> float | None:
    values = [v for t, v in samples if after is None or t >= after]
    return max(values) if values else None


def _integral(samples: Sequence[Sample], step: float = 1.0) -> float | None:
    return sum(v for _, v in samples) * step if samples else None


def _impact(
    raw: dict[str, Any],
    ledger: LedgerInfo | None,
    phases: Sequence[PhaseInfo],
    series: Mapping[str, tuple[Sample, ...]],
    spec: SpecInfo | None,
    injected_at: datetime | None,
    finished_at: datetime | None,
) -> Impact:
    t_inject = injected_at.timestamp() if injected_at else None
    backlog_query = spec.backlog_query if spec else None
    backlog = series.get(backlog_query or "") or series.get(QUEUE_QUERY, ())
    breach = next((p.at for p in phases if p.name == "first SLO breach"), None)
    restored = next((p.at for p in phases if p.name == "SLO restored"), None)
    breach_minutes: float | None = None
    if injected_at is not None and phases:
        if breach is None:
            breach_minutes = 0.0
        else:
            until = restored or finished_at
            if until is not None:
                breach_minutes = round(max(0.0, (until - breach).total_seconds()) / 60, 2)
    return Impact(
        peak_backlog=_max_after(backlog, t_inject),
        worst_p99_s=_max_after(series.get(P99_QUERY, ()), t_inject),
        lost=ledger.lost if ledger and not ledger.note else None,
        duplicated=ledger.duplicated if ledger and not ledger.note else None,
        dead_lettered=ledger.dead_lettered if ledger else None,
        slo_breach_minutes=breach_minutes,
        error_budget_consumed=_float(raw.get("error_budget_consumed")),
        error_budget_reason=_str(raw.get("error_budget_reason")),
        dashboard_errors=_integral(series.get(DASHBOARD_5XX_QUERY, ())),
    )


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), _str(v)) for k, v in _dict(value).items())


def build(run_dir: Path) -> RunContext:
    """Read one run directory; raises InvalidInput when result.json is missing or unreadable."""
    result_path = run_dir / "result.json"
    if not result_path.exists():
        raise InvalidInput(f"{run_dir}: no result.json (is this a run directory?)")
    raw = _dict(_read_json(result_path))
    if not raw.get("run_id") or not raw.get("drill"):
        raise InvalidInput(f"{result_path}: not a drill result (no run_id or drill)")
    journal = read_journal(run_dir / records.JOURNAL_NAME)
    phases = tuple(
        PhaseInfo(
            _str(p.get("name")),
            parse_time(p.get("at")),
            _float(p.get("offset_s")),
            _str(p.get("source")),
        )
        for p in map(_dict, _list(raw.get("phases")))
    )
    alerts, unexpected = _alerts(raw)
    ledger = _ledger(raw)
    spec, spec_problem = _spec(run_dir)
    series, window = _series(run_dir)
    injected_at = parse_time(raw.get("injected_at"))
    finished_at = parse_time(raw.get("finished_at"))
    fault = _dict(raw.get("fault"))
    figures = _dict(fault.get("figures"))
    return RunContext(
        run_dir=run_dir,
        run_id=_str(raw.get("run_id")),
        drill=_str(raw.get("drill")),
        target=_str(raw.get("target")),
        outcome=_str(raw.get("outcome")) or "unknown",
        reason=_str(raw.get("reason")),
        started_at=parse_time(raw.get("started_at")),
        injected_at=injected_at,
        detected_at=parse_time(raw.get("detected_at")),
        recovered_at=parse_time(raw.get("recovered_at")),
        finished_at=finished_at,
        ttd=_figure(raw, "ttd"),
        ttn=_figure(raw, "ttn"),
        ttr=_figure(raw, "ttr"),
        phases=phases,
        alerts=alerts,
        unexpected_alerts=unexpected,
        ledger=ledger,
        objectives=tuple(
            ObjectiveInfo(
                _str(o.get("name")),
                _str(o.get("target")),
                _str(o.get("measured")),
                bool(o.get("passed")),
            )
            for o in map(_dict, _list(raw.get("objectives")))
        ),
        fault_kind=_str(fault.get("kind")) or (spec.fault_kind if spec else ""),
        fault_params=_pairs(fault.get("params")),
        fault_figures=_pairs(figures),
        fault_checks=tuple(
            CheckInfo(_str(c.get("name")), bool(c.get("passed")), _str(c.get("detail")))
            for c in map(_dict, _list(fault.get("checks")))
        ),
        spec=spec,
        spec_problem=spec_problem,
        timeline=_timeline(journal, phases, alerts, injected_at),
        series=series,
        window=window,
        impact=_impact(raw, ledger, phases, series, spec, injected_at, finished_at),
        consumer_restarts=_int(figures.get("consumer_restarts")),
        journal_events=tuple(_str(r.get("event")) for r in journal),
        regressions=_regressions(run_dir),
    )


def _regressions(run_dir: Path) -> tuple[RegressionInfo, ...]:
    """Verdicts the history check left in the run directory (absent: never checked)."""
    path = run_dir / REGRESSIONS_FILE
    if not path.exists():
        return ()
    return tuple(
        RegressionInfo(_str(v.get("figure")), bool(v.get("regressed")), _str(v.get("text")))
        for v in map(_dict, _list(_read_json(path)))
    )
