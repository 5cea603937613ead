"""Reading the Prometheus alerting rules the platform loads: the packaged rule set (16 alerting
rules today, recording rules left out), file:line of each rule, durations, and rule files that
Prometheus would refuse refused the same way, naming the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills import packaged
from drills.alert_rules import (
    load_rule_file,
    load_rules,
    parse_duration,
    platform_rule_files,
    rule_files,
)
from drills.errors import InvalidInput, SpecError

MANIFEST_RULES = Path(__file__).resolve().parents[2] / "manifests" / "base" / "monitoring" / "rules"


def test_the_packaged_rules_are_18_alerting_rules_without_the_recording_rules():
    """auditflow-alerts.yml holds the 18 alerts (the Watchdog heartbeat among them);
    auditflow-slis.yml only recording rules."""
    files = platform_rule_files(packaged.monitoring())
    assert [f.name for f in files] == ["auditflow-alerts.yml", "auditflow-slis.yml"]
    rules = load_rules(files)
    assert len(rules) == 18
    assert len({r.name for r in rules}) == 18
    assert not any(r.name.startswith("sli:") for r in rules)
    assert load_rule_file(files[1]) == ()  # recording rules only
    # The kustomize copy Kubernetes loads is the same rule set.
    assert [r.name for r in load_rules(rule_files([MANIFEST_RULES]))] == [r.name for r in rules]


def test_each_rule_knows_its_line_its_for_and_its_labels():
    """`where` points at the `- alert:` line of the file; `for:` is in seconds."""
    rules = {r.name: r for r in load_rules(platform_rule_files(packaged.monitoring()))}
    rabbit = rules["RabbitMQDown"]
    lines = rabbit.file.read_text().splitlines()
    assert lines[rabbit.line - 1].strip() == "- alert: RabbitMQDown"
    assert rabbit.where == f"{rabbit.file}:{rabbit.line}"
    assert rabbit.for_s == 5.0
    assert rabbit.labels == {"severity": "critical", "component": "rabbitmq"}
    assert rules["AuditAnalysisRestarted"].for_s == 0.0  # no `for:`
    assert rules["EventLatencyBudgetBurnSlow"].for_s == 60.0
    assert "rabbitmq_queue_messages_ready" in rules["QueueBacklogGrowing"].expr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("5s", 5.0), ("1m30s", 90.0), ("2h", 7200.0), ("1d", 86400.0), ("250ms", 0.25)],
)
def test_prometheus_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5s", "30s1m", "5 s", "-5s", "1x"])
def test_what_is_not_a_prometheus_duration(text):
    """Prometheus refuses these (units largest first, integers only), so the reader does too."""
    assert parse_duration(text) is None


GOOD = """\
groups:
  - name: team
    rules:
      - record: job:up:sum
        expr: sum(up)
      - alert: TeamDown
        expr: up{job="team"} == 0
        for: 1m
        labels: {severity: page, tier: 1}
"""


def _file(tmp_path: Path, text: str, name: str = "team.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_users_rule_file_is_read_with_its_line(tmp_path):
    (rule,) = load_rule_file(_file(tmp_path, GOOD))
    assert (rule.name, rule.line, rule.for_s) == ("TeamDown", 6, 60.0)
    assert rule.labels == {"severity": "page", "tier": "1"}  # Prometheus reads label values as text


HEAD = "groups:\n  - name: x\n    rules:\n"  # lines 1-3; the first rule starts on line 4
A = "      - alert: A\n"


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        (HEAD + A + "        expr: [up\n", ":6", "not valid YAML"),
        (HEAD + A + "        expr: up\n        for: 5\n", ":6: groups[0].rules[0].for",
         "not a Prometheus duration"),
        (HEAD + A + "        record: b\n        expr: up\n", ":4: groups[0].rules[0]",
         "exactly one of 'alert'"),
        (HEAD + A + "        exp: up\n", ":5: groups[0].rules[0].exp", "unknown field"),
        (HEAD + A + "        expr: up\n        labels: {a: [1]}\n",
         ":6: groups[0].rules[0].labels.a", "must be a single value"),
        (HEAD + "      - record: a\n        expr: up\n        for: 1m\n",
         ":6: groups[0].rules[0].for", "not allowed in a recording rule"),
        ("groups:\n  - name: x\n    rules: []\n  - name: x\n", ":4: groups[1].name", "repeated"),
        ("rules: []\n", ":1: rules", "unknown field"),
    ],
)  # fmt: skip
def test_an_invalid_rule_file_is_one_error_naming_file_line_and_field(tmp_path, text, where, why):
    path = _file(tmp_path, text)
    with pytest.raises(SpecError) as error:
        load_rule_file(path)
    assert str(error.value).startswith(f"{path}{where}")
    assert why in str(error.value)
    assert error.value.exit_code == 2


def test_an_empty_rule_file_and_an_empty_group_hold_no_rules(tmp_path):
    """Prometheus loads both without complaint: no rules, no error."""
    assert load_rule_file(_file(tmp_path, "")) == ()
    assert load_rule_file(_file(tmp_path, "groups:\n  - name: x\n    rules:\n", "b.yml")) == ()


def test_rule_paths_expand_directories_and_name_what_is_missing(tmp_path):
    _file(tmp_path, GOOD, "a.yml")
    _file(tmp_path, GOOD, "b.yaml")
    _file(tmp_path, "not rules", "notes.txt")
    assert [p.name for p in rule_files([tmp_path])] == ["a.yml", "b.yaml"]
    with pytest.raises(InvalidInput, match="no such rule file"):
        rule_files([tmp_path / "missing.yml"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="no Prometheus rule files"):
        rule_files([tmp_path / "empty"])
