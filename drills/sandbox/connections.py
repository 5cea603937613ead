"""How a client reaches the sandbox's broker and database: one function each.

Why: the services' environment (`programs`), the smoke test, the PostgreSQL probe and bootstrap,
the local target's endpoints and the test and benchmark helpers all connect to the same RabbitMQ
and PostgreSQL on loopback with the sandbox's generated credentials. They ask here instead of
spelling the URL themselves (`drills.connstr` spells it), so a port, role or vhost changes in one
place.
"""

from __future__ import annotations

from drills.connstr import amqp_url as _amqp_url
from drills.connstr import pg_dsn as _pg_dsn
from drills.sandbox.secrets import SandboxSecrets
from drills.secret import Secret

HOST = "127.0.0.1"
APP_ROLE = "auditflow"  # the services' RabbitMQ user and PostgreSQL role
APP_DATABASE = "auditflow"


def amqp_url(port: int, secrets: SandboxSecrets) -> Secret:
    """The services' broker account on the default vhost."""
    return _amqp_url(HOST, port, APP_ROLE, secrets.rabbitmq)


def pg_dsn(
    port: int,
    secrets: SandboxSecrets,
    *,
    superuser: bool = False,
    dbname: str | None = None,
    connect_timeout: int = 3,
) -> Secret:
    """The application role on `auditflow`, or (`superuser`) postgres on `postgres`.

    `dbname` picks another database for the same role (the superuser on `auditflow`, say).
    """
    if superuser:
        return _pg_dsn(
            HOST,
            port,
            "postgres",
            dbname or "postgres",
            secrets.postgres_superuser,
            connect_timeout,
        )
    return _pg_dsn(
        HOST, port, APP_ROLE, dbname or APP_DATABASE, secrets.postgres_app, connect_timeout
    )
