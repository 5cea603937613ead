"""The one run model: result.json round trips, old shapes migrate, a wrong field fails loudly."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.delay import Delay
from drills.errors import InvalidInput, ResultError
from drills.ledger import Ledger
from drills.outcome import Outcome, combined_exit_code
from drills.postmortem import context
from drills.results import (
    SCHEMA_VERSION,
    AlertSummary,
    BacklogPeak,
    Check,
    DrillResult,
    FaultSummary,
    Objective,
    Phase,
    StepResult,
    iso,
    utc,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"
PASSED_V1 = GOLDEN / "20261127T062541Z-pod-kill"
REFUSED_V1 = GOLDEN / "20261127T062824Z-rabbitmq-outage"

text = st.text(max_size=12)
names = st.text(st.characters(categories=["L", "N"], include_characters="-_"), max_size=10)
numbers = st.floats(allow_nan=False, allow_infinity=False)
# result.json keeps milliseconds, so a time of the model is one (as `utc()` makes them).
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda at: at.replace(microsecond=at.microsecond // 1000 * 1000))
scalars = st.one_of(st.none(), numbers, st.integers(-(10**9), 10**9), text)
json_values = st.recursive(
    scalars | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
name_tuples = st.lists(names, max_size=3).map(tuple)


@st.composite
def alert_summaries(draw: st.DrawFn) -> AlertSummary:
    expected = draw(name_tuples)
    return AlertSummary(
        expected=expected,
        fired=draw(name_tuples),
        missed=draw(name_tuples),
        unexpected=draw(name_tuples),
        first_pending_at={n: draw(st.none() | times) for n in expected},
        first_firing_at={n: draw(st.none() | times) for n in expected},
        for_seconds={n: draw(numbers) for n in expected},
        evaluation_interval_s=draw(numbers),
    )


ints = st.integers(0, 10**9)
ledgers = st.builds(
    Ledger,
    run_id=text,
    first_seq=ints,
    last_seq=ints,
    confirmed=ints,
    stored=ints,
    dead_lettered=ints,
    lost=ints,
    duplicated=ints,
    missing_sample=st.lists(ints, max_size=3).map(tuple),
    note=text,
    info=ints,
    recovered=ints,
    unexpected=ints,
    info_sample=st.lists(ints, max_size=3).map(tuple),
    outcomes_source=text,
)
delays = st.builds(
    Delay,
    events=ints,
    p50_s=st.none() | numbers,
    p99_s=st.none() | numbers,
    max_s=st.none() | numbers,
    oldest_seq=st.none() | ints,
    oldest_s=st.none() | numbers,
    published_p50_s=st.none() | numbers,
    published_p99_s=st.none() | numbers,
    published_max_s=st.none() | numbers,
    source=text,
    reason=text,
)
faults = st.builds(
    FaultSummary,
    kind=names,
    params=st.dictionaries(names, json_values, max_size=3),
    figures=st.dictionaries(names, scalars, max_size=3),
    checks=st.lists(st.builds(Check, text, st.booleans(), text), max_size=2).map(tuple),
)
steps = st.builds(
    StepResult,
    name=names,
    kind=names,
    component=names,
    start=text,
    injected_at=st.none() | times,
    rolled_back_at=st.none() | times,
    ready_at=st.none() | times,
    expected_alerts=name_tuples,
    detected_alerts=name_tuples,
    detected_at=st.none() | times,
    ttd_seconds=st.none() | numbers,
    ttd_source=text,
    ttd_reason=text,
)
backlog_peaks = st.builds(
    BacklogPeak,
    figure=names,
    peak=st.none() | numbers,
    at=st.none() | times,
    source=text,
    resolution_s=st.none() | numbers,
    reason=text,
    limit_figure=names,
    limit=st.none() | numbers,
    limit_source=text,
)
results = st.builds(
    DrillResult,
    run_id=text,
    drill=names,
    target=names,
    outcome=st.sampled_from(Outcome),
    reason=text,
    started_at=times,
    injected_at=st.none() | times,
    detected_at=st.none() | times,
    recovered_at=st.none() | times,
    finished_at=st.none() | times,
    ttd_seconds=st.none() | numbers,
    ttd_source=text,
    ttd_reason=text,
    ttn_seconds=st.none() | numbers,
    ttr_seconds=st.none() | numbers,
    phases=st.lists(
        st.builds(Phase, names, st.none() | times, st.none() | numbers, text), max_size=3
    ).map(tuple),
    alerts=st.none() | alert_summaries(),
    ledger=st.none() | ledgers,
    error_budget_consumed=st.none() | numbers,
    error_budget_reason=text,
    objectives=st.lists(st.builds(Objective, text, text, text, st.booleans()), max_size=3).map(
        tuple
    ),
    fault=st.none() | faults,
    wall_seconds=st.none() | numbers,
    run_dir=text,
    delay=st.none() | delays,
    steps=st.lists(steps, max_size=2).map(tuple),
    backlog_peaks=st.lists(backlog_peaks, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(results)
def test_round_trip_through_json_text_is_equal(result):
    """to_json → JSON text → from_json gives back an equal result, for any result."""
    text_form = json.dumps(result.to_json())
    assert DrillResult.from_json(json.loads(text_form)) == result


def test_written_file_reads_back_equal_with_the_schema_version_first(tmp_path):
    """`write` then `read`: equal, and the file starts with the schema it was written in."""
    result = DrillResult.read(PASSED_V1)
    result.write(tmp_path)
    assert DrillResult.read(tmp_path) == result
    raw = json.loads((tmp_path / "result.json").read_text())
    assert next(iter(raw)) == "schema_version" and raw["schema_version"] == SCHEMA_VERSION


def test_utc_keeps_milliseconds_as_iso_always_wrote_them():
    """The runner's times carry what result.json keeps: iso() and the model's JSON agree."""
    ts = 1795760750.532987
    assert utc(ts).isoformat(timespec="milliseconds") == iso(ts)
    assert utc(ts).microsecond == 532000
    assert utc(None) is None


# --- old shapes --------------------------------------------------------------------------


def test_version_1_files_migrate_on_read():
    """A file without schema_version is version 1: detection_lower_bound_s becomes for_seconds
    (with the bound kept), `fault: {}` becomes None, and nothing else changes."""
    raw = json.loads((PASSED_V1 / "result.json").read_text())
    assert "schema_version" not in raw and "detection_lower_bound_s" in raw["alerts"]
    result = DrillResult.from_json(raw)
    assert result.schema_version == SCHEMA_VERSION
    assert result.outcome is Outcome.PASSED
    assert result.alerts is not None and result.alerts.bound_s("AuditAnalysisRestarted") == 1.0
    assert result.ledger == Ledger("bb360d0661cd", 27559, 30207, 2649, 2649, 0, 0, 0, (), "")
    assert result.fault is not None and result.fault.checks[0].passed
    assert result.started_at == datetime(2026, 11, 27, 6, 25, 41, 809000, tzinfo=UTC)
    migrated = result.to_json()
    for key in set(raw) - {"alerts", "ledger"}:
        assert migrated[key] == raw[key], key
    assert {k: migrated["ledger"][k] for k in raw["ledger"]} == raw["ledger"]
    refused = DrillResult.read(REFUSED_V1)
    assert refused.fault is None and refused.outcome is Outcome.TARGET_ERROR


def test_files_written_before_the_jepsen_ledger_and_the_delay_read_with_defaults():
    """A version-2 file without the ledger's new categories or `delay` (every run recorded
    before issue 13) reads as their defaults; a field that is there is still checked."""
    raw = DrillResult.read(PASSED_V1).to_json()
    del raw["delay"]
    for name in ("recovered", "unexpected", "info_sample", "outcomes_source"):
        del raw["ledger"][name]
    result = DrillResult.from_json(raw)
    assert result.delay is None
    assert result.ledger is not None
    assert (result.ledger.recovered, result.ledger.unexpected) == (0, 0)
    assert (result.ledger.info_sample, result.ledger.outcomes_source) == ((), "")
    raw["ledger"]["info"] = "three"
    with pytest.raises(ResultError, match=r"ledger\.info: expected int"):
        DrillResult.from_json(raw)


def test_version_2_files_read_as_runs_without_steps():
    """A version-2 file (every run before composite drills) has no `steps`: it reads as a run
    of a single-fault drill, and a `steps` entry of a version-3 file is checked strictly."""
    raw = DrillResult.read(PASSED_V1).to_json()
    assert raw["schema_version"] == SCHEMA_VERSION and raw["steps"] == []
    old = {**{k: v for k, v in raw.items() if k not in ("steps", "backlog_peaks")}}
    old["schema_version"] = 2
    result = DrillResult.from_json(old)
    assert result.steps == () and result.schema_version == SCHEMA_VERSION
    assert result == DrillResult.read(PASSED_V1)
    step = {
        "name": "broker-down",
        "kind": "service-stop",
        "component": "rabbitmq",
        "start": "right after the baseline",
        "injected_at": "2026-12-03T15:34:49.166+00:00",
        "rolled_back_at": "2026-12-03T15:35:04.266+00:00",
        "ready_at": None,
        "expected_alerts": ["RabbitMQDown"],
        "detected_alerts": ["RabbitMQDown"],
        "detected_at": "2026-12-03T15:34:55.395+00:00",
        "ttd_seconds": 6.229,
        "ttd_source": "prometheus",
        "ttd_reason": "",
    }
    composite = DrillResult.from_json({**raw, "steps": [step]})
    assert composite.steps[0].ttd.seconds == 6.229 and composite.steps[0].missed_alerts == ()
    with pytest.raises(ResultError, match=r"steps\[0\]\.retries|steps.*retries"):
        DrillResult.from_json({**raw, "steps": [{**step, "retries": 3}]})
    with pytest.raises(ResultError, match=r"ttd_seconds"):
        DrillResult.from_json({**raw, "steps": [{**step, "ttd_seconds": "fast"}]})


def test_version_3_files_read_as_runs_without_backlog_peaks():
    """A version-3 file (every run before the peaks were measured) has no `backlog_peaks`: it
    reads as none recorded (the post-mortem then says the limits were not judged); an entry of
    a version-4 file is checked strictly."""
    raw = DrillResult.read(PASSED_V1).to_json()
    old = {**{k: v for k, v in raw.items() if k != "backlog_peaks"}, "schema_version": 3}
    assert DrillResult.from_json(old) == DrillResult.read(PASSED_V1)
    assert DrillResult.from_json(old).backlog_peaks == ()
    peak = {
        "figure": "generator_buffer_peak_events",
        "peak": 5880.0,
        "at": "2026-11-27T06:26:10.000+00:00",
        "source": "prometheus: the largest of 40 raw samples",
        "resolution_s": 1.0,
        "reason": "",
        "limit_figure": "generator_buffer_capacity",
        "limit": 100000.0,
        "limit_source": "prometheus: generator_buffer_capacity",
    }
    (read,) = DrillResult.from_json({**raw, "backlog_peaks": [peak]}).backlog_peaks
    assert (read.peak, read.limit, read.at) == (5880.0, 100000.0, utc(1795760770.0))
    with pytest.raises(ResultError, match=r"backlog_peaks\[0\]\.peak"):
        DrillResult.from_json({**raw, "backlog_peaks": [{**peak, "peak": "high"}]})


def test_a_newer_schema_is_refused_with_what_to_do():
    """A file written by a newer harness is not guessed at: upgrade to read it."""
    raw = {**DrillResult.read(PASSED_V1).to_json(), "schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ResultError, match=r"schema_version: .*newer.*upgrade genesis-drill"):
        DrillResult.from_json(raw, "runs/x/result.json")


# --- a wrong field fails loudly ------------------------------------------------------------


def _renamed(raw, old, new):
    raw[new] = raw.pop(old)


def _set(path, value):
    def change(raw):
        *parents, last = path
        for key in parents:
            raw = raw[key]
        raw[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        (lambda raw: _renamed(raw, "ttd_seconds", "ttd_s"), "ttd_s", "unknown field"),
        (lambda raw: raw.pop("drill"), "drill", "missing"),
        (lambda raw: raw["ledger"].pop("lost"), "ledger.lost", "missing"),
        (_set(["ttr_seconds"], "fast"), "ttr_seconds", "expected float, got a string 'fast'"),
        (_set(["ledger", "lost"], 1.5), "ledger.lost", "expected int, got a number 1.5"),
        (_set(["ledger", "lost"], True), "ledger.lost", "expected int, got a boolean"),
        (_set(["alerts", "fired"], "X"), "alerts.fired", "expected a list"),
        (_set(["objectives", 1, "passed"], "yes"), "objectives[1].passed", "expected bool"),
        (_set(["outcome"], "passd"), "outcome", "'passd' is not one of: passed, failed"),
        (_set(["started_at"], "yesterday"), "started_at", "expected an ISO 8601 time"),
        (_set(["schema_version"], "2"), "schema_version", "not a schema version"),
    ],
)
def test_a_wrong_field_is_an_error_naming_file_and_field(tmp_path, change, field, why):
    """A renamed, missing or mistyped field fails the post-mortem with `file: field: why`
    (exit 2) instead of rendering "n/a"."""
    run_dir = tmp_path / "run"
    shutil.copytree(PASSED_V1, run_dir)
    raw = json.loads((run_dir / "result.json").read_text())
    change(raw)
    (run_dir / "result.json").write_text(json.dumps(raw))
    with pytest.raises(ResultError) as caught:
        context.build(run_dir)
    assert caught.value.path == run_dir / "result.json"
    assert caught.value.field_path == field
    assert why in caught.value.why
    assert str(caught.value).startswith(f"{run_dir / 'result.json'}: {field}: ")
    assert isinstance(caught.value, InvalidInput) and caught.value.exit_code == 2


def test_not_an_object_and_not_json_are_named(tmp_path):
    """A result.json that is a list, or not JSON at all, is InvalidInput naming the file."""
    (tmp_path / "result.json").write_text("[]")
    with pytest.raises(ResultError, match=r"result\.json: not a JSON object"):
        DrillResult.read(tmp_path)
    (tmp_path / "result.json").write_text("{")
    with pytest.raises(InvalidInput, match=r"result\.json: not valid JSON"):
        DrillResult.read(tmp_path)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_result_and_game_day_exit_codes_derive_from_the_outcome(outcome):
    """A result exits with its outcome's code; a game day of one drill agrees for every
    outcome it reports as such (passed, rollback failed, interrupted) and says 1 otherwise."""
    result = DrillResult("r", "d", "t", outcome, "", datetime(2026, 1, 1, tzinfo=UTC))
    assert result.exit_code == outcome.exit_code
    loud = {Outcome.PASSED, Outcome.ROLLBACK_FAILED, Outcome.INTERRUPTED}
    expected = outcome.exit_code if outcome in loud else Outcome.FAILED.exit_code
    assert combined_exit_code([outcome]) == expected


def test_a_boolean_fault_figure_reads_back(tmp_path):
    """pvc-wipe-restore reports `integrity_ok: true`; the strict reader refused its own file
    (`genesis-drill run pvc-wipe-restore` then exited 2 reading the run's history)."""
    from dataclasses import replace

    result = DrillResult.read(PASSED_V1)
    fault = FaultSummary("pvc-wipe-restore", {}, {"integrity_ok": True, "rpo_events": 0}, ())
    replace(result, fault=fault).write(tmp_path)
    back = DrillResult.read(tmp_path)
    assert back.fault is not None and back.fault.figures["integrity_ok"] is True
