"""The analysis queue's bound: one policy in auditflow.topology, applied the same way by the
sandbox (rabbitmqctl) and the Kubernetes manifest (a postStart hook), and the RabbitMQQueueFull
alert at 80 % of it. The broker applying it is proven in tests/integration (queue-full)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from auditflow import topology
from drills import packaged
from drills.sandbox import rabbitmq_policy
from drills.sandbox.secrets import SandboxSecrets
from tests import REPO_ROOT
from tests.unit.test_sandbox_config import programs_for

POLICY_JSON = json.dumps(topology.QUEUE_POLICY, separators=(",", ":"))
# What both the sandbox and the manifest must run, word for word.
SET_POLICY = [
    "set_policy",
    "--apply-to",
    "queues",
    topology.QUEUE_POLICY_NAME,
    topology.QUEUE_POLICY_PATTERN,
    POLICY_JSON,
]


def _alert(name: str) -> dict[str, object]:
    rules = yaml.safe_load((packaged.monitoring() / "rules" / "auditflow-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return dict(rule)
    raise AssertionError(f"no alert {name}")


def test_the_bound_never_drops_confirmed_events():
    """drop-head (RabbitMQ's default) would discard the oldest, confirmed, events at the bound."""
    assert topology.QUEUE_POLICY["overflow"] == "reject-publish"
    assert topology.QUEUE_POLICY["max-length"] == topology.QUEUE_MAX_LENGTH > 0


def test_queue_full_fires_at_80_percent_of_the_policy_bound():
    rule = _alert("RabbitMQQueueFull")
    threshold = round(topology.QUEUE_MAX_LENGTH * 0.8)
    assert str(rule["expr"]).strip().endswith(f"> {threshold}"), rule["expr"]
    assert 'queue="auditflow.analysis"' in str(rule["expr"])
    description = str(rule["annotations"]["description"])  # type: ignore[index]
    assert f"{topology.QUEUE_MAX_LENGTH} bound" in description


def test_the_sandbox_sets_the_policy_with_rabbitmqctl_on_its_own_node(tmp_path: Path):
    _layout, programs = programs_for(tmp_path, SandboxSecrets.generate(), base=28450)
    broker = next(p for p in programs if p.name == "rabbitmq")
    argv, env = rabbitmq_policy.command(broker)
    assert argv[0] == str(Path(broker.argv[0]).with_name("rabbitmqctl"))
    assert argv[1:3] == ["-n", broker.env["RABBITMQ_NODENAME"]]
    assert argv[3:] == SET_POLICY
    # the broker's cookie and epmd port, nothing else of the broker's environment (no password)
    assert env["HOME"] == broker.env["HOME"]
    assert env["ERL_EPMD_PORT"] == broker.env["ERL_EPMD_PORT"]
    assert set(env) == {"PATH", "LANG", "HOME", "ERL_EPMD_PORT", "ERL_EPMD_ADDRESS"}


def test_the_manifest_sets_the_same_policy_in_a_post_start_hook():
    docs = yaml.safe_load_all((REPO_ROOT / "manifests/base/data/rabbitmq.yaml").read_text())
    statefulset = next(d for d in docs if d and d["kind"] == "StatefulSet")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    shell = container["lifecycle"]["postStart"]["exec"]["command"]
    assert shell[:2] == ["sh", "-c"]
    words = shlex.split(shell[2])
    start = words.index("set_policy")
    assert words[start:] == SET_POLICY
    assert "await_startup" in words[:start]
