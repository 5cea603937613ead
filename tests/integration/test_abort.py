"""An abort condition ends a real drill at once, and rollback puts the platform back.

The drill is rabbitmq-outage with the broker's outage stretched to an hour: only the abort block
can end it. Ground truth is taken outside the harness — the wall clock of the call, the broker's
AMQP port accepting connections again, and supervisord's process state — not from the result.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from drills import runner
from drills.journal import read
from drills.spec import load
from drills.targets.local import LocalTarget
from tests import REPO_ROOT
from tests.support import wait_for

pytestmark = pytest.mark.integration
OUTAGE = (REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml").read_text()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_sli_floor_aborts_an_hour_long_outage_and_rollback_restores_the_broker(live, tmp_path):
    """`abort.sli_floor` on the storage rate trips seconds after the broker is killed: the run
    ends `aborted` naming the condition, long before the fault's hour, and the broker accepts
    AMQP again afterwards."""
    text = OUTAGE.replace("duration_s: 20", "duration_s: 3600").replace(
        "  max_duration_s: 240",
        "  max_duration_s: 240\n  sli_floor: {probe: events stored per second, min: 100}",
    )
    drill = tmp_path / "long-outage.yaml"
    drill.write_text(text)
    spec = load(drill)
    assert spec.fault.params["duration_s"] == 3600 and spec.abort.sli_floor is not None

    began = time.monotonic()
    result = runner.run(
        spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path / "runs")
    )
    wall = time.monotonic() - began

    assert result.outcome == "aborted", result.reason
    assert "abort.sli_floor" in result.reason and "after inject" in result.reason
    assert wall < 150, f"the drill ran {wall:.0f} s: the abort did not end the hour-long outage"
    events = [r["event"] for r in read(Path(result.run_dir) / "journal.jsonl")]
    assert events.index("injected") < events.index("abort") < events.index("rollback-done")
    port = live.port("rabbitmq")
    wait_for(lambda: _accepts(port), 60, f"RabbitMQ accepting AMQP on {port} after the abort")
    info = live.sandbox.supervisor.process("rabbitmq")
    assert info.state == "RUNNING", info
