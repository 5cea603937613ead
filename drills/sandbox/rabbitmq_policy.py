"""The sandbox broker's queue policy (auditflow.topology.QUEUE_POLICY), set with rabbitmqctl.

Why rabbitmqctl and not a definitions file loaded at boot: a boot-time import skips RabbitMQ's
default user and vhost (rabbitmq-server#4904), so the file would have to carry the user and a
hash of its password as well; and why not the HTTP API: the management plugin is not enabled in
the sandbox (one plugin less to start on every broker restart). rabbitmqctl talks to the node
over Erlang distribution on loopback (the sandbox's own epmd port), authenticated by the cookie
in the broker's HOME, so it needs no password either.

A policy lives in the broker's database: set once at `platform up`, it survives every restart a
drill causes; `up` sets it again each time (idempotent), so a sandbox created before the policy
existed gets it too.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from auditflow import topology
from drills.errors import ComponentFailed
from drills.sandbox.programs import Program

ATTEMPTS = 5
ATTEMPT_TIMEOUT_S = 30.0
RETRY_S = 1.0


def rabbitmqctl(server_binary: str) -> str:
    """rabbitmqctl next to the rabbitmq-server the sandbox runs (Debian: /usr/lib/rabbitmq/bin;
    /usr/sbin/rabbitmqctl is a wrapper that switches to the rabbitmq user)."""
    return str(Path(server_binary).with_name("rabbitmqctl"))


def command(program: Program) -> tuple[list[str], dict[str, str]]:
    """The argv and the environment of the set_policy call for the broker `program`."""
    env = program.env
    argv = [
        rabbitmqctl(program.argv[0]),
        "-n",
        env["RABBITMQ_NODENAME"],
        "set_policy",
        "--apply-to",
        "queues",
        topology.QUEUE_POLICY_NAME,
        topology.QUEUE_POLICY_PATTERN,
        json.dumps(topology.QUEUE_POLICY, separators=(",", ":")),
    ]
    child_env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": env["HOME"],  # the Erlang cookie
        "ERL_EPMD_PORT": env["ERL_EPMD_PORT"],
        "ERL_EPMD_ADDRESS": env["ERL_EPMD_ADDRESS"],
    }
    return argv, child_env


def apply(program: Program) -> None:
    """Set the queue policy on the running broker; ComponentFailed naming rabbitmqctl's last
    words if it cannot be set (the broker accepted AMQP but refuses its CLI: something is off)."""
    argv, env = command(program)
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            done = subprocess.run(
                argv,
                check=False,
                env=env,
                capture_output=True,
                text=True,
                timeout=ATTEMPT_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        else:
            if done.returncode == 0:
                return
            said = (done.stderr or done.stdout).strip().splitlines()
            last = said[-1] if said else f"exit status {done.returncode}"
        if attempt + 1 < ATTEMPTS:
            time.sleep(RETRY_S)
    raise ComponentFailed(
        f"rabbitmq: setting the queue policy {topology.QUEUE_POLICY_NAME} with {argv[0]} "
        f"failed: {last or 'no output'}"
    )
