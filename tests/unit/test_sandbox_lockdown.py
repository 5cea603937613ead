"""The sandbox's configuration leaves no unauthenticated control open (no services started)."""

from __future__ import annotations

import json
from pathlib import Path

from drills.sandbox import configs
from drills.sandbox.binaries import Binaries
from drills.sandbox.layout import Layout, Ports
from drills.sandbox.programs import build_programs, redis_dir
from drills.sandbox.secrets import SandboxSecrets


def programs(tmp_path: Path, secrets: SandboxSecrets, pg_user: str | None):
    binaries = Binaries({name: Path(f"/opt/fake/{name}") for name in Binaries.REQUIRED})
    layout = Layout(tmp_path)
    pg_data = tmp_path / "pg" / "pgdata"
    built = build_programs(layout, Ports(28450), secrets, binaries, "/py", pg_data, pg_user)
    return {p.name: p for p in built}


def test_prometheus_runs_without_the_lifecycle_api(tmp_path: Path) -> None:
    """No --web.enable-lifecycle: POST /-/quit and /-/reload are refused by Prometheus."""
    prometheus = programs(tmp_path, SandboxSecrets.generate(), None)["prometheus"]
    assert not any("lifecycle" in arg for arg in prometheus.argv)


def test_redis_password_in_its_config_and_every_client(tmp_path: Path) -> None:
    """requirepass is in redis.conf, not argv; the exporter and services carry the password."""
    secrets = SandboxSecrets.generate()
    password = secrets.redis.reveal()
    built = programs(tmp_path, secrets, "postgres")
    assert all(password not in arg for arg in built["redis"].argv)
    assert built["redis"].user == "postgres"
    home = redis_dir(Layout(tmp_path), tmp_path / "pg" / "pgdata", "postgres")
    assert built["redis"].directory == home == tmp_path / "pg" / "redis"
    assert f"requirepass {password}" in configs.redis_conf(Ports(28450), secrets, home)
    assert built["redis-exporter"].env["REDIS_PASSWORD"] == password
    for service in ("audit-log-analysis", "event-audit-dashboard"):
        assert f":{password}@127.0.0.1:28461/" in built[service].env["AUDITFLOW_REDIS_URL"]


def test_older_secrets_file_gains_a_redis_password_and_keeps_the_rest(tmp_path: Path) -> None:
    """A secrets.json written before Redis had a password is completed, not rejected."""
    path = tmp_path / "secrets.json"
    original = SandboxSecrets.load_or_create(path)
    stored = json.loads(path.read_text())
    del stored["redis"]
    path.write_text(json.dumps(stored))
    upgraded = SandboxSecrets.load_or_create(path)
    assert upgraded.rabbitmq == original.rabbitmq and upgraded.admin_token == original.admin_token
    assert json.loads(path.read_text())["redis"] == upgraded.redis.reveal()
    assert SandboxSecrets.load_or_create(path) == upgraded
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_alertmanager_requires_basic_auth_and_prometheus_sends_it(tmp_path: Path) -> None:
    """Alertmanager loads a web config whose bcrypt hash matches the sandbox's password, and
    Prometheus authenticates (from a file) when sending alerts and scraping it."""
    import bcrypt
    import yaml

    from drills import packaged
    from drills.sandbox.secrets import ALERTMANAGER_USER

    secrets = SandboxSecrets.generate()
    argv = programs(tmp_path, secrets, None)["alertmanager"].argv
    assert any(arg.startswith("--web.config.file=") for arg in argv)
    users = yaml.safe_load(configs.alertmanager_web_yml(secrets))["basic_auth_users"]
    hashed = users[ALERTMANAGER_USER].encode()
    assert bcrypt.checkpw(secrets.alertmanager.reveal().encode(), hashed)
    password_file = tmp_path / "am-password"
    config = yaml.safe_load(
        configs.prometheus_yml(Ports(28450), packaged.monitoring(), password_file)
    )
    expected = {"username": ALERTMANAGER_USER, "password_file": str(password_file)}
    assert config["alerting"]["alertmanagers"][0]["basic_auth"] == expected
    scrape = {job["job_name"]: job for job in config["scrape_configs"]}
    assert scrape["alertmanager"]["basic_auth"] == expected
    assert "basic_auth" not in scrape["prometheus"]
