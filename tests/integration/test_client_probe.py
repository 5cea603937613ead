"""The client probe on the real sandbox, checked against ground truth measured another way.

* A SIGKILLed dashboard: the probe's window on the dashboard API must match, within the probe's
  resolution, how long the dashboard's port refused connections (a TCP connect every 20 ms, from
  this test), and within ~1 s the down time supervisord reports (RUNNING → RUNNING with a new
  PID; supervisord calls a program RUNNING only after `startsecs=1`).
* rabbitmq-outage: the dashboard and the notification service read PostgreSQL, Redis,
  Prometheus and SQLite, never the broker — the drill's stated blast radius says they stay up,
  and the probe is what can show it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from drills import runner
from drills.results import DrillResult
from drills.sandbox.supervisor import ProcessInfo
from drills.spec import load
from drills.targets.local import LocalTarget
from drills.unavailability import ApiUnavailability
from tests import REPO_ROOT
from tests.support import LiveSandbox

pytestmark = pytest.mark.integration
T = TypeVar("T")
DASHBOARD = "event-audit-dashboard"

DASHBOARD_KILL = """\
name: dashboard-kill
description: SIGKILL the dashboard; supervisord restarts it
target:
  component: event-audit-dashboard
fault:
  kind: process-kill
  params:
    signal: KILL
load:
  rate: 100
  baseline_s: 5
steady_state:
  - name: dashboard up
    query: min(up{job="event-audit-dashboard"})
    tolerance: {min: 1}
recovery:
  samples: 3
expected_alerts: []
objectives:
  max_ttr_s: 60
  max_lost: 0
abort:
  max_duration_s: 120
"""


class Watch(Generic[T]):
    """Samples (time, value) taken by a background thread until stopped."""

    def __init__(self, every_s: float, sample: Callable[[], T]) -> None:
        self.every_s, self.sample = every_s, sample
        self.samples: list[tuple[float, T]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            at = time.time()
            self.samples.append((at, self.sample()))
            self.stop.wait(self.every_s)

    def end(self) -> list[tuple[float, T]]:
        self.stop.set()
        self.thread.join(5)
        return self.samples


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _state(info: ProcessInfo) -> tuple[str, int]:
    return info.state, info.pid


def down_stretch(samples: list[tuple[float, T]], is_up: Callable[[T], bool]) -> tuple[float, float]:
    """The first stretch of samples where `is_up(value)` is false: (first down, next up)."""
    down_at = None
    for at, value in samples:
        up = is_up(value)
        if down_at is None and not up:
            down_at = at
        elif down_at is not None and up:
            return down_at, at
    pytest.fail(f"no complete down stretch in {len(samples)} samples")


def describe(result: DrillResult) -> dict[str, ApiUnavailability]:
    probe = result.client_unavailability
    assert probe is not None, result.reason
    print(
        f"\n{result.drill}: {result.outcome} ({result.reason}); fault window "
        f"{probe.fault_from} → {probe.fault_until}"
    )
    for api in probe.apis:
        windows = [
            (
                w.start.isoformat(timespec="milliseconds"),
                w.seconds,
                w.failed,
                w.timed_out,
                "outside" if w.outside_fault else "inside",
            )
            for w in api.windows
        ]
        print(
            f"  {api.name}: {api.requests} requests, {api.failed} failed "
            f"({api.timed_out} timed out), {api.unavailable_seconds} s; windows {windows}"
        )
    return {api.name: api for api in probe.apis}


def test_a_killed_dashboard_window_matches_the_port_and_supervisord(
    live: LiveSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "dashboard-kill.yaml"
    path.write_text(DASHBOARD_KILL)
    spec = load(path)
    port = live.port(DASHBOARD)
    supervisor = live.sandbox.supervisor
    tcp = Watch(0.02, lambda: accepts(port))
    sup = Watch(0.05, lambda: _state(supervisor.process(DASHBOARD)))
    try:
        result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    finally:
        tcp_samples, sup_samples = tcp.end(), sup.end()
    apis = describe(result)
    assert result.injected_at is not None and result.fault is not None
    t_inject = result.injected_at.timestamp()
    refused_at, accepted_at = down_stretch(tcp_samples, lambda up: up)
    # supervisord: RUNNING (old PID) → STARTING/BACKOFF → RUNNING (new PID, after startsecs).
    sup_down, sup_up = down_stretch(sup_samples, lambda v: v[0] == "RUNNING")
    new_start = float(result.fault.figures["restarted_at"] or 0)
    port_down = accepted_at - refused_at
    sup_down_s = sup_up - sup_down
    print(
        f"  ground truth: kill at {t_inject:.3f}; port refused {refused_at - t_inject:+.3f} → "
        f"accepted {accepted_at - t_inject:+.3f} ({port_down:.3f} s); supervisord not RUNNING "
        f"{sup_down - t_inject:+.3f} → RUNNING {sup_up - t_inject:+.3f} ({sup_down_s:.3f} s); "
        f"new process started {new_start - t_inject:+.3f} (kernel)"
    )
    for name in ("dashboard page", "dashboard API"):
        api = apis[name]
        assert len(api.windows) == 1, api.windows
        window = api.windows[0]
        assert window.end is not None and not window.outside_fault
        print(
            f"  {name}: window {window.seconds:.3f} s vs port {port_down:.3f} s "
            f"(Δ {window.seconds - port_down:+.3f}), vs supervisord {sup_down_s:.3f} s "
            f"(Δ {window.seconds - sup_down_s:+.3f})"
        )
        assert abs(window.start.timestamp() - refused_at) <= 0.3
        assert abs(window.seconds - port_down) <= 0.5  # one probe period (0.2 s) each side
        assert abs(window.seconds - sup_down_s) <= 1.2
    assert apis["notification API"].failed == 0


def test_rabbitmq_outage_leaves_the_dashboard_and_notification_apis_available(
    live: LiveSandbox, tmp_path: Path
) -> None:
    spec = load(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml")
    result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    apis = describe(result)
    assert result.outcome == "passed", result.reason
    for name in ("dashboard page", "dashboard API", "notification API"):
        assert apis[name].requests > 100, name  # 5/s over the whole drill
        assert apis[name].windows == (), (name, apis[name].windows)
    assert (Path(result.run_dir) / "client-probe.json").exists()
