"""Drill files: the catalog is valid, and every error names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.settings import REPO_ROOT
from drills.spec import FAULT_KINDS, SpecError, load

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
        assert spec.expected_alerts, spec.name
        assert spec.objectives.max_lost == 0


def test_valid_file_loads_with_defaults_filled(tmp_path):
    """Omitted optional fields get documented defaults, parameters are typed."""
    spec = load(write(tmp_path, VALID))
    assert spec.fault.params == {"duration_s": 5.0, "mode": "kill"}
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
