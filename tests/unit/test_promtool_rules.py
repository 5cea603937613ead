"""The Prometheus rules pass promtool check and the promtool unit tests in tests/promtool.

The files checked are the packaged ones (`drills/monitoring/`, what the sandbox loads and the
source of the manifests' byte-identical copies); the promtool test files name them relatively.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from drills import packaged

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((packaged.monitoring() / "rules").glob("*.yml"))
TESTS = sorted((ROOT / "tests" / "promtool").glob("*.test.yml"))
ALERTMANAGER = packaged.monitoring() / "alertmanager.yml"

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")

pytestmark = [
    pytest.mark.promtool,
    pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)"),
]


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    output = f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}"
    print(output)
    assert result.returncode == 0, output


def test_rule_files_exist() -> None:
    """There are rule files and promtool test files to check (a typo in a path cannot pass)."""
    assert RULES, "no rule files under drills/monitoring/rules"
    assert TESTS, "no *.test.yml under tests/promtool"


def test_promtool_check_rules() -> None:
    """Every rule file is valid PromQL/YAML according to promtool check rules."""
    assert PROMTOOL is not None
    _run([PROMTOOL, "check", "rules", *map(str, RULES)])


def test_promtool_unit_tests() -> None:
    """Every alert fires (and stays silent) as the promtool unit tests expect."""
    assert PROMTOOL is not None
    _run([PROMTOOL, "test", "rules", *map(str, TESTS)])


def test_every_alert_has_a_promtool_test() -> None:
    """Each alert defined in the rules is exercised by name in some promtool test file."""

    alerts = {
        rule["alert"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts, "no alerts found"
    assert alerts - tested == set(), f"alerts never shown firing in a test: {alerts - tested}"


def test_every_alert_has_required_labels_and_annotations() -> None:
    """Each alert carries severity and component labels and summary/description/runbook."""

    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                assert {"severity", "component"} <= set(rule.get("labels", {})), rule["alert"]
                assert {"summary", "description", "runbook"} <= set(rule.get("annotations", {})), (
                    rule["alert"]
                )


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (Debian: prometheus-alertmanager)")
def test_alertmanager_config_is_valid() -> None:
    """The Alertmanager configuration passes amtool check-config."""
    assert AMTOOL is not None
    _run([AMTOOL, "check-config", str(ALERTMANAGER)])
