"""Every catalog drill runs end to end against the real sandbox, and its figures are asserted.

Order matters on a shared sandbox: pod-kill runs first, because its expected alert
(AuditAnalysisRestarted) keeps firing for two minutes after any restart of the analysis service.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from drills import runner
from drills.measurement import FINE_STEP_S
from drills.sandbox.lifecycle import status_of
from drills.spec import load
from drills.targets.local import LocalTarget
from tests import REPO_ROOT
from tests.ground_truth import (
    EventTimes,
    PortWatch,
    Truth,
    ledger_counts,
    measure_truth,
    prometheus_query,
    raw_gauge_samples,
    rows_around,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration
CATALOG = REPO_ROOT / "drills" / "catalog"


def run_drill(live, tmp_path: Path, name: str):
    """Run a catalog drill with the independent observer watching, then check its figures
    against ground truth (tests/ground_truth.py: the OS, raw ALERTS samples, psql)."""
    spec = load(CATALOG / f"{name}.yaml")
    with PortWatch({n: live.port(c) for n, c in WATCHED.items()}) as watch:
        result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    print(
        f"\n{name}: {result.outcome} TTD={result.ttd_seconds} TTN={result.ttn_seconds} "
        f"TTR={result.ttr_seconds} ledger={result.ledger} delay={result.delay} "
        f"wall={result.wall_seconds}s "
        f"fault={result.fault.figures if result.fault else None}"
    )
    if result.injected_at is not None and result.outcome != "aborted":
        check_against_ground_truth(live, spec, result, watch)
    return spec, result


# The ports the independent observer watches, and which one shows each drill's fault to clients.
WATCHED = {
    "analysis": "audit-log-analysis",
    "rabbitmq": "rabbitmq",
    "rabbitmq-metrics": "rabbitmq-metrics",
    "postgres": "postgres",
}
FAULT_PORT = {"pod-kill": "analysis", "rabbitmq-outage": "rabbitmq", "pvc-wipe-restore": "postgres"}
TOLERANCE_S = 1.0  # one evaluation interval (issue 13)
# TTR through Prometheus is late by the scrape's lag and never early because of it: a component
# back just after a scrape is seen one scrape interval later, and the harness reads the SLIs
# on a 50 ms grid between one-second points (drills.measurement.FINE_STEP_S). So the late side
# allows one scrape interval plus that grid step (and the watcher's 10 ms); the early side one
# evaluation interval, as for every other figure.
TTR_LATE_S = 1.0 + FINE_STEP_S + 0.02


def check_against_ground_truth(live, spec, result, watch: PortWatch) -> None:
    """TTD, TTR and t_inject within one evaluation interval of the independent figures; the
    ledger exactly equal to psql's counts."""
    assert result.injected_at is not None and result.finished_at is not None
    injected, end = result.injected_at.timestamp(), result.finished_at.timestamp()
    events = EventTimes(rows_around(live.pg_dsn, injected - 120, end))
    port = FAULT_PORT.get(spec.name)
    if port is not None:
        fault = (
            f"os: first refused connection to {port}",
            watch.first_refused(port, injected - 30),
        )
        assert fault[1] is not None, f"the OS never saw {port} refuse a connection"
        ready = (
            events.first_stored_after(fault[1])
            if spec.name == "pvc-wipe-restore"
            else watch.first_accepted(port, fault[1])
        )
    else:  # malformed events: nothing the OS sees; the harness's own publish time
        fault, ready = ("harness: first malformed message published", injected), injected
    truth = measure_truth(
        spec,
        watch,
        events,
        live.url("prometheus"),
        fault,
        ready,
        end,
        restore=spec.name == "pvc-wipe-restore",
    )
    phases = {p.name: p.offset_s for p in result.phases}
    print(
        f"ground truth {spec.name}: t_inject harness-os={injected - truth.fault_at:+.3f}s "
        f"TTD harness={result.ttd_seconds} truth={truth.ttd} | TTR harness={result.ttr_seconds} "
        f"truth={truth.ttr} | truth offsets: ready={_off(truth.ready_at, truth)} "
        f"breach={_off(truth.breach_at, truth)} steady={_off(truth.steady_at, truth)} "
        f"drained={_off(truth.drained_at, truth)} complete={_off(truth.complete_at, truth)} | "
        f"harness phases: {phases}"
    )
    assert abs(injected - truth.fault_at) <= TOLERANCE_S, (injected, truth)
    assert result.ttd_seconds is not None and truth.ttd is not None, truth
    assert abs(result.ttd_seconds - truth.ttd) <= TOLERANCE_S, (result.ttd_seconds, truth)
    assert result.ttr_seconds is not None and truth.ttr is not None, truth
    late = result.ttr_seconds - truth.ttr
    assert -TOLERANCE_S <= late <= TTR_LATE_S, (result.ttr_seconds, truth)
    ledger = result.ledger
    assert ledger is not None
    rows, distinct = ledger_counts(live.pg_dsn, ledger.run_id, ledger.first_seq, ledger.last_seq)
    assert (ledger.stored, ledger.duplicated) == (distinct, rows - distinct)
    absent = ledger.last_seq - ledger.first_seq + 1 - distinct  # by psql
    assert ledger.lost <= absent  # lost = confirmed (ok) but absent: never more than absent
    if ledger.confirmed == ledger.last_seq - ledger.first_seq + 1:  # every event ok
        assert ledger.lost == absent


def _off(at: float | None, truth: Truth) -> str:
    return "n/a" if at is None else f"{at - truth.fault_at:.2f}"


def assert_drill_passed(live, spec, result) -> None:
    assert result.outcome == "passed", (result.reason, result.objectives)
    if spec.expected_alerts:  # a heartbeat drill (monitoring-blind) expects none: told instead
        assert result.ttd_seconds is not None
        assert 0 < result.ttd_seconds <= spec.objectives.max_ttd_s
    # 0: the steady state never broke and nothing was left to drain
    assert result.ttr_seconds is not None and 0 <= result.ttr_seconds <= spec.objectives.max_ttr_s
    assert result.alerts is not None
    assert set(spec.expected_alerts) <= set(result.alerts.fired)
    assert result.ledger is not None
    assert result.ledger.confirmed > 0
    assert result.ledger.lost == 0
    assert result.ledger.duplicated == 0
    # Jepsen's categories: drained, so nothing is left unknown, refused or unpublished.
    assert result.ledger.outcomes_source.startswith("generator"), result.ledger.outcomes_source
    assert (result.ledger.info, result.ledger.failed, result.ledger.unpublished) == (0, 0, 0)
    assert result.ledger.published == result.ledger.confirmed == result.ledger.stored
    assert result.ledger.unexpected == 0
    assert result.delay is not None and result.delay.events == result.ledger.stored
    saved = json.loads((Path(result.run_dir) / "result.json").read_text())
    for key in (
        "drill",
        "target",
        "outcome",
        "started_at",
        "injected_at",
        "detected_at",
        "recovered_at",
        "ttd_seconds",
        "ttn_seconds",
        "ttr_seconds",
        "phases",
        "alerts",
        "ledger",
        "error_budget_consumed",
        "objectives",
    ):
        assert key in saved, key
    assert (Path(result.run_dir) / "journal.jsonl").exists()
    assert (Path(result.run_dir) / "series.json").exists()
    wait_for(
        lambda: all(c.healthy for c in status_of(live.sandbox)),
        60,
        "every component healthy after the drill",
    )


def test_a_pod_kill(live, tmp_path):
    """pod-kill: the analysis process is SIGKILLed, restarted with a new PID, nothing lost."""
    spec, result = run_drill(live, tmp_path, "pod-kill")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    checks = {c.name: c for c in result.fault.checks}
    assert checks["component restarted by its supervisor"].passed


def test_b_rabbitmq_outage(live, tmp_path):
    """rabbitmq-outage: the broker is down 20 s, the generator buffers, the backlog drains."""
    spec, result = run_drill(live, tmp_path, "rabbitmq-outage")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None and result.fault.figures["held_down_seconds"] >= 19
    # The broker really stayed down for the whole hold (it once came back: restart race).
    series = json.loads((Path(result.run_dir) / "series.json").read_text())["queries"]
    broker_up = next(v for q, v in series.items() if 'up{job="rabbitmq"}' in q)
    assert result.injected_at is not None
    t0 = result.injected_at.timestamp()
    during = [value for t, value in broker_up if t0 + 4 <= t <= t0 + 19]
    assert during and all(value == 0 for value in during), during
    phases = {p.name: p for p in result.phases}
    assert phases["backlog drained"].offset_s is not None
    assert phases["backlog drained"].offset_s >= phases["alert firing"].offset_s
    # Users waited out the outage: events buffered while the broker was down were stored
    # ~20 s after they occurred, where publish → stored (re-stamped on re-publish) stays short
    # for nearly all of them. Not for all: a message the broker had queued when it was killed is
    # delivered after its restart with its first stamp (one run: published max = max = 25.6 s).
    delay = result.delay
    assert delay is not None and delay.max_s is not None and delay.max_s >= 15
    assert delay.p99_s is not None and delay.published_p99_s is not None
    assert delay.published_p99_s < delay.p99_s - 10
    check_backlog_peaks(live, result)


def check_backlog_peaks(live, result) -> None:
    """The generator buffer's recorded peak is the largest raw sample Prometheus holds of the
    gauge from the injection to the recovery, read here straight from its HTTP API (the raw
    samples, and max_over_time as Prometheus computes it), and the draft judges both limits."""
    from drills.backlog_peaks import BUFFER_GAUGE, BUFFER_PEAK, QUEUE_PEAK
    from drills.postmortem.render import draft

    assert result.injected_at is not None and result.recovered_at is not None
    start, end = result.injected_at.timestamp(), result.recovered_at.timestamp()
    peaks = {p.figure: p for p in result.backlog_peaks}
    buffer, queue = peaks[BUFFER_PEAK], peaks[QUEUE_PEAK]
    prometheus = live.url("prometheus")
    raw = raw_gauge_samples(prometheus, BUFFER_GAUGE, start, end)
    window_ms = int((end - start) * 1000)
    (over,) = prometheus_query(prometheus, f"max_over_time({BUFFER_GAUGE}[{window_ms}ms])", end)
    capacity = prometheus_query(prometheus, "generator_buffer_capacity", end)
    raw_peak = max(v for _, v in raw)
    print(
        f"backlog peaks: buffer {buffer.peak} at {buffer.at} (resolution {buffer.resolution_s} s, "
        f"limit {buffer.limit}) vs raw max {raw_peak} of {len(raw)} samples, max_over_time "
        f"{over['value'][1]}; queue {queue.peak} at {queue.at} (resolution {queue.resolution_s} s,"
        f" limit {queue.limit}) {queue.reason}"
    )
    assert buffer.peak == raw_peak == float(over["value"][1]) > 0, (buffer, raw_peak, over)
    assert buffer.at is not None
    assert any(abs(t - buffer.at.timestamp()) < 0.002 and v == buffer.peak for t, v in raw), raw
    spacing = max(b - a for (a, _), (b, _) in itertools.pairwise(raw))
    assert buffer.resolution_s is not None and buffer.resolution_s >= spacing - 0.01
    assert buffer.resolution_s <= 2.5  # the sandbox scrapes every second
    assert buffer.limit == float(capacity[0]["value"][1])
    assert queue.peak is not None and queue.limit == 30_000, queue
    text = draft(Path(result.run_dir)).read_text()
    assert "Not judged" not in text
    assert "the generator's buffer: " in text and "the analysis queue's bound: " in text


def test_c_malformed_events(live, tmp_path):
    """malformed-events: every malformed message dead-lettered with its reason, no restart."""
    spec, result = run_drill(live, tmp_path, "malformed-events")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    figures = result.fault.figures
    assert figures["malformed_dead_lettered"] == figures["malformed_published"] == 300
    assert figures["wrong_reason"] == 0
    assert figures["consumer_restarts"] == 0
    assert result.ledger.dead_lettered >= 300


def test_drill_with_prometheus_down_is_an_observation_error(live, tmp_path):
    """With Prometheus stopped the drill cannot measure: exit 4, and nothing was injected."""
    from click.testing import CliRunner

    from drills.cli.main import cli

    supervisor = live.sandbox.supervisor
    supervisor.stop("prometheus")
    try:
        result = CliRunner().invoke(
            cli,
            [
                "run",
                "pod-kill",
                "--runs-dir",
                str(tmp_path),
                "--output",
                "json",
                "--state-dir",
                str(live.settings.state_dir),
                "--port-base",
                str(live.settings.port_base),
            ],
        )
    finally:
        supervisor.start("prometheus")
    assert result.exit_code == 4, result.output
    saved_path = next(tmp_path.glob("*/result.json"))
    saved = json.loads(saved_path.read_text())
    assert saved["outcome"] == "observation-error"
    assert saved["injected_at"] is None
    # Even a run that measured nothing leaves its report page, saying how it ended.
    page = (saved_path.parent / "report.html").read_text()
    assert 'data-outcome="observation-error"' in page and "No fault was injected" in page
    wait_for(lambda: _ready(live), 30, "Prometheus back")


def _ready(live) -> bool:
    import httpx

    try:
        return httpx.get(f"{live.url('prometheus')}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_d_pvc_wipe_restore(live, tmp_path):
    """pvc-wipe-restore: RTO and RPO measured, restored data matches the backup, and the events
    committed after the backup are re-driven so that in the end none is lost."""
    spec, result = run_drill(live, tmp_path, "pvc-wipe-restore")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    figures = result.fault.figures
    assert figures["rto_seconds"] is not None and figures["rto_seconds"] > 0
    assert figures["rpo_before_redrive"] > 0
    assert figures["rpo_after_redrive"] == 0
    assert figures["integrity_ok"] in (True, "True", 1)
    # t_inject is PostgreSQL's first refused connection, before the wipe completed; recovery
    # waits until every event committed before the wipe is present again (the re-drive).
    journal = [json.loads(line) for line in (Path(result.run_dir) / "journal.jsonl").open()]
    injected = next(r for r in journal if r["event"] == "injected")
    assert injected["source"].startswith("os: first refused connection"), injected
    assert injected["details"]["wipe_completed_after_s"] >= 0
    phases = {p.name: p for p in result.phases}
    complete = phases["data complete"].offset_s
    assert complete is not None and result.ttr_seconds is not None
    assert result.ttr_seconds >= complete
