"""Unit tests of the sandbox's pure parts: ports, secrets, rendered configuration, settings."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
import yaml

from drills import packaged
from drills.errors import InvalidInput, MissingDependency
from drills.sandbox import configs
from drills.sandbox.binaries import Binaries
from drills.sandbox.layout import PORT_BLOCK_SIZE, PORT_OFFSETS, Layout, Ports
from drills.sandbox.programs import build_programs
from drills.sandbox.secrets import SandboxSecrets, Secret
from drills.settings import Settings


def fake_binaries() -> Binaries:
    return Binaries({name: Path(f"/opt/fake/{name}") for name in Binaries.REQUIRED})


def programs_for(tmp_path: Path, secrets: SandboxSecrets, base: int = 28100):
    layout = Layout(tmp_path)
    return layout, build_programs(
        layout,
        Ports(base),
        secrets,
        fake_binaries(),
        "/venv/bin/python",
        tmp_path / "pgdata",
        "postgres",
    )


def test_port_offsets_fit_the_block_and_never_collide():
    """Every component has its own port inside the block, away from well-known defaults."""
    offsets = list(PORT_OFFSETS.values())
    assert len(offsets) == len(set(offsets))
    assert all(0 <= offset < PORT_BLOCK_SIZE for offset in offsets)
    ports = Ports()
    used = {ports.of(name) for name in PORT_OFFSETS}
    assert used.isdisjoint({5672, 5432, 6379, 9090, 9093, 15692, 4369})
    assert max(used) < 32768  # below the Linux ephemeral range


def test_port_base_out_of_range_is_rejected_with_the_value():
    """A port base that would push the block past 65535 is refused, naming the source."""
    with pytest.raises(InvalidInput, match="GENESIS_PORT_BASE='65530'"):
        Settings.from_env({"GENESIS_PORT_BASE": "65530"})
    with pytest.raises(InvalidInput, match="GENESIS_PORT_BASE='abc'"):
        Settings.from_env({"GENESIS_PORT_BASE": "abc"})


def test_settings_read_state_dir_and_port_base_from_env(tmp_path):
    """GENESIS_STATE_DIR and GENESIS_PORT_BASE override the defaults."""
    settings = Settings.from_env({"GENESIS_STATE_DIR": str(tmp_path), "GENESIS_PORT_BASE": "30000"})
    assert settings.state_dir == tmp_path.resolve()
    assert settings.ports.of("postgres") == 30010


def test_secret_never_prints_its_value():
    """repr, str and f-strings of a Secret show *** and never the value."""
    secret = Secret("hunter2-value")
    rendered = [repr(secret), str(secret), f"{secret}", f"{[secret]}"]
    assert all("hunter2-value" not in text for text in rendered)
    assert secret.reveal() == "hunter2-value"


def test_secrets_are_created_once_private_and_reloaded(tmp_path):
    """Secrets are generated on first use, stored 0600, and the same values come back later."""
    path = tmp_path / "secrets.json"
    first = SandboxSecrets.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = SandboxSecrets.load_or_create(path)
    assert first == again
    assert first.rabbitmq != first.postgres_app


def test_corrupt_secrets_file_is_reported_with_its_path(tmp_path):
    """A damaged secrets file gives an error naming the file, not a traceback."""
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match=str(path)):
        SandboxSecrets.load_or_create(path)


def test_missing_programs_name_their_debian_packages(monkeypatch):
    """When a program is absent, the error lists the Debian package that provides it."""
    monkeypatch.setattr(
        Binaries,
        "REQUIRED",
        {"prometheus": ("prometheus", "/nonexistent/prometheus"), "epmd": ("erlang-base", "sh")},
    )
    with pytest.raises(MissingDependency, match=r"prometheus \(for prometheus\)") as info:
        Binaries.locate()
    assert "apt-get install prometheus" in str(info.value)
    assert "erlang-base" not in str(info.value)


def test_supervisord_conf_parses_and_keeps_arguments_and_env(tmp_path):
    """The rendered supervisord config is valid INI whose commands split back into the same argv
    and whose environments survive supervisord's quoting (empty args, braces, commas)."""
    secrets = SandboxSecrets.generate()
    layout, programs = programs_for(tmp_path, secrets)
    text = configs.supervisord_conf(layout, Ports(), secrets, programs)
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    for program in programs:
        section = parser[f"program:{program.name}"]
        command = section["command"].replace("%%", "%")
        assert shlex.split(command) == list(program.argv)
        assert section["stopasgroup"] == "true"
        assert section["killasgroup"] == "true"
    assert parser["program:postgres"]["user"] == "postgres"
    assert "user" not in parser["program:rabbitmq"]
    env = parser["program:rabbitmq"]["environment"]
    assert (
        'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' in env
    )
    assert parser["inet_http_server"]["port"] == "127.0.0.1:28140"


def test_every_listener_is_bound_to_loopback(tmp_path):
    """No sandbox program is told to listen on anything but 127.0.0.1."""
    secrets = SandboxSecrets.generate()
    _, programs = programs_for(tmp_path, secrets)
    for program in programs:
        for arg in program.argv:
            if "listen-address=" in arg and arg.split("=", 1)[1]:
                assert arg.split("=", 1)[1].startswith("127.0.0.1:"), arg
        if program.kind == "service":
            assert program.env["AUDITFLOW_HTTP_HOST"] == "127.0.0.1"
    assert "listeners.tcp.default = 127.0.0.1:28100" in configs.rabbitmq_conf(Ports(), secrets)


def test_prometheus_config_scrapes_every_job_and_loads_the_packaged_rules():
    """Prometheus scrapes each AuditFlow job at 1 s and reads the packaged rule files."""
    config = yaml.safe_load(configs.prometheus_yml(Ports(), packaged.monitoring()))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= {
        "audit-event-generator",
        "audit-log-analysis",
        "event-audit-dashboard",
        "notification-service",
        "rabbitmq",
        "postgres",
        "redis",
    }
    assert jobs["rabbitmq"]["static_configs"][0]["targets"] == ["127.0.0.1:28102"]
    assert config["global"]["evaluation_interval"] == "1s"
    rules = sorted((packaged.monitoring() / "rules").glob("*.yml"))
    assert len(rules) >= 2
    assert config["rule_files"] == [str(path) for path in rules]


def seconds(duration: str) -> float:
    """A Prometheus duration of whole seconds or milliseconds ("2s", "500ms")."""
    return float(duration[:-2]) / 1000 if duration.endswith("ms") else float(duration[:-1])


def test_rabbitmq_refreshes_queue_depths_at_least_once_per_scrape():
    """The broker's queue gauges are refreshed every `collect_statistics_interval` (5000 ms unless
    set): scraped every 2 s, a depth read 55 while 1,832 events waited (issue 13). The refresh
    must be no longer than the broker's scrape interval."""
    conf = configs.rabbitmq_conf(Ports(), SandboxSecrets.generate())
    settings = dict(
        line.split(" = ", 1) for line in conf.splitlines() if " = " in line and line[0] != "#"
    )
    assert "collect_statistics_interval" in settings, conf
    refresh_s = int(settings["collect_statistics_interval"]) / 1000
    config = yaml.safe_load(configs.prometheus_yml(Ports(), packaged.monitoring()))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "rabbitmq")
    scrape_s = seconds(job.get("scrape_interval", config["global"]["scrape_interval"]))
    assert 0 < refresh_s <= scrape_s, (refresh_s, scrape_s)


def test_alertmanager_webhooks_point_at_the_local_notification_service(tmp_path):
    """The packaged Alertmanager config is reused with only URL and token file rewritten."""
    token = tmp_path / "token"
    config = yaml.safe_load(configs.alertmanager_yml(Ports(), packaged.monitoring(), token))
    hooks = [hook for r in config["receivers"] for hook in r.get("webhook_configs", [])]
    assert hooks
    for hook in hooks:
        assert hook["url"] == "http://127.0.0.1:28133/api/v1/alertmanager"
        assert hook["http_config"]["authorization"]["credentials_file"] == str(token)
    assert config["route"]["receiver"]


def test_config_files_with_credentials_are_private(tmp_path):
    """Files holding credentials are written readable by their owner only."""
    path = tmp_path / "conf" / "rabbitmq.conf"
    configs.write_private(path, "default_pass = x\n")
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    configs.write_private(path, "default_pass = y\n")  # rewriting tightens it again
    assert path.stat().st_mode & 0o777 == 0o600
