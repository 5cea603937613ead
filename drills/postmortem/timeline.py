"""The post-mortem's timeline: the journal's records, the measured phases and the alerts'
pending / firing moments, merged in time order, each row naming where it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from drills import journal as records
from drills.postmortem.lenient import as_float as _float
from drills.postmortem.lenient import as_str as _str
from drills.results import Phase


class AlertTimes(Protocol):
    """What the timeline reads of an alert (drills.postmortem.context.AlertInfo)."""

    @property
    def name(self) -> str: ...
    @property
    def first_pending_at(self) -> datetime | None: ...
    @property
    def first_firing_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    offset_s: float | None
    event: str
    source: str


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
    records.StepReady.EVENT: "{component} ready again after the rollback",
    records.FaultVerified.EVENT: "fault effects verified",
    records.LoadRestored.EVENT: "load restored to {rate} events/s",
    records.InternalError.EVENT: "harness internal error: {error}",
    records.RecoveredEarlierRun.EVENT: "rolled back the fault of an earlier run {run}",
    records.RunEnd.EVENT: "run ended: {outcome}",
}


def journal_row(record: dict[str, Any], t_inject: float | None) -> TimelineRow | None:
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
    step = record.get("step")
    if isinstance(step, str) and step:  # a composite drill's step: each one's inject/rollback
        text = f"step {step}: {text}"
    offset = None if t_inject is None else round(at - t_inject, 3)
    return TimelineRow(datetime.fromtimestamp(at, UTC), offset, text, "journal")


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def build(
    journal: Sequence[dict[str, Any]],
    phases: Sequence[Phase],
    alerts: Sequence[AlertTimes],
    injected_at: datetime | None,
) -> tuple[TimelineRow, ...]:
    t_inject = injected_at.timestamp() if injected_at else None
    rows = [row for record in journal if (row := journal_row(record, t_inject)) is not None]
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
