"""The sandbox's program set: every component, the command that runs it, how to tell it is ready.

A "pod" in the local target is one of these supervised programs. The table is data, not code paths:
the supervisord configuration, the status view, the readiness wait and the port checks all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from drills.netfault.routes import PROGRAM as NETFAULT_PROGRAM
from drills.netfault.routes import ROUTES
from drills.sandbox import connections
from drills.sandbox.binaries import Binaries
from drills.sandbox.layout import Layout, Ports
from drills.sandbox.secrets import ALERTMANAGER_USER, SandboxSecrets

Kind = Literal["infrastructure", "exporter", "observability", "service"]
ProbeKind = Literal["tcp", "http", "alertmanager", "postgres", "redis"]

ANALYSIS_BATCH_MAX = 1000
ANALYSIS_PREFETCH = 4000
NETFAULT_TOKEN_FILE = "netfault-token"  # noqa: S105 - a file name (under conf/, mode 0600)
# The analysis service's AMQP heartbeat in the sandbox (aiormq's default, and what it asks the
# broker for, is 60 s). At 60 s the broker notices a silent peer only after 60-120 s and aiormq
# after 183 s ((60 + 1) x 3), so a 30 s blackhole (broker-blackhole) would trip nothing; at 5 s
# the broker drops the dead connection 5-10 s into the silence (and requeues its unacked
# deliveries), aiormq gives up on it after 18 s. 5 s is RabbitMQ's documented lower sane bound.
ANALYSIS_HEARTBEAT_S = 5
WATCHDOG_TIMEOUT_S = (
    20  # the notification service's dead man's switch (auditflow.notification.watchdog)
)


@dataclass(frozen=True)
class Probe:
    """How readiness is checked: a TCP connect, an HTTP GET answering 200, or a real client call."""

    kind: ProbeKind
    port: int
    path: str = "/"


@dataclass(frozen=True)
class Program:
    """One supervised component."""

    name: str
    kind: Kind
    argv: tuple[str, ...]
    probe: Probe
    package: str
    priority: int
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    directory: Path | None = None
    stop_wait_seconds: int = 10


def redis_dir(layout: Layout, pg_data: Path, pg_user: str | None) -> Path:
    """Redis's working directory. Started by root, Redis runs as PostgreSQL's unprivileged
    account, so it lives beside PostgreSQL's data, in the directory that account can reach."""
    return layout.data_of("redis") if pg_user is None else pg_data.parent / "redis"


def build_programs(
    layout: Layout,
    ports: Ports,
    secrets: SandboxSecrets,
    binaries: Binaries,
    python: str,
    pg_data: Path,
    pg_user: str | None,
) -> list[Program]:
    """The whole platform as supervised programs, in start order (lowest priority first)."""
    conf = layout.conf
    amqp_url = connections.amqp_url(ports.of("rabbitmq"), secrets).reveal()
    # The analysis service's and the dashboard's connections go through the fault proxy, always
    # (drills.netfault: idle, it costs ~nothing — bench/netproxy.py), so a network drill needs
    # no restart to put it in the path. The generator, the exporters and the harness connect
    # directly: a network fault of a route never blinds the monitoring of its server.
    via = {name: ports.of(route.port_name) for name, route in ROUTES.items()}
    analysis_amqp = (
        connections.amqp_url(via["analysis-rabbitmq"], secrets).reveal()
        + f"?heartbeat={ANALYSIS_HEARTBEAT_S}"
    )
    analysis_dsn = connections.pg_dsn(via["analysis-postgres"], secrets).reveal()
    dashboard_dsn = connections.pg_dsn(via["dashboard-postgres"], secrets).reveal()
    proxy_routes = [
        arg
        for name, route in ROUTES.items()
        for arg in ("--route", f"{name}={via[name]}:{ports.of(route.server)}")
    ]
    redis_url = f"redis://:{secrets.redis.reveal()}@127.0.0.1:{ports.of('redis')}/0"
    redis_home = redis_dir(layout, pg_data, pg_user)
    rabbit_home = layout.data_of("rabbitmq")

    def service(name: str, module: str, priority: int, env: dict[str, str]) -> Program:
        return Program(
            name=name,
            kind="service",
            argv=(python, "-m", module),
            probe=Probe("http", ports.of(name), "/healthz"),
            package="genesis-drill",
            priority=priority,
            env={
                "AUDITFLOW_HTTP_HOST": "127.0.0.1",
                "AUDITFLOW_HTTP_PORT": str(ports.of(name)),
                "PYTHONUNBUFFERED": "1",
                **env,
            },
            directory=layout.root,
        )

    return [
        Program(
            name="epmd",
            kind="infrastructure",
            argv=(binaries["epmd"], "-port", str(ports.of("epmd")), "-address", "127.0.0.1"),
            probe=Probe("tcp", ports.of("epmd")),
            package="erlang-base",
            priority=10,
        ),
        Program(
            name="rabbitmq",
            kind="infrastructure",
            argv=(binaries["rabbitmq-server"],),
            probe=Probe("tcp", ports.of("rabbitmq")),
            package="rabbitmq-server",
            priority=20,
            env={
                "HOME": str(rabbit_home),
                "RABBITMQ_NODENAME": f"genesis{ports.base}@localhost",
                "RABBITMQ_MNESIA_BASE": str(rabbit_home / "mnesia"),
                "RABBITMQ_LOG_BASE": str(layout.logs / "rabbitmq"),
                "RABBITMQ_CONFIG_FILE": str(conf / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(conf / "rabbitmq-advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(conf / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(conf / "rabbitmq-enabled-plugins"),
                "RABBITMQ_PID_FILE": str(rabbit_home / "rabbitmq.pid"),
                "RABBITMQ_DIST_PORT": str(ports.of("rabbitmq-dist")),
                "ERL_EPMD_PORT": str(ports.of("epmd")),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
            },
            directory=rabbit_home,
            stop_wait_seconds=20,
        ),
        Program(
            name="postgres",
            kind="infrastructure",
            argv=(
                binaries["postgres"],
                "-D",
                str(pg_data),
                "-p",
                str(ports.of("postgres")),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=60",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "logging_collector=off",
                # No replicas or WAL archive here, so the minimal WAL level is enough, and it lets
                # pg_restore --single-transaction load a table created in the same transaction
                # without writing its rows to the WAL (synced to disk at commit instead: durable).
                "-c",
                "wal_level=minimal",
                "-c",
                "max_wal_senders=0",
                # Index builds of a restore sort in memory instead of in temp files.
                "-c",
                "maintenance_work_mem=256MB",
            ),
            probe=Probe("postgres", ports.of("postgres")),
            package="postgresql-15",
            priority=20,
            user=pg_user,
            directory=pg_data.parent,
            stop_wait_seconds=20,
        ),
        Program(
            # Its password is in redis.conf (0600, the server's own), never on the command line.
            name="redis",
            kind="infrastructure",
            argv=(binaries["redis-server"], str(redis_home / "redis.conf")),
            probe=Probe("redis", ports.of("redis")),
            package="redis-server",
            priority=20,
            user=pg_user,
            directory=redis_home,
        ),
        Program(
            name=NETFAULT_PROGRAM,
            kind="infrastructure",
            argv=(
                python,
                "-m",
                "drills.netfault",
                "--control",
                str(ports.of(NETFAULT_PROGRAM)),
                "--token-file",
                str(conf / NETFAULT_TOKEN_FILE),
                *proxy_routes,
            ),
            probe=Probe("http", ports.of(NETFAULT_PROGRAM), "/healthz"),
            package="genesis-drill",
            priority=25,
            env={"PYTHONUNBUFFERED": "1"},
            directory=layout.root,
        ),
        Program(
            name="alertmanager",
            kind="observability",
            argv=(
                binaries["alertmanager"],
                f"--config.file={conf / 'alertmanager.yml'}",
                f"--storage.path={layout.data_of('alertmanager')}",
                f"--web.listen-address=127.0.0.1:{ports.of('alertmanager')}",
                # Basic auth on every endpoint: nobody without the password can add a silence.
                f"--web.config.file={conf / 'alertmanager-web.yml'}",
                "--cluster.listen-address=",
            ),
            probe=Probe("alertmanager", ports.of("alertmanager"), "/-/ready"),
            package="prometheus-alertmanager",
            priority=30,
        ),
        Program(
            name="prometheus",
            kind="observability",
            argv=(
                binaries["prometheus"],
                f"--config.file={conf / 'prometheus.yml'}",
                f"--storage.tsdb.path={layout.data_of('prometheus')}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{ports.of('prometheus')}",
                # Firing alerts are re-sent to Alertmanager every 5 s (default 1 m): a restarted
                # Alertmanager, which keeps no alerts, learns them (the Watchdog heartbeat too)
                # within seconds, as fast drills need.
                "--rules.alert.resend-delay=5s",
            ),
            probe=Probe("http", ports.of("prometheus"), "/-/ready"),
            package="prometheus",
            priority=30,
        ),
        Program(
            name="node-exporter",
            kind="exporter",
            argv=(
                binaries["node-exporter"],
                f"--web.listen-address=127.0.0.1:{ports.of('node-exporter')}",
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.loadavg",
                "--collector.filesystem",
                "--collector.diskstats",
                "--collector.netdev",
            ),
            probe=Probe("http", ports.of("node-exporter"), "/metrics"),
            package="prometheus-node-exporter",
            priority=40,
        ),
        Program(
            name="postgres-exporter",
            kind="exporter",
            argv=(
                binaries["postgres-exporter"],
                f"--web.listen-address=127.0.0.1:{ports.of('postgres-exporter')}",
            ),
            probe=Probe("http", ports.of("postgres-exporter"), "/metrics"),
            package="prometheus-postgres-exporter",
            priority=40,
            env={
                "DATA_SOURCE_NAME": (
                    f"postgresql://postgres:{secrets.postgres_superuser.reveal()}"
                    f"@127.0.0.1:{ports.of('postgres')}/postgres?sslmode=disable"
                )
            },
        ),
        Program(
            name="redis-exporter",
            kind="exporter",
            argv=(
                binaries["redis-exporter"],
                f"-redis.addr=redis://127.0.0.1:{ports.of('redis')}",
                f"-web.listen-address=127.0.0.1:{ports.of('redis-exporter')}",
            ),
            probe=Probe("http", ports.of("redis-exporter"), "/metrics"),
            package="prometheus-redis-exporter",
            priority=40,
            # redis_exporter reads REDIS_PASSWORD; an environment value stays off `ps`.
            env={"REDIS_PASSWORD": secrets.redis.reveal()},
        ),
        service(
            "notification-service",
            "auditflow.notification",
            50,
            {
                "AUDITFLOW_NOTIFY_DB": str(
                    layout.data_of("notification-service") / "notifications.sqlite3"
                ),
                "AUDITFLOW_NOTIFY_TOKEN": secrets.notify_token.reveal(),
                # On start, record what Alertmanager holds active (a page sent while it was
                # down is not lost): Alertmanager's API, behind the sandbox's basic auth.
                "AUDITFLOW_ALERTMANAGER_URL": f"http://127.0.0.1:{ports.of('alertmanager')}",
                "AUDITFLOW_ALERTMANAGER_USER": ALERTMANAGER_USER,
                "AUDITFLOW_ALERTMANAGER_PASSWORD": secrets.alertmanager.reveal(),
                # The dead man's switch: MonitoringBlind after 20 s without a Watchdog
                # heartbeat (Alertmanager repeats it every ~10 s).
                "AUDITFLOW_WATCHDOG_TIMEOUT_S": str(WATCHDOG_TIMEOUT_S),
            },
        ),
        service(
            "audit-log-analysis",
            "auditflow.analysis",
            60,
            {
                "AUDITFLOW_AMQP_URL": analysis_amqp,
                "AUDITFLOW_PG_DSN": analysis_dsn,
                "AUDITFLOW_REDIS_URL": redis_url,
                "AUDITFLOW_NOTIFY_URL": f"http://127.0.0.1:{ports.of('notification-service')}",
                "AUDITFLOW_NOTIFY_TOKEN": secrets.notify_token.reveal(),
                # Larger batches amortise the per-transaction cost (COPY, INSERT, commit, one
                # multi-ack) while a backlog drains; at steady load the 50 ms age still flushes
                # first. Prefetch covers one batch being stored while the next one fills.
                "AUDITFLOW_BATCH_MAX": str(ANALYSIS_BATCH_MAX),
                "AUDITFLOW_PREFETCH": str(ANALYSIS_PREFETCH),
            },
        ),
        service(
            "audit-event-generator",
            "auditflow.generator",
            70,
            {
                "AUDITFLOW_AMQP_URL": amqp_url,
                "AUDITFLOW_ADMIN_TOKEN": secrets.admin_token.reveal(),
                "AUDITFLOW_RATE": "20",
            },
        ),
        service(
            "event-audit-dashboard",
            "auditflow.dashboard",
            70,
            {
                "AUDITFLOW_PG_DSN": dashboard_dsn,
                "AUDITFLOW_REDIS_URL": redis_url,
                "AUDITFLOW_PROMETHEUS_URL": f"http://127.0.0.1:{ports.of('prometheus')}",
            },
        ),
    ]
