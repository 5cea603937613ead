"""The network fault kind in drill files and game-day overrides: every parameter a mode takes is
checked and acted on, every other one refused with file:line: field: why."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.errors import SpecError
from drills.fault_params import fault_params
from drills.faults.network import NetworkFault, report
from drills.faults.registry import build
from drills.spec import load
from drills.targets.netfault import RouteState
from drills.yamlnode import Node, compose_file

DRILL = """\
name: sample
description: a sample drill
target:
  component: {component}
fault:
  kind: network
  params:
{params}
steady_state:
  - name: up
    query: min(up{{job="audit-log-analysis"}})
    tolerance: {{min: 1}}
expected_alerts: [AnalysisNoConsumers]
objectives:
  max_ttd_s: 30
  max_lost: 0
"""


def drill(tmp_path: Path, params: str, component: str = "audit-log-analysis") -> Path:
    path = tmp_path / "drill.yaml"
    body = "\n".join(f"    {line}" for line in params.strip().splitlines())
    path.write_text(DRILL.format(component=component, params=body))
    return path


def test_each_mode_loads_and_builds_the_fault_it_names(tmp_path):
    """A valid file per mode builds a NetworkFault with exactly the values it gave."""
    cases = {
        "route: analysis-postgres\nmode: latency\nlatency_ms: 200\njitter_ms: 20\nduration_s: 30": (
            "analysis-postgres",
            "latency",
            {"latency_ms": 200.0, "jitter_ms": 20.0},
        ),
        "route: analysis-rabbitmq\nmode: bandwidth\nbandwidth_kbps: 64\nduration_s: 10": (
            "analysis-rabbitmq",
            "bandwidth",
            {"bandwidth_kbps": 64.0},
        ),
        "route: analysis-rabbitmq\nmode: blackhole\nduration_s: 30": (
            "analysis-rabbitmq",
            "blackhole",
            {},
        ),
        "route: analysis-postgres\nmode: reset\nduration_s: 0": ("analysis-postgres", "reset", {}),
        "route: analysis-postgres\nmode: partition\nduration_s: 40": (
            "analysis-postgres",
            "partition",
            {},
        ),
    }
    for params, (route, mode, values) in cases.items():
        spec = load(drill(tmp_path, params))
        fault = build(spec.fault)
        assert isinstance(fault, NetworkFault)
        assert (fault.route, fault.mode) == (route, mode)
        sent = fault._fault("id-1")
        assert {k: v for k, v in sent.items() if k not in ("mode", "duration_s", "id")} == values


@pytest.mark.parametrize(
    ("params", "line", "field", "why"),
    [
        (
            "route: analysis-rabbitmq\nmode: blackhole\nduration_s: 30\nlatency_ms: 100",
            11,
            "fault.params.latency_ms",
            "not a parameter of mode blackhole (it takes duration_s)",
        ),
        (
            "route: analysis-postgres\nmode: latency\nduration_s: 30",
            9,
            "fault.params.mode",
            "mode latency needs params.latency_ms",
        ),
        (
            "route: analysis-postgres\nmode: latency\nlatency_ms: 10\njitter_ms: 50\nduration_s: 5",
            11,
            "fault.params.jitter_ms",
            "must not exceed latency_ms (10), got 50",
        ),
        (
            "route: analysis-postgres\nmode: partition\nduration_s: 0.5",
            10,
            "fault.params.duration_s",
            "must be at least 1 s for mode partition",
        ),
        (
            "route: analysis-redis\nmode: partition\nduration_s: 5",
            8,
            "fault.params.route",
            "must be one of analysis-rabbitmq, analysis-postgres, dashboard-postgres",
        ),
        (
            "route: analysis-postgres\nmode: blackhole\nduration_s: 7200",
            10,
            "fault.params.duration_s",
            "3600",
        ),
        (
            "route: analysis-postgres\nmode: flood\nduration_s: 5",
            9,
            "fault.params.mode",
            "must be one of latency, bandwidth, blackhole, reset, partition",
        ),
        (
            "route: analysis-postgres\nduration_s: 5",
            8,
            "fault.params",
            "mode",
        ),
    ],
)
def test_bad_network_params_name_the_file_line_and_field(tmp_path, params, line, field, why):
    """Each refusal names the exact field; nothing parsed is silently ignored."""
    path = drill(tmp_path, params)
    with pytest.raises(SpecError) as info:
        load(path)
    error = info.value
    assert (error.line, error.field_path) == (line, field), str(error)
    assert why in error.why, str(error)


def test_the_route_must_carry_the_drills_target(tmp_path):
    """route dashboard-postgres is the dashboard's: a drill targeting the analysis is refused."""
    path = drill(tmp_path, "route: dashboard-postgres\nmode: partition\nduration_s: 5")
    with pytest.raises(SpecError, match=r"target\.component must be event-audit-dashboard"):
        load(path)
    params = "route: dashboard-postgres\nmode: partition\nduration_s: 5"
    assert load(drill(tmp_path, params, "event-audit-dashboard")).target == "event-audit-dashboard"


def _params(path: Path) -> Node:
    root = compose_file(path)
    assert root is not None
    return Node(path, root, "params")


def test_game_day_overrides_are_checked_against_the_drills_own_params(tmp_path):
    """A game-day step overriding latency_ms of a blackhole drill is refused (it would never be
    acted on); overriding duration_s alone is fine."""
    overrides = tmp_path / "o.yaml"
    overrides.write_text("latency_ms: 50\n")
    node = _params(overrides)
    base = {"route": "analysis-rabbitmq", "mode": "blackhole", "duration_s": 30.0}
    with pytest.raises(SpecError, match="not a parameter of mode blackhole"):
        fault_params("network", node, base=base, component="audit-log-analysis")
    overrides.write_text("duration_s: 10\n")
    node = _params(overrides)
    given = fault_params("network", node, base=base, component="audit-log-analysis")
    assert given["duration_s"] == 10.0


def _state(stats: dict[str, float], fault: dict[str, object] | None, history=()) -> RouteState:
    return RouteState("analysis-rabbitmq", True, fault, None, 1, stats, tuple(history))


def test_report_judges_a_blackhole_from_the_proxys_counters():
    """Bytes dropped and no reset during the hold pass; a reset during it fails the check."""
    from drills.faults.base import Injection
    from drills.faults.network import Look

    fault = NetworkFault("analysis-rabbitmq", "blackhole", 30)
    fault.fault_id = "run:analysis-rabbitmq"
    fault.before = _state({"dropped_bytes": 0, "resets": 2}, {"mode": "blackhole"})
    fault.looks = [
        Look(1.0 + i, 1, True, "blackhole", {"dropped_bytes": 100.0 * i, "resets": 2})
        for i in range(1, 5)
    ]
    fault.after = _state({}, None, [{"id": fault.fault_id, "ended": "expired", "ended_at": 130.0}])
    result = report(fault, Injection(100.0, "test"), 140.0)
    assert result.figures["held_seconds"] == 30.0 and result.figures["ended"] == "expired"
    assert result.figures["dropped_bytes"] == 400 and result.figures["resets_during"] == 0
    assert all(check.passed for check in result.checks), result.checks
    fault.looks[-1] = Look(5.0, 0, True, "blackhole", {"dropped_bytes": 400.0, "resets": 3})
    failed = {c.name for c in report(fault, Injection(100.0, "test"), 140.0).checks if not c.passed}
    assert failed == {"connections kept open through the blackhole (none reset by the proxy)"}
