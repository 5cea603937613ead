"""The one spelling of an AMQP URL and a PostgreSQL DSN, each returned as a `Secret`.

Why a module at the bottom of the layers: the sandbox (its services' environment, its smoke test,
its probes), the local and Kubernetes targets' endpoints and the test helpers all build the same
two connection strings with a password inside. Written once here, each is quoted correctly for
any password (a Kubernetes Secret may hold `@`, `/`, spaces or quotes; the sandbox's own are hex)
and never exists as a plain `str` outside the client call that `reveal()`s it.
"""

from __future__ import annotations

from urllib.parse import quote

from drills.secret import Secret

# libpq conninfo: a value with any of these (or an empty one) must be single-quoted.
_NEEDS_QUOTES = frozenset(" '\\\t\n\r")


def amqp_url(host: str, port: int, user: str, password: Secret, vhost: str = "/") -> Secret:
    """amqp://user:password@host:port/vhost, user, password and vhost percent-encoded.

    The default vhost "/" is spelled `%2F`, as in the manifests; pika (the harness) and
    aio-pika (the services) both read it as "/".
    """
    return Secret(
        f"amqp://{quote(user, safe='')}:{quote(password.reveal(), safe='')}"
        f"@{host}:{port}/{quote(vhost, safe='')}"
    )


def pg_dsn(
    host: str,
    port: int,
    user: str,
    dbname: str,
    password: Secret,
    connect_timeout: int = 3,
) -> Secret:
    """A libpq key=value conninfo; values quoted as libpq requires when they need it."""
    fields = {
        "host": host,
        "port": str(port),
        "user": user,
        "dbname": dbname,
        "password": password.reveal(),
        "connect_timeout": str(connect_timeout),
    }
    return Secret(" ".join(f"{key}={_conninfo_value(value)}" for key, value in fields.items()))


def _conninfo_value(value: str) -> str:
    if value and not _NEEDS_QUOTES.intersection(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
