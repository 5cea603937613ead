"""Configuration files of the sandbox's private instances, rendered from the program table.

Prometheus reads the packaged rule files where they are installed (`drills/monitoring/rules/`, the
files Kubernetes gets as ConfigMaps, see `drills.packaged`), and the Alertmanager configuration is
the packaged one with only the webhook address and token path rewritten for loopback. Files holding
credentials are written mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from drills.errors import InvalidInput
from drills.sandbox.layout import Layout, Ports
from drills.sandbox.programs import Program
from drills.sandbox.secrets import ALERTMANAGER_USER, SandboxSecrets

SCRAPE_INTERVAL = "1s"
EVALUATION_INTERVAL = "1s"

# RabbitMQ's statistics refresh (queue depths, rates), in ms (rabbitmq.conf's
# `collect_statistics_interval`): at most the scrape interval, so every scrape of the broker sees a
# value refreshed since the previous one. Kubernetes, scraped every 15 s, keeps the 5000 default.
STATISTICS_INTERVAL_MS = 1000

# Jobs whose endpoint is slow to render under load get a longer interval (and timeout): the broker's
# per-queue metrics took over a second while it drained a backlog on two busy cores, and a timed-out
# scrape reads as `up == 0` — a false outage.
SLOW_JOBS = {"rabbitmq": "2s"}

# Prometheus job name → component whose port it scrapes, and the metrics path.
SCRAPE_JOBS: dict[str, tuple[str, str]] = {
    "audit-event-generator": ("audit-event-generator", "/metrics"),
    "audit-log-analysis": ("audit-log-analysis", "/metrics"),
    "event-audit-dashboard": ("event-audit-dashboard", "/metrics"),
    "notification-service": ("notification-service", "/metrics"),
    "rabbitmq": ("rabbitmq-metrics", "/metrics"),
    "postgres": ("postgres-exporter", "/metrics"),
    "redis": ("redis-exporter", "/metrics"),
    "node": ("node-exporter", "/metrics"),
    "prometheus": ("prometheus", "/metrics"),
    "alertmanager": ("alertmanager", "/metrics"),
}


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only (it may hold credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def rabbitmq_conf(ports: Ports, secrets: SandboxSecrets) -> str:
    return "\n".join(
        [
            f"listeners.tcp.default = 127.0.0.1:{ports.of('rabbitmq')}",
            "default_vhost = /",
            "default_user = auditflow",
            f"default_pass = {secrets.rabbitmq.reveal()}",
            "default_permissions.configure = .*",
            "default_permissions.read = .*",
            "default_permissions.write = .*",
            f"prometheus.tcp.port = {ports.of('rabbitmq-metrics')}",
            "prometheus.tcp.ip = 127.0.0.1",
            # Per-queue series (queue label) for backlog and consumer alerts; few queues here.
            "prometheus.return_per_object_metrics = true",
            # Queue depths are refreshed every collect_statistics_interval (5000 ms by default):
            # with a 1 s scrape a depth could be 5 s old, so a drained queue kept reading 1,569
            # and a full one 55. One refresh per scrape interval keeps the cross-check honest.
            f"collect_statistics_interval = {STATISTICS_INTERVAL_MS}",
            "log.console = true",
            "log.console.level = warning",
            "log.file = false",
            "disk_free_limit.absolute = 100MB",
            "",
        ]
    )


def rule_files(monitoring: Path) -> list[Path]:
    """The Prometheus rule files of `monitoring` (`Settings.monitoring_dir`), in a stable order."""
    rules_dir = monitoring / "rules"
    files = sorted(rules_dir.glob("*.yml"))
    if not files:
        raise InvalidInput(f"{rules_dir}: no Prometheus rule files (*.yml) found")
    return files


def alertmanager_web_yml(secrets: SandboxSecrets) -> str:
    """Alertmanager's --web.config.file: basic auth on every endpoint (silences included).

    bcrypt at the lowest cost: the password is 128 random bits, so the hash's work factor adds
    no safety, and Alertmanager checks it on requests Prometheus sends every evaluation.
    """
    hashed = bcrypt.hashpw(secrets.alertmanager.reveal().encode(), bcrypt.gensalt(rounds=4))
    return yaml.safe_dump({"basic_auth_users": {ALERTMANAGER_USER: hashed.decode()}})


def prometheus_yml(
    ports: Ports, monitoring: Path, alertmanager_password: Path | None = None
) -> str:
    """Prometheus's config; with `alertmanager_password` (a file) it authenticates to
    Alertmanager both when sending alerts and when scraping it."""
    auth: dict[str, Any] = (
        {"basic_auth": {"username": ALERTMANAGER_USER, "password_file": str(alertmanager_password)}}
        if alertmanager_password is not None
        else {}
    )
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": EVALUATION_INTERVAL,
            "external_labels": {"platform": "auditflow-local"},
        },
        "rule_files": [str(path) for path in rule_files(monitoring)],
        "alerting": {
            "alertmanagers": [
                {
                    "static_configs": [{"targets": [f"127.0.0.1:{ports.of('alertmanager')}"]}],
                    **auth,
                }
            ]
        },
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": path,
                "static_configs": [{"targets": [f"127.0.0.1:{ports.of(component)}"]}],
                **(
                    {"scrape_interval": SLOW_JOBS[job], "scrape_timeout": SLOW_JOBS[job]}
                    if job in SLOW_JOBS
                    else {}
                ),
                **(auth if component == "alertmanager" else {}),
            }
            for job, (component, path) in SCRAPE_JOBS.items()
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def alertmanager_yml(ports: Ports, monitoring: Path, token_file: Path) -> str:
    """The packaged Alertmanager config, with every webhook pointed at the local service."""
    source = monitoring / "alertmanager.yml"
    try:
        config = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: cannot read Alertmanager config: {exc}") from exc
    url = f"http://127.0.0.1:{ports.of('notification-service')}/api/v1/alertmanager"
    for receiver in config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = url
            http_config = hook.setdefault("http_config", {})
            http_config["authorization"] = {
                "type": "Bearer",
                "credentials_file": str(token_file),
            }
    return yaml.safe_dump(config, sort_keys=False)


def supervisord_conf(
    layout: Layout, ports: Ports, secrets: SandboxSecrets, programs: list[Program]
) -> str:
    lines = [
        "; generated by genesis-drill; edits are overwritten by `genesis-drill platform up`",
        "[supervisord]",
        f"logfile={layout.logs / 'supervisord.log'}",
        f"pidfile={layout.supervisord_pid}",
        f"childlogdir={layout.logs}",
        "logfile_maxbytes=10MB",
        "logfile_backups=2",
        "loglevel=info",
        "nodaemon=false",
        f"identifier=genesis-drill-{ports.base}",
        "minfds=4096",
        "",
        "[inet_http_server]",
        f"port=127.0.0.1:{ports.of('supervisord')}",
        "username=genesis",
        f"password={secrets.supervisord.reveal()}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
    ]
    for program in programs:
        lines += [
            f"[program:{program.name}]",
            "command=" + " ".join(_quote(arg) for arg in program.argv),
            "autostart=true",
            "autorestart=true",
            "startsecs=1",
            "startretries=1000",
            "stopsignal=TERM",
            f"stopwaitsecs={program.stop_wait_seconds}",
            # Signals go to the whole process group: rabbitmq-server is a shell wrapper around
            # the Erlang VM, and killing only the wrapper would orphan the broker.
            "stopasgroup=true",
            "killasgroup=true",
            f"priority={program.priority}",
            "redirect_stderr=true",
            f"stdout_logfile={layout.logs / (program.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if program.user:
            lines.append(f"user={program.user}")
        if program.directory:
            lines.append(f"directory={program.directory}")
        if program.env:
            pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in program.env.items())
            lines.append(f"environment={pairs}")
        lines.append("")
    return "\n".join(lines)


def redis_conf(ports: Ports, secrets: SandboxSecrets, directory: Path) -> str:
    """Redis's settings; the file (0600, owned by the account Redis runs as) holds its password,
    so the password never appears on a command line."""
    return "\n".join(
        [
            f"port {ports.of('redis')}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"dir {directory}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"requirepass {secrets.redis.reveal()}",
            "",
        ]
    )


def _escape(value: str) -> str:
    # supervisord expands %(name)s in values, and environment values are double-quoted.
    return value.replace("%", "%%").replace('"', '\\"')


def _quote(arg: str) -> str:
    escaped = arg.replace("%", "%%")
    if escaped == "" or any(ch in escaped for ch in " \t'\"{},"):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped
