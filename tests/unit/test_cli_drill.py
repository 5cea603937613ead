"""`genesis-drill run | validate | list` at the edge: clear messages and distinct exit codes."""

from __future__ import annotations

from click.testing import CliRunner

from drills.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_list_shows_the_catalog_with_descriptions():
    """`list` names each seed drill with its one-line description."""
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("pod-kill", "rabbitmq-outage", "malformed-events", "pvc-wipe-restore"):
        assert name in result.output
    assert "Hard-stop the RabbitMQ broker" in result.output


def test_validate_accepts_the_catalog():
    """`validate drills/catalog` checks every file and exits 0."""
    result = invoke("validate", "drills/catalog")
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") >= 4


def test_validate_takes_catalog_drills_by_name_from_any_directory(tmp_path, monkeypatch):
    """`validate pod-kill` checks the packaged catalog drill (no checkout needed); an unknown
    bare name is one error listing the catalog, exit 2."""
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", "pod-kill", "rabbitmq-outage")
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == 2 and "pod-kill.yaml (pod-kill: " in result.output
    result = invoke("validate", "volcano")
    assert result.exit_code == 2
    known = "catalog: db-lock-stall, malformed-events, notification-outage, pod-kill"
    assert f"unknown drill 'volcano' ({known}" in result.output


def test_validate_reports_file_line_field_and_exits_2(tmp_path):
    """A broken drill file is reported as file:line: field: why, exit 2, no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ndescription: x\ntarget:\n  component: nowhere\nfault: {kind: process-kill}\n"
        "steady_state: []\nexpected_alerts: []\nobjectives: {max_lost: 0}\n"
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:4: target.component: unknown component" in result.output
    assert "Traceback" not in result.output


def test_run_unknown_drill_is_invalid_input():
    """`run` with a name not in the catalog exits 2 and lists what exists."""
    result = invoke("run", "volcano")
    assert result.exit_code == 2
    assert "unknown drill 'volcano'" in result.output
    assert "rabbitmq-outage" in result.output


def test_run_broken_yaml_file_is_invalid_input(tmp_path):
    """`run` with a YAML file that does not parse exits 2 naming the file and line."""
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\ndescription: [unclosed\n")
    result = invoke("run", str(bad))
    assert result.exit_code == 2
    assert str(bad) in result.output and "not valid YAML" in result.output


def test_dry_run_prints_the_plan_without_a_platform(tmp_path):
    """`run --dry-run` resolves the target and prints the plan; nothing needs to be running."""
    result = invoke(
        "run",
        "rabbitmq-outage",
        "--dry-run",
        "--state-dir",
        str(tmp_path / "state"),
        "--port-base",
        "28600",
    )
    assert result.exit_code == 0, result.output
    assert "stop rabbitmq (SIGKILL then keep stopped)" in result.output
    assert "hold it down for 20 s" in result.output
    assert "rollback" in result.output


def test_kubernetes_target_refuses_kube_system(monkeypatch):
    """The Kubernetes target in kube-system is invalid input (exit 2), before any connection."""
    monkeypatch.setenv("GENESIS_K8S_NAMESPACE", "kube-system")
    result = invoke("run", "pod-kill", "--target", "kubernetes")
    assert result.exit_code == 2
    assert "kube-system" in result.output
