"""Drill files: the catalog is valid, and every error names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.errors import SpecError
from drills.fault_params import FAULT_KINDS
from drills.spec import load
from tests import REPO_ROOT

CATALOG = REPO_ROOT / "drills" / "catalog"
VALID = """\
name: sample
description: a sample drill
target:
  component: rabbitmq
fault:
  kind: service-stop
  params:
    duration_s: 5
steady_state:
  - name: up
    query: min(up{job="rabbitmq"})
    tolerance: {min: 1}
expected_alerts: [RabbitMQDown]
objectives:
  max_ttd_s: 30
  max_lost: 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_every_catalog_drill_is_valid_and_the_seed_four_are_there():
    """The shipped catalog loads, and has the four seed drills with distinct fault kinds."""
    specs = {load(path).name: load(path) for path in sorted(CATALOG.glob("*.yaml"))}
    assert {"pod-kill", "rabbitmq-outage", "malformed-events", "pvc-wipe-restore"} <= set(specs)
    assert {spec.fault.kind for spec in specs.values()} == set(FAULT_KINDS)
    for spec in specs.values():
        # every drill proves an alert: one it expects, or a heartbeat whose silence is told
        assert spec.expected_alerts or spec.fault.params.get("heartbeat"), spec.name
        assert spec.objectives.max_lost == 0


def test_valid_file_loads_with_defaults_filled(tmp_path):
    """Omitted optional fields get documented defaults, parameters are typed."""
    spec = load(write(tmp_path, VALID))
    assert spec.fault.params == {
        "duration_s": 5.0,
        "mode": "kill",
        "check_counters": False,
        "heartbeat": "",
        "told_within_s": 30.0,
    }
    assert spec.load.rate == 200.0
    assert spec.recovery_samples == 5
    assert spec.objectives.max_duplicated == 0
    assert spec.abort.max_duration_s == 600.0


@pytest.mark.parametrize(
    ("change", "line", "field", "why"),
    [
        (
            ("  component: rabbitmq", "  component: kafka"),
            4,
            "target.component",
            "unknown component",
        ),
        (("  kind: service-stop", "  kind: meteor"), 6, "fault.kind", "unknown fault kind"),
        (("    duration_s: 5", "    duration_s: soon"), 8, "fault.params.duration_s", "number"),
        (("    duration_s: 5", "    duration: 5"), 8, "fault.params.duration", "unknown field"),
        (
            ("    tolerance: {min: 1}", "    tolerance: {min: 3, max: 1}"),
            12,
            "steady_state[0].tolerance",
            "greater than max",
        ),
        (("  max_ttd_s: 30", "  max_ttd_s: -1"), 15, "objectives.max_ttd_s", "> 0"),
        (("  max_lost: 0", "  max_lost: 0.5"), 16, "objectives.max_lost", "integer"),
        (("name: sample", "name: Bad Name"), 1, "name", "lowercase"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, change, line, field, why):
    """Each kind of mistake is reported as file:line: field: why."""
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(SpecError) as info:
        load(path)
    error = info.value
    assert (error.line, error.field_path) == (line, field), str(error)
    assert why in error.why
    assert str(error).startswith(f"{path}:{line}: {field}: ")


def test_missing_required_field_is_named(tmp_path):
    """A missing top-level field is named, at the line of its parent."""
    path = write(tmp_path, VALID.replace("expected_alerts: [RabbitMQDown]\n", ""))
    with pytest.raises(SpecError, match="missing required field 'expected_alerts'"):
        load(path)


def test_broken_yaml_reports_the_line(tmp_path):
    """A YAML syntax error gives the line where the parser stopped."""
    path = write(tmp_path, VALID.replace("  component: rabbitmq", "  component: [rabbitmq"))
    with pytest.raises(SpecError) as info:
        load(path)
    assert info.value.line is not None and 4 <= info.value.line <= 6
    assert "not valid YAML" in str(info.value)


def test_empty_and_missing_files_are_invalid_input(tmp_path):
    """An empty file and a missing file are errors with exit code 2, not tracebacks."""
    with pytest.raises(SpecError, match="empty") as info:
        load(write(tmp_path, ""))
    assert info.value.exit_code == 2
    with pytest.raises(SpecError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_duplicate_keys_are_rejected(tmp_path):
    """A key given twice is an error rather than the last one silently winning."""
    path = write(tmp_path, VALID + "name: other\n")
    with pytest.raises(SpecError, match="duplicate key") as info:
        load(path)
    assert info.value.line == 17


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            ("  max_lost: 0", "  max_lost: 0\nabort:\n  max_duration_s: .nan"),
            "abort.max_duration_s",
        ),
        (("    duration_s: 5", "    duration_s: .inf"), "fault.params.duration_s"),
        (
            ("    tolerance: {min: 1}", "    tolerance: {min: .nan}"),
            "steady_state[0].tolerance.min",
        ),
        (
            ("    tolerance: {min: 1}", "    tolerance: {max: -.inf}"),
            "steady_state[0].tolerance.max",
        ),
        (("  max_ttd_s: 30", "  max_ttd_s: .nan"), "objectives.max_ttd_s"),
        (
            ("  max_ttd_s: 30", "  max_ttd_s: 30\n  max_error_budget: .inf"),
            "objectives.max_error_budget",
        ),
        (("  max_lost: 0", "  max_lost: 0\nload: {rate: .NaN}"), "load.rate"),
    ],
)
def test_non_finite_numbers_are_rejected(tmp_path, change, field):
    """NaN and ±inf would switch a limit or a tolerance off; each is an error naming the field."""
    with pytest.raises(SpecError) as info:
        load(write(tmp_path, VALID.replace(*change)))
    assert info.value.field_path == field
    assert "finite" in info.value.why


@pytest.mark.parametrize(
    ("change", "field", "bound"),
    [
        (("    duration_s: 5", "    duration_s: 86401"), "fault.params.duration_s", "86400"),
        (("  max_lost: 0", "  max_lost: 0\nload: {rate: 1.0e+15}"), "load.rate", "1e+06"),
        (
            ("  max_lost: 0", "  max_lost: 0\nload: {baseline_s: 1.0e+9}"),
            "load.baseline_s",
            "86400",
        ),
        (
            ("  max_lost: 0", "  max_lost: 0\nabort: {max_duration_s: 1.0e+9}"),
            "abort.max_duration_s",
            "86400",
        ),
        (("  max_ttd_s: 30", "  max_ttd_s: 100000"), "objectives.max_ttd_s", "86400"),
        (
            ("  max_lost: 0", "  max_lost: 0\nrecovery: {samples: 100000}"),
            "recovery.samples",
            "1000",
        ),
        (
            ("  max_lost: 0", "  max_lost: 0\nrecovery: {backlog_max: 1.0e+12}"),
            "recovery.backlog_max",
            "1e+09",
        ),
        (("  max_lost: 0", "  max_lost: 99999999999"), "objectives.max_lost", "1000000"),
    ],
)
def test_numbers_above_their_bound_are_rejected(tmp_path, change, field, bound):
    """A day-plus duration or a rate the generator refuses is an error naming field and bound."""
    with pytest.raises(SpecError) as info:
        load(write(tmp_path, VALID.replace(*change)))
    assert info.value.field_path == field
    assert f"<= {bound}" in info.value.why


def test_malformed_event_count_is_bounded(tmp_path):
    """The malformed-events count has a maximum in its Param, reported with the bound."""
    text = VALID.replace("kind: service-stop", "kind: malformed-events").replace(
        "duration_s: 5", "count: 100000000"
    )
    with pytest.raises(SpecError) as info:
        load(write(tmp_path, text))
    assert info.value.field_path == "fault.params.count"
    assert "<= 1000000" in info.value.why


def test_rate_bound_is_the_generators():
    """The load-rate bound is exactly what the generator's admin API accepts."""
    from auditflow.generator.settings import MAX_RATE
    from drills import spec

    assert spec.MAX_RATE == MAX_RATE


def test_every_catalog_drill_waits_on_the_exact_backlog_with_a_broker_cross_check():
    """The seed drills drain on the generator's events not yet stored (issue 13), each keeping
    its broker-side query as the live check and the cross-check."""
    for path in sorted(CATALOG.glob("*.yaml")):
        spec = load(path)
        assert spec.backlog_source == "events", spec.name
        assert spec.backlog_query and "rabbitmq_queue_messages" in spec.backlog_query, spec.name


@pytest.mark.parametrize(
    ("recovery", "source"),
    [
        ("", ""),  # no backlog at all
        ("recovery: {backlog_query: sum(generator_buffer_events)}", "query"),  # older files
        ("recovery: {backlog_source: events}", "events"),
        (
            "recovery: {backlog_source: query, backlog_query: sum(generator_buffer_events)}",
            "query",
        ),
    ],
)
def test_backlog_source_defaults_to_the_query_a_file_gives(tmp_path, recovery, source):
    """`recovery.backlog_source` is optional: a file with only a backlog_query waits on it, as
    it did before the exact backlog existed."""
    spec = load(write(tmp_path, VALID + recovery + "\n"))
    assert spec.backlog_source == source


@pytest.mark.parametrize(
    ("recovery", "why"),
    [
        ("recovery: {backlog_source: broker}", "must be one of events, query, got 'broker'"),
        ("recovery: {backlog_source: query}", "recovery.backlog_query is not set"),
    ],
)
def test_a_bad_backlog_source_names_the_field(tmp_path, recovery, why):
    """An unknown source, or the query source without a query, is refused at load time."""
    with pytest.raises(SpecError) as info:
        load(write(tmp_path, VALID + recovery + "\n"))
    assert info.value.field_path == "recovery.backlog_source"
    assert why in info.value.why
    assert info.value.line == VALID.count("\n") + 1


def test_told_within_without_a_heartbeat_is_refused_with_its_line(tmp_path):
    """`told_within_s` only means something with `heartbeat`: parsed and never acted on would
    be a silent no-op, so it is an error naming the field."""
    text = VALID.replace("    duration_s: 5\n", "    duration_s: 5\n    told_within_s: 10\n")
    with pytest.raises(SpecError) as caught:
        load(write(tmp_path, text))
    assert "told_within_s" in str(caught.value) and "heartbeat" in str(caught.value)
    ok = text.replace("    told_within_s: 10\n", "    told_within_s: 10\n    heartbeat: Watchdog\n")
    assert load(write(tmp_path, ok)).fault.params["told_within_s"] == 10.0
