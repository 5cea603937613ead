"""Connection strings are spelled once (drills.connstr, drills.sandbox.connections) and read back
exactly by the clients that use them: pika, aio-pika's URL parser, libpq's conninfo parser."""

from __future__ import annotations

import configparser
from pathlib import Path

import pika
import pytest
import yarl
from psycopg.conninfo import conninfo_to_dict
from supervisor.datatypes import dict_of_key_value_pairs

from drills.connstr import amqp_url, pg_dsn
from drills.sandbox import configs, connections
from drills.sandbox.binaries import Binaries
from drills.sandbox.layout import Layout, Ports
from drills.sandbox.programs import build_programs
from drills.sandbox.secrets import SandboxSecrets
from drills.secret import Secret

HOSTILE = ["plain", "p@ss:w/rd", "with space", "it's", "back\\slash", "100%", "#?&="]


@pytest.mark.parametrize("password", HOSTILE)
def test_amqp_url_carries_any_password_to_pika_and_yarl(password: str) -> None:
    """The harness (pika) and the services (aio-pika, via yarl) read back the same account."""
    url = amqp_url("127.0.0.1", 28100, "auditflow", Secret(password)).reveal()
    params = pika.URLParameters(url)
    assert (params.host, params.port, params.virtual_host) == ("127.0.0.1", 28100, "/")
    assert params.credentials.username == "auditflow"
    assert params.credentials.password == password
    parsed = yarl.URL(url)
    assert parsed.password == password and parsed.user == "auditflow"


@pytest.mark.parametrize("password", [*HOSTILE, ""])
def test_pg_dsn_carries_any_password_to_libpq(password: str) -> None:
    """libpq's own parser gives back every field, quoting included (empty value too)."""
    dsn = pg_dsn("db.example", 5432, "postgres", "auditflow", Secret(password), 7).reveal()
    assert conninfo_to_dict(dsn) == {
        "host": "db.example",
        "port": "5432",
        "user": "postgres",
        "dbname": "auditflow",
        "password": password,
        "connect_timeout": "7",
    }


def test_connection_strings_never_print_their_password() -> None:
    """Both are Secrets: repr and str show ***."""
    for value in (
        amqp_url("h", 1, "u", Secret("pw-1234")),
        pg_dsn("h", 1, "u", "d", Secret("pw-1234")),
    ):
        assert "pw-1234" not in repr(value) and "pw-1234" not in f"{value}"


def test_sandbox_connections_use_the_right_role_and_password() -> None:
    """The application role on auditflow, the superuser on postgres (or a database asked for)."""
    secrets = SandboxSecrets.generate()
    app = conninfo_to_dict(connections.pg_dsn(28110, secrets).reveal())
    admin = conninfo_to_dict(connections.pg_dsn(28110, secrets, superuser=True).reveal())
    other = conninfo_to_dict(
        connections.pg_dsn(28110, secrets, superuser=True, dbname="auditflow").reveal()
    )
    assert (app["user"], app["dbname"], app["password"]) == (
        "auditflow",
        "auditflow",
        secrets.postgres_app.reveal(),
    )
    assert (admin["user"], admin["dbname"], admin["password"]) == (
        "postgres",
        "postgres",
        secrets.postgres_superuser.reveal(),
    )
    assert other["dbname"] == "auditflow" and other["user"] == "postgres"
    assert {app["host"], admin["host"]} == {"127.0.0.1"}
    broker = pika.URLParameters(connections.amqp_url(28100, secrets).reveal())
    assert broker.credentials.password == secrets.rabbitmq.reveal() and broker.port == 28100


def test_services_get_the_same_strings_through_supervisord(tmp_path: Path) -> None:
    """The analysis service's environment, after supervisord's quoting, holds exactly the
    sandbox's DSN and AMQP URL (a conninfo with spaces survives the double quotes) — on the
    fault proxy's route ports, with the sandbox's short AMQP heartbeat — and the proxy relays
    each route to the real server's port."""
    secrets, ports, layout = SandboxSecrets.generate(), Ports(28100), Layout(tmp_path)
    binaries = Binaries({name: Path(f"/opt/fake/{name}") for name in Binaries.REQUIRED})
    programs = build_programs(
        layout, ports, secrets, binaries, "/venv/bin/python", tmp_path / "pgdata", None
    )
    parser = configparser.RawConfigParser()
    parser.read_string(configs.supervisord_conf(layout, ports, secrets, programs))
    raw = parser["program:audit-log-analysis"]["environment"].replace("%%", "%")
    env = dict_of_key_value_pairs(raw)
    via_pg, via_amqp = (
        ports.of("netfault-proxy-analysis-postgres"),
        ports.of("netfault-proxy-analysis-rabbitmq"),
    )
    assert env["AUDITFLOW_PG_DSN"] == connections.pg_dsn(via_pg, secrets).reveal()
    assert env["AUDITFLOW_AMQP_URL"] == (
        connections.amqp_url(via_amqp, secrets).reveal() + "?heartbeat=5"
    )
    dashboard = dict_of_key_value_pairs(
        parser["program:event-audit-dashboard"]["environment"].replace("%%", "%")
    )
    via_dash = ports.of("netfault-proxy-dashboard-postgres")
    assert dashboard["AUDITFLOW_PG_DSN"] == connections.pg_dsn(via_dash, secrets).reveal()
    proxy = parser["program:netfault-proxy"]["command"]
    for listen, server in ((via_pg, "postgres"), (via_amqp, "rabbitmq"), (via_dash, "postgres")):
        assert f"={listen}:{ports.of(server)}" in proxy, proxy
