"""bad-deploy on the real sandbox: the broken revision really ran, the good one really came back.

The drill's own figures (TTD from Prometheus, TTR, the ledger, the rollback time) are checked
against ground truth taken another way: the analysis process's PID and environment as the kernel
shows them (/proc/<pid>/environ), sampled while the drill runs; the revision store's files; the
dead-letter queue's depth from the broker; and the canary rows counted by psql.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pika
import pytest
import requests
from click.testing import CliRunner

from auditflow import topology
from drills import runner
from drills.cli.main import cli
from drills.postmortem import causal
from drills.sandbox.connections import amqp_url, pg_dsn
from drills.spec import load
from drills.targets.local import LocalTarget
from tests.ground_truth import ledger_counts
from tests.integration.test_drills import CATALOG, assert_drill_passed

pytestmark = pytest.mark.integration

KNOB = "AUDITFLOW_MAX_EVENT_BYTES"


def environ_of(pid: int) -> dict[str, str] | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode(errors="replace") for k, v in pairs}


class ProcessWatch:
    """Samples supervisord's PID of audit-log-analysis and that process's environment."""

    def __init__(self, live) -> None:
        self.live = live
        self.seen: list[tuple[float, int, str | None]] = []  # (t, pid, the knob's value)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        supervisor = self.live.sandbox.supervisor
        while not self._stop.wait(0.2):
            try:
                info = supervisor.process("audit-log-analysis")
            except Exception:
                continue
            if info.state == "RUNNING" and info.pid:
                env = environ_of(info.pid)
                if env is not None:
                    self.seen.append((time.time(), info.pid, env.get(KNOB)))

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def dead_letter_depth(live) -> int:
    url = amqp_url(live.port("rabbitmq"), live.sandbox.secrets).reveal()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(topology.DEAD_LETTER_QUEUE, passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def test_bad_deploy_rolls_back_to_the_good_revision_and_loses_nothing(live, tmp_path):
    """reject-all with automated rollback: DeadLetterRateHigh detects it, the harness restores
    the good revision (a new process without the bad setting), every dead-lettered event is
    re-driven and stored exactly once."""
    spec = load(CATALOG / "bad-deploy.yaml")
    before = live.sandbox.supervisor.process("audit-log-analysis").pid
    assert (environ_of(before) or {}).get(KNOB) is None
    with ProcessWatch(live) as watch:
        result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    figures = result.fault.figures if result.fault else {}
    print(
        f"\nbad-deploy: {result.outcome} TTD={result.ttd_seconds} TTR={result.ttr_seconds} "
        f"ledger={result.ledger} wall={result.wall_seconds}s fault={figures}"
    )
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    assert all(c.passed for c in result.fault.checks), result.fault.checks

    # The kernel's view: the bad revision really ran (its own PID with the knob), and the process
    # running now is a third one, without it.
    bad_pids = {pid for _t, pid, value in watch.seen if value == "256"}
    assert bad_pids and before not in bad_pids, watch.seen[:5]
    after = live.sandbox.supervisor.process("audit-log-analysis").pid
    assert after not in bad_pids and after != before
    assert (environ_of(after) or {}).get(KNOB) is None
    bad_since = min(t for t, _pid, value in watch.seen if value == "256")
    good_again = min(t for t, pid, value in watch.seen if value is None and t > bad_since)

    # The revision store: the good revision is live, the bad one kept as history.
    store = live.sandbox.layout.root / "revisions" / "audit-log-analysis"
    good, bad = figures["good_revision"], figures["bad_revision"]
    assert json.loads((store / "live.json").read_text()) == {"revision": good}
    assert json.loads((store / f"{bad:04d}.json").read_text())["env"] == {KNOB: "256"}

    # The rollback time from the deploy matches the sampled process switch (0.2 s sampling; the
    # figure ends when the good build is ready, after its start).
    rollback_s = figures["rollback_seconds"]
    assert isinstance(rollback_s, float)
    assert result.ttd_seconds is not None and result.ttd_seconds < rollback_s
    assert rollback_s >= good_again - bad_since - 1.0
    assert rollback_s <= spec.fault.params["rollback_by_s"] + 30

    # Dead-lettered, then re-driven: the queue holds none of ours now, and every canary row is
    # in PostgreSQL once (psql, not the harness's own count).
    dead = figures["events_dead_lettered"]
    assert isinstance(dead, int) and dead > 0
    assert dead_letter_depth(live) == figures["dead_letters_left_alone"]
    ledger = result.ledger
    assert ledger is not None
    rows, distinct = ledger_counts(
        pg_dsn(live.port("postgres"), live.sandbox.secrets).reveal(),
        ledger.run_id,
        ledger.first_seq,
        ledger.last_seq,
    )
    assert rows == distinct >= ledger.confirmed, (rows, distinct, ledger)

    # The post-mortem's causal chain tells the deploy, the rollback and the re-drive with the
    # run's own figures.
    chain = causal.build(result, spec.target)
    assert chain is not None
    texts = {link.text: link.figure for link in chain.links}
    assert (
        texts[
            f"audit-log-analysis revision {bad} deployed over revision {good} (breakage reject-all)"
        ]
        == f"revision {bad}"
    )
    assert texts[f"rolled back to revision {good} by harness, the good build ready"] == (
        f"rollback complete {rollback_s:.1f} s after the deploy"
    )
    assert any(f"{dead:,} events dead-lettered" in text for text in texts)


def crash_on_start_drill(tmp_path: Path) -> Path:
    """The catalog drill with the other breakage, left to a responder, expecting the crash's
    alert (the service exits before it serves /metrics, so its scrape fails)."""
    text = (CATALOG / "bad-deploy.yaml").read_text()
    text = text.replace("breakage: reject-all", "breakage: crash-on-start")
    text = text.replace("rollback: automated", "rollback: responder")
    text = text.replace(
        "expected_alerts: [DeadLetterRateHigh]", "expected_alerts: [AuditAnalysisDown]"
    )
    path = tmp_path / "bad-deploy-crash.yaml"
    path.write_text(text)
    return path


def firing(live, alert: str) -> bool:
    answer = requests.get(
        f"{live.url('prometheus')}/api/v1/query",
        params={"query": f'ALERTS{{alertname="{alert}",alertstate="firing"}}'},
        timeout=5,
    ).json()
    return bool(answer["data"]["result"])


def test_crash_on_start_is_rolled_back_by_a_responder_with_the_rollout_command(live, tmp_path):
    """crash-on-start with `rollback: responder`: the bad revision's processes exit at start (the
    kernel never shows one serving), AuditAnalysisDown fires, a responder runs `genesis-drill
    rollout undo`, the harness sees the good revision live and only confirms it; the queued
    events are stored once (delayed, not lost)."""
    spec = load(crash_on_start_drill(tmp_path))
    said: list[str] = []

    def responder() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not firing(live, "AuditAnalysisDown"):
            time.sleep(0.5)
        args = [
            "rollout",
            "undo",
            "audit-log-analysis",
            "--to-revision",
            str(good),
            "--state-dir",
            str(live.settings.state_dir),
            "--port-base",
            str(live.settings.port_base),
        ]
        said.append(CliRunner().invoke(cli, args).output)

    store = live.sandbox.layout.root / "revisions" / "audit-log-analysis"
    good = json.loads((store / "live.json").read_text())["revision"] if store.exists() else 1
    helper = threading.Thread(target=responder, daemon=True)
    helper.start()
    result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    helper.join(5)
    figures = result.fault.figures if result.fault else {}
    print(
        f"\nbad-deploy crash-on-start: {result.outcome} TTD={result.ttd_seconds} "
        f"TTR={result.ttr_seconds} ledger={result.ledger} wall={result.wall_seconds}s "
        f"fault={figures} responder={said}"
    )
    assert_drill_passed(live, spec, result)
    assert said and f"rolled back to revision {good}" in said[0], said
    assert figures["rolled_back_by"] == "responder"
    assert isinstance(figures["events_delayed_peak"], int) and figures["events_delayed_peak"] > 0
    after = live.sandbox.supervisor.process("audit-log-analysis").pid
    assert (environ_of(after) or {}).get("AUDITFLOW_LOG_LEVEL") is None
    assert json.loads((store / "live.json").read_text()) == {"revision": good}
