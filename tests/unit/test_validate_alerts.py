"""`genesis-drill validate` refuses an expected alert that no alerting rule defines, naming the
file:line and the known alerts; `--rules` adds another platform's rules. Loading a drill stays
platform-free (tests and user catalogs load drills with alerts of their own)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from drills import packaged
from drills.cli.main import cli
from drills.expected_alerts import alert_names, rule_files, unknown_expected_alerts
from drills.sandbox.configs import rule_files as sandbox_rule_files
from drills.spec import load
from tests import REPO_ROOT
from tests.unit.test_spec import VALID

EXTRA_RULES = """\
groups:
  - name: mine
    interval: 5s
    rules:
      - record: job:up:sum
        expr: sum(up)
      - alert: NoSuchAlert
        expr: vector(1)
        for: 1s
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def drill(tmp_path: Path, alerts: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(VALID.replace("expected_alerts: [RabbitMQDown]", f"expected_alerts: {alerts}"))
    return path


def test_an_alert_no_rule_defines_fails_with_its_file_line_and_the_known_names(tmp_path):
    path = drill(tmp_path, "[NoSuchAlert]")
    line = VALID.splitlines().index("expected_alerts: [RabbitMQDown]") + 1
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: expected_alerts[0]: no alerting rule defines 'NoSuchAlert'" in (
        result.output
    )
    assert "known alerts: " in result.output and "RabbitMQDown" in result.output
    assert "PostgresDown" in result.output and "Traceback" not in result.output
    assert "ok:" not in result.output


def test_each_bad_entry_of_a_block_list_names_its_own_line(tmp_path):
    path = drill(tmp_path, "\n  - RabbitMQDown\n  - Nope1\n  - Nope2")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    first = VALID.splitlines().index("expected_alerts: [RabbitMQDown]") + 1
    assert f"{path}:{first + 2}: expected_alerts[1]: no alerting rule defines 'Nope1'" in (
        result.output
    )
    assert f"{path}:{first + 3}: expected_alerts[2]: no alerting rule defines 'Nope2'" in (
        result.output
    )
    assert "'RabbitMQDown'" not in result.output


def test_extra_rules_of_another_platform_make_the_alert_known(tmp_path):
    path = drill(tmp_path, "[RabbitMQDown, NoSuchAlert]")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yaml").write_text(EXTRA_RULES)
    for given in (rules, rules / "mine.yaml"):
        result = invoke("validate", "--rules", str(given), str(path))
        assert result.exit_code == 0, result.output
        assert f"ok: {path}" in result.output
    assert "job:up:sum" not in alert_names(rule_files([rules]))  # a recording rule is no alert


def test_bad_rule_paths_and_files_are_invalid_input_not_tracebacks(tmp_path):
    path = drill(tmp_path, "[RabbitMQDown]")
    missing = tmp_path / "nowhere.yml"
    result = invoke("validate", "--rules", str(missing), str(path))
    assert result.exit_code == 2 and f"{missing}: no such rule file or directory" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("validate", "--rules", str(empty), str(path))
    assert result.exit_code == 2 and "no Prometheus rule files" in result.output
    not_rules = tmp_path / "drill-as-rules.yml"
    not_rules.write_text(VALID)
    result = invoke("validate", "--rules", str(not_rules), str(path))
    assert result.exit_code == 2
    assert f"{not_rules}:1: name: unknown field (allowed: groups)" in result.output
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: [x\n")
    result = invoke("validate", "--rules", str(broken), str(path))
    assert result.exit_code == 2 and str(broken) in result.output
    assert "Traceback" not in result.output


def test_every_catalog_drill_expects_only_alerts_the_packaged_rules_define():
    known = alert_names(rule_files())
    for path in sorted((REPO_ROOT / "drills" / "catalog").glob("*.yaml")):
        spec = load(path)
        assert unknown_expected_alerts(spec, known) == [], path
    result = invoke("validate", "drills/catalog")
    assert result.exit_code == 0, result.output


def test_the_packaged_rules_are_the_ones_the_sandbox_loads():
    assert rule_files() == sandbox_rule_files(packaged.monitoring())


def test_loading_a_drill_does_not_check_alerts_against_any_platform(tmp_path):
    """Tests with custom specs and user catalogs load drills whose alerts are their own."""
    assert load(drill(tmp_path, "[NoSuchAlert]")).expected_alerts == ("NoSuchAlert",)


def test_a_heartbeat_no_rule_defines_is_refused(tmp_path):
    """The dead man's switch's heartbeat must be an alert the platform's rules define (the
    packaged Watchdog is); another name fails validation naming the field."""
    known = alert_names(rule_files())
    assert "Watchdog" in known
    text = VALID.replace("    duration_s: 5\n", "    duration_s: 5\n    heartbeat: Watchdg\n")
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    errors = unknown_expected_alerts(load(path), known)
    assert [e.field_path for e in errors] == ["fault.params.heartbeat"]
    assert "Watchdg" in str(errors[0])
    path.write_text(text.replace("Watchdg", "Watchdog"))
    assert unknown_expected_alerts(load(path), known) == []
