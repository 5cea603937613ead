"""`platform down` stops everything it started — then the test brings the session's shared sandbox
up again, so no other test depends on running before this one."""

from __future__ import annotations

import pytest

from drills.sandbox.health import port_open
from drills.sandbox.layout import PORT_OFFSETS
from drills.sandbox.procfs import descendants, pid_alive

pytestmark = pytest.mark.integration


def test_down_leaves_no_process_and_no_listening_port(live):
    """After `down`, no PID the sandbox ran is alive and no port of its block is listening."""
    from drills.sandbox.lifecycle import down, up

    supervisor = live.sandbox.supervisor
    pids = {info.name: info.pid for info in supervisor.processes() if info.pid}
    daemon = supervisor.daemon_pid()
    assert daemon and len(pids) == len(live.sandbox.programs)
    # Children of the programs too (the Erlang VM under rabbitmq-server, PostgreSQL's backends).
    children = [child for pid in pids.values() for child in descendants(pid)]
    try:
        report = down(live.settings)
        assert sorted(report.stopped) == sorted(pids)
        assert report.ports_still_open == []
        ports = live.settings.ports
        assert [name for name in PORT_OFFSETS if port_open(ports.of(name))] == []
        alive = [pid for pid in [daemon, *pids.values(), *children] if pid_alive(pid)]
        assert alive == []
    finally:
        # The same state directory, secrets and port block: the session's clients keep working.
        up(live.settings)
    assert len([info for info in supervisor.processes() if info.state == "RUNNING"]) == len(pids)
