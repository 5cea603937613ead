"""What a refused run says (issue 13, item 6): the measured values as measured, and a reason
for every figure it could not have."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from rich.console import Console

from drills import live
from drills.cli.reporter import print_summary
from drills.errors import PreflightRefused
from drills.run_state import quiet
from drills.runner import RunOptions, run
from drills.spec import load
from drills.targets.fake import FakeTarget
from tests import REPO_ROOT
from tests.fakes import FakeClock, FakeGenerator, FakeObserver
from tests.unit.test_runner import ScriptedFault

POD_KILL = load(REPO_ROOT / "drills" / "catalog" / "pod-kill.yaml")


def test_a_measured_zero_is_not_reported_as_broken():
    """An empty queue (0.0, within `max: 1000`) holds; only the SLI that broke is named, with
    its value, and a missing one says "no data"."""
    spec = replace(POD_KILL, load=replace(POD_KILL.load, baseline_s=0.0))
    observer = FakeObserver(
        answers={
            "up{job=": 1.0,
            "events_processed_total": 10.0,
            "rabbitmq_queue_messages_ready": 0.0,
        }
    )
    clock = FakeClock()
    with pytest.raises(PreflightRefused) as refused:
        live.baseline(spec, observer, quiet, clock.now(), clock.now() + 600, clock)
    message = str(refused.value)
    assert "events stored per second=10 (wanted >= 150)" in message
    assert "queue backlog" not in message
    observer.answers["up{job="] = None
    with pytest.raises(PreflightRefused) as refused:
        live.baseline(spec, observer, quiet, clock.now(), clock.now() + 600, clock)
    assert "analysis up=no data (wanted >= 1)" in str(refused.value)


def test_a_flapping_baseline_names_what_broke_last():
    """The steady state holds now but never for K samples in a row: the refusal says so and
    names the probe that broke last with its value, not just "did not hold for long enough"."""
    spec = replace(POD_KILL, load=replace(POD_KILL.load, baseline_s=0.0))
    calls = {"n": 0}

    def flapping(_query: str) -> float:
        calls["n"] += 1
        return 10.0 if calls["n"] % 3 == 0 else 500.0  # every third read breaks

    observer = FakeObserver(answers={"events_processed_total": flapping})
    clock = FakeClock()
    with pytest.raises(PreflightRefused) as refused:
        live.baseline(spec, observer, quiet, clock.now(), clock.now() + 600, clock)
    message = str(refused.value)
    assert "samples in a row" in message and "of 5" in message
    assert "events stored per second=10 (wanted >= 150)" in message


def test_a_refused_run_says_why_it_has_no_figures(tmp_path):
    """Preflight refused: each figure's reason is that the fault was never injected, and the
    summary prints it instead of an empty "n/a ()"."""
    spec = replace(POD_KILL, load=replace(POD_KILL.load, baseline_s=0.0))
    clock = FakeClock()
    result = run(
        spec,
        FakeTarget(),
        RunOptions(runs_dir=tmp_path),
        fault=ScriptedFault(clock=clock),
        observer=FakeObserver(healthy=False, clock=clock),
        generator=FakeGenerator(),
        clock=clock,
    )
    assert result.outcome == "preflight-refused"
    why = "the fault was never injected: preflight refused"
    assert (result.ttd_reason, result.ttn_reason, result.ttr_reason) == (why, why, why)
    console = Console(record=True, width=200)
    print_summary(result, console)
    text = console.export_text()
    assert re.search(rf"time to detect\s+n/a \({re.escape(why)}\)", text), text
    assert "()" not in text
