"""DrillResult: what a run found, and its JSON form (`result.json`) — the one model of a run.

The runner builds it, and everything that reads a run directory — the post-mortem, history, game
days, the pytest plugin, the CLI — reads it back through `DrillResult.read` / `from_json`, never
through its own parser. The JSON keys are a contract for those and for users' scripts; every
duration says where it came from (`*_source`) and a figure that could not be measured is `null`
with a `*_reason`.

Reading is strict (`drills.jsoncodec`): an unknown, missing or mistyped field is a `ResultError`
naming the file and the field. `schema_version` says which shape a file has; older shapes are
migrated on read (`_MIGRATIONS`), so recorded runs keep rendering while the model moves on:

    1  (no schema_version) the shape before the field existed; older files of it have
       `alerts.detection_lower_bound_s` instead of `for_seconds` and `evaluation_interval_s`,
       and `fault: {}` when the fault reported nothing
    2  `schema_version`; `fault` is null when the fault reported nothing
    3  `steps`: a composite drill's fault steps (`StepResult`), `[]` for a single-fault drill
    4  `backlog_peaks`: how high the generator's buffer and the analysis queue got over the
       fault window, next to their limits (`BacklogPeak`, drills.backlog_peaks); `[]` in a file
       written before it: those limits read as not judged, never as "no risk"

Fields added to version 2 later (`_ADDED_FIELDS`: the ledger's Jepsen categories, the delay)
read as their defaults from a file written before them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from drills.delay import Delay
from drills.errors import DecodeError, InvalidInput, ResultError
from drills.jsoncodec import decode, encode
from drills.ledger import Ledger
from drills.outcome import Outcome
from drills.unavailability import ClientUnavailability

SCHEMA_VERSION = 4
RESULT_NAME = "result.json"


@overload
def utc(ts: float) -> datetime: ...
@overload
def utc(ts: None) -> None: ...
@overload
def utc(ts: float | None) -> datetime | None: ...


def utc(ts: float | None) -> datetime | None:
    """Unix seconds as an aware UTC time, to the millisecond `result.json` keeps."""
    if ts is None:
        return None
    at = datetime.fromtimestamp(ts, UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)  # truncated, as iso() is


def iso(ts: float | None) -> str | None:
    return (
        None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    )


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
class Objective:
    name: str
    target: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class AlertSummary:
    expected: tuple[str, ...]
    fired: tuple[str, ...]
    missed: tuple[str, ...]
    unexpected: tuple[str, ...]
    first_pending_at: Mapping[str, datetime | None]
    first_firing_at: Mapping[str, datetime | None]
    # An alert cannot fire sooner than its `for:` after the first evaluation that saw the fault;
    # with scrape and evaluation delays on top, for + evaluation interval is what to expect.
    for_seconds: Mapping[str, float]
    evaluation_interval_s: float

    def bound_s(self, name: str) -> float | None:
        """The fastest detection possible for one alert: its `for:` plus one evaluation."""
        rule_for = self.for_seconds.get(name)
        return None if rule_for is None else rule_for + self.evaluation_interval_s


@dataclass(frozen=True)
class Phase:
    name: str
    at: datetime | None
    offset_s: float | None
    source: str


@dataclass(frozen=True)
class Check:
    """A fault-specific verification: what was checked, whether it passed, the evidence."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class FaultSummary:
    """What the fault itself reported (drills.faults.base.FaultReport) and how it was set up."""

    kind: str
    params: Mapping[str, Any]
    # bool as well: JSON has booleans and a figure may be one (pvc-wipe-restore's integrity_ok)
    figures: Mapping[str, float | int | bool | str | None]
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class StepResult:
    """One fault step of a composite drill (drills.spec_steps): when it was injected and rolled
    back, and its own detection — the first firing of its expected alerts after its injection."""

    name: str
    kind: str
    component: str
    start: str  # the step's start rule, in words
    injected_at: datetime | None
    rolled_back_at: datetime | None
    # Its component ready again after the rollback; awaited only when a later step starts
    # `after` it (the time that step's delay counts from).
    ready_at: datetime | None
    expected_alerts: tuple[str, ...]
    detected_alerts: tuple[str, ...]
    detected_at: datetime | None
    ttd_seconds: float | None
    ttd_source: str
    ttd_reason: str

    @property
    def ttd(self) -> Figure:
        return Figure(self.ttd_seconds, self.ttd_source, self.ttd_reason)

    @property
    def missed_alerts(self) -> tuple[str, ...]:
        return tuple(a for a in self.expected_alerts if a not in self.detected_alerts)


@dataclass(frozen=True)
class BacklogPeak:
    """The largest value one bounded backlog reached over the fault window, and its limit
    (measured by drills.backlog_peaks). `figure` names the peak (`generator_buffer_peak_events`,
    `analysis_queue_peak_messages`), `limit_figure` the limit (`generator_buffer_capacity`,
    `analysis_queue_max_length`). `resolution_s` is the widest spacing of the samples the peak
    was read from: the true peak can only be higher by what the backlog grew in that time.
    A peak that could not be measured is `None` with a `reason`; an unknown limit `None`."""

    figure: str
    peak: float | None
    at: datetime | None
    source: str
    resolution_s: float | None
    reason: str
    limit_figure: str
    limit: float | None
    limit_source: str


@dataclass(frozen=True)
class DrillResult:
    """Everything one run measured."""

    run_id: str
    drill: str
    target: str
    outcome: Outcome
    reason: str
    started_at: datetime
    injected_at: datetime | None = None
    detected_at: datetime | None = None
    recovered_at: datetime | None = None
    finished_at: datetime | None = None
    ttd_seconds: float | None = None
    ttd_source: str = ""
    ttd_reason: str = ""
    ttn_seconds: float | None = None
    ttn_source: str = ""
    ttn_reason: str = ""
    ttr_seconds: float | None = None
    ttr_source: str = ""
    ttr_reason: str = ""
    phases: tuple[Phase, ...] = ()
    alerts: AlertSummary | None = None
    ledger: Ledger | None = None
    error_budget_consumed: float | None = None
    error_budget_reason: str = ""
    objectives: tuple[Objective, ...] = ()
    fault: FaultSummary | None = None
    wall_seconds: float | None = None
    run_dir: str = ""
    schema_version: int = SCHEMA_VERSION
    delay: Delay | None = None  # occurred → stored over the canary range (drills.delay)
    client_unavailability: ClientUnavailability | None = None  # what the client probe saw
    # A composite drill's steps, in order of injection; the drill-level figures are the drill's:
    # TTD the slowest step's, TTR from the first injection to the recovery after the last rollback.
    steps: tuple[StepResult, ...] = ()
    # The generator's buffer and the analysis queue at their highest over the fault window.
    backlog_peaks: tuple[BacklogPeak, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def objectives_passed(self) -> bool:
        return bool(self.objectives) and all(o.passed for o in self.objectives)

    @property
    def ttd(self) -> Figure:
        return Figure(self.ttd_seconds, self.ttd_source, self.ttd_reason)

    @property
    def ttn(self) -> Figure:
        return Figure(self.ttn_seconds, self.ttn_source, self.ttn_reason)

    @property
    def ttr(self) -> Figure:
        return Figure(self.ttr_seconds, self.ttr_source, self.ttr_reason)

    def to_json(self) -> dict[str, Any]:
        """The JSON form, `schema_version` first; plain JSON data (lists, strings, numbers)."""
        data: dict[str, Any] = encode(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_json(cls, raw: object, source: object = RESULT_NAME) -> DrillResult:
        """A parsed `result.json` of any known schema version, migrated and checked strictly;
        `source` (the file) names where a ResultError comes from."""
        if not isinstance(raw, dict):
            raise ResultError(source, "", "not a JSON object (is this a drill result?)")
        version = raw.get("schema_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ResultError(source, "schema_version", f"not a schema version: {version!r}")
        if version > SCHEMA_VERSION:
            raise ResultError(
                source,
                "schema_version",
                f"{version} is newer than this harness reads ({SCHEMA_VERSION}): "
                "upgrade genesis-drill to read this run",
            )
        for step in range(version, SCHEMA_VERSION):
            raw = _MIGRATIONS[step](raw)
        raw = _with_added_fields(raw)
        try:
            return decode(cls, raw)
        except DecodeError as exc:
            raise ResultError(source, exc.field_path, exc.why) from None

    @classmethod
    def read(cls, run_dir: Path) -> DrillResult:
        """The result of one run directory; InvalidInput (exit 2) naming what is wrong."""
        path = run_dir / RESULT_NAME
        if not path.exists():
            raise InvalidInput(f"{run_dir}: no {RESULT_NAME} (is this a run directory?)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise InvalidInput(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_json(raw, path)

    def write(self, run_dir: Path) -> Path:
        path = run_dir / RESULT_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        tmp.replace(path)
        return path


def _from_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: `fault: {}` becomes null; the oldest files' `detection_lower_bound_s`
    (for + evaluation interval, summed by the harness that wrote them) becomes `for_seconds`
    with an evaluation interval of 0, which keeps the bound every reader shows."""
    out = {"schema_version": 2, **raw}
    if out.get("fault") == {}:
        out["fault"] = None
    alerts = out.get("alerts")
    if isinstance(alerts, dict) and "for_seconds" not in alerts:
        alerts = dict(alerts)
        if "detection_lower_bound_s" in alerts:
            alerts["for_seconds"] = alerts.pop("detection_lower_bound_s")
            alerts.setdefault("evaluation_interval_s", 0.0)
        out["alerts"] = alerts
    return out


def _from_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 2 → 3: a run of a drill with one fault has no steps."""
    return {**raw, "schema_version": 3, "steps": raw.get("steps", [])}


def _from_v3(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 3 → 4: a run recorded before the peaks were measured has none."""
    return {**raw, "schema_version": 4, "backlog_peaks": raw.get("backlog_peaks", [])}


# Fields added to the current schema after files of it were written (at the end of their
# dataclass, with a default): a file without one reads as that default — what a run that could
# not measure the figure records. Keyed by the path of the object that holds them.
_ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    "": ("delay", "client_unavailability"),
    "ledger": (
        "published",
        "failed",
        "info",
        "unpublished",
        "had_info",
        "had_fail",
        "recovered",
        "unexpected",
        "info_sample",
        "fail_sample",
        "unexpected_sample",
        "outcomes_source",
    ),
}
_ADDED_IN: dict[str, type] = {"": DrillResult, "ledger": Ledger}


def _with_added_fields(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    for path, names in _ADDED_FIELDS.items():
        holder = out if not path else out.get(path)
        if not isinstance(holder, dict):
            continue
        defaults = {f.name: f.default for f in fields(_ADDED_IN[path]) if f.name in names}
        filled = {**{k: encode(v) for k, v in defaults.items() if k not in holder}, **holder}
        if path:
            out[path] = filled
        else:
            out = filled
    return out


# schema version → the function that lifts a file of that version to the next one.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _from_v1,
    2: _from_v2,
    3: _from_v3,
}
