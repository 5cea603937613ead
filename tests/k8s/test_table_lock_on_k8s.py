"""db-lock-stall on the Kubernetes target, against the SIMULATED API server.

The lock is SQL over the target's admin DSN (the cluster's PostgreSQL through a port-forward or
in-cluster DNS, as pvc-wipe-restore's bootstrap uses), so the drill is not refused on
Kubernetes; what the simulated API cannot give is a PostgreSQL, and then the preflight refuses
with a reason that says how the harness reaches it. The lock itself is proven on the sandbox.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.faults.base import FaultContext
from drills.faults.table_lock import TableLock
from drills.journal import Journal
from drills.secret import Secret
from drills.spec import load
from drills.targets.k8s_settings import KubeSettings
from tests import REPO_ROOT
from tests.k8s.conftest import make_target
from tests.k8s.simulated_api import SimulatedApiServer, SimulatedCluster
from tests.k8s.test_drills_on_k8s import kubeconfig

pytestmark = pytest.mark.k8s


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("drill", "mode"),
    [
        ("db-lock-stall", "EXCLUSIVE"),
        ("latency-budget-burn", "EXCLUSIVE"),
        ("migration-lock", "ACCESS EXCLUSIVE"),
    ],
)
def test_dry_run_on_kubernetes_shows_the_lock_and_touches_nothing(
    drill: str,
    mode: str,
    server: SimulatedApiServer,
    cluster: SimulatedCluster,
    tmp_path: Path,
    monkeypatch,
) -> None:
    monkeypatch.setenv("GENESIS_K8S_KUBECONFIG", str(kubeconfig(tmp_path / "config", server.url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = CliRunner().invoke(cli, ["run", drill, "--target", "kubernetes", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "kube context: k3s-pi5" in result.output
    assert f"LOCK TABLE audit_events IN {mode} MODE" in result.output
    assert "terminate the journaled backend" in result.output
    assert cluster.mutations == []


def test_preflight_without_sql_access_refuses_and_says_how_to_get_it(
    server: SimulatedApiServer, cluster: SimulatedCluster, tmp_path: Path
) -> None:
    port = closed_port()
    settings = dataclasses.replace(
        KubeSettings(),
        secret_urls={
            "postgres-admin": Secret(
                f"host=127.0.0.1 port={port} user=postgres password=s3cr3t-pw-77"
            )
        },
    )
    target = make_target(server.url, settings)
    spec = load(REPO_ROOT / "drills" / "catalog" / "db-lock-stall.yaml")
    ctx = FaultContext(
        spec, target, target.endpoints(), Journal(tmp_path), tmp_path, lambda _k, _d: None
    )
    reasons = TableLock(30).preflight(ctx)
    assert len(reasons) == 1, reasons
    assert f"cannot connect to auditflow at 127.0.0.1:{port} as postgres" in reasons[0]
    assert "GENESIS_K8S_PG_ADMIN_DSN" in reasons[0] and "port-forward" in reasons[0]
    assert "s3cr3t-pw-77" not in reasons[0]
    assert cluster.mutations == []
