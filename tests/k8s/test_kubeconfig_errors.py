"""Every unusable kubeconfig ends as one line naming the file and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.main import cli

pytestmark = pytest.mark.k8s

NO_CURRENT = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: secret-token-in-kubeconfig}}]
"""


def _files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    garbage = tmp_path / "hostname"
    garbage.write_text("some-host\n")  # YAML, but a string: the client raised TypeError
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [{name: u, user: {token: secret-token-in-kubeconfig}\n")
    no_context = tmp_path / "no-context.yaml"
    no_context.write_text(NO_CURRENT)
    return {
        "garbage": (garbage, "not a valid kubeconfig file"),
        "broken-yaml": (broken, "not a valid kubeconfig file at line"),
        "missing": (tmp_path / "absent" / "config", "no such file"),
        "directory": (tmp_path, "not a regular file"),
        "no-current-context": (no_context, "no current context"),
    }


@pytest.mark.parametrize(
    "case", ["garbage", "broken-yaml", "missing", "directory", "no-current-context"]
)
@pytest.mark.parametrize("variable", ["KUBECONFIG", "GENESIS_K8S_KUBECONFIG"])
def test_unusable_kubeconfig_is_one_line_naming_the_file(case, variable, tmp_path, monkeypatch):
    """KUBECONFIG / GENESIS_K8S_KUBECONFIG pointing at garbage, a missing file, a directory or a
    config without a current context: exit 2, the file named, no traceback, no token quoted."""
    path, why = _files(tmp_path)[case]
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("GENESIS_K8S_KUBECONFIG", raising=False)
    monkeypatch.setenv(variable, str(path))
    result = CliRunner().invoke(cli, ["run", "pod-kill", "--target", "kubernetes", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"kubeconfig {path}" in result.output and why in result.output
    assert "secret-token-in-kubeconfig" not in result.output
