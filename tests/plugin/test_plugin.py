"""The genesis-drill pytest plugin under `pytester`: options, markers, fixtures, failure output,
JUnit properties, and rollback on failure and on KeyboardInterrupt — with fakes, no services."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

CONFTEST_SCRIPTED = """
import functools
import pytest
from tests.plugin import fakes

@pytest.fixture(scope="session")
def genesis_target():
    return fakes.FakeTarget()

@pytest.fixture(scope="session")
def genesis_runner():
    return fakes.scripted_result
"""


def conftest_real(fault: str) -> str:
    return f"""
import pytest
from tests.plugin import fakes

TARGET = fakes.FakeTarget()

@pytest.fixture(scope="session")
def genesis_target():
    return TARGET

@pytest.fixture(scope="session")
def genesis_runner():
    return fakes.real_runner({fault})
"""


def test_options_and_markers_are_registered(pytester):
    """--genesis-target and --genesis-runs-dir are in --help; drill/destructive markers exist."""
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--genesis-target" in help_text and "--genesis-runs-dir" in help_text
    markers = pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.drill:" in markers and "@pytest.mark.destructive:" in markers
    pytester.makepyfile(
        "import pytest\n@pytest.mark.drill\n@pytest.mark.destructive\ndef test_x():\n    pass\n"
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_drill_fixture_returns_the_result_in_the_runs_dir(pytester, tmp_path):
    """drill("pod-kill") returns the DrillResult; --genesis-runs-dir decides where it is written."""
    pytester.makeconftest(CONFTEST_SCRIPTED)
    pytester.makepyfile(
        """
        def test_pod_kill(drill):
            result = drill("pod-kill")
            assert result.drill == "pod-kill"
            assert result.ttd_seconds < 30
            assert result.objectives_passed
        """
    )
    runs = tmp_path / "runs"
    pytester.runpytest("--genesis-runs-dir", str(runs)).assert_outcomes(passed=1)
    (saved,) = runs.glob("*-pod-kill/result.json")
    assert json.loads(saved.read_text())["drill"] == "pod-kill"


def test_measured_figures_become_junit_properties(pytester):
    """TTD, TTR, outcome, loss and the run directory are properties in the JUnit XML."""
    pytester.makeconftest(CONFTEST_SCRIPTED)
    pytester.makepyfile("def test_pod_kill(drill):\n    drill('pod-kill')\n")
    pytester.runpytest("--junitxml=junit.xml").assert_outcomes(passed=1)
    tree = ET.parse(pytester.path / "junit.xml")
    props = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert props["genesis.pod-kill.ttd_seconds"] == "5.0"
    assert props["genesis.pod-kill.ttr_seconds"] == "21.5"
    assert props["genesis.pod-kill.outcome"] == "passed"
    run_dir = props["genesis.pod-kill.run_dir"]
    assert run_dir is not None and run_dir.endswith("-pod-kill")


def test_failing_assertion_shows_figures_and_run_directory(pytester):
    """A plain `assert result.ttd_seconds < 30` that fails prints the measured figures and the
    run directory in a genesis-drill report section; assert_within says what was exceeded."""
    pytester.makeconftest(
        CONFTEST_SCRIPTED.replace(
            "return fakes.scripted_result",
            "return functools.partial(fakes.scripted_result, ttd=42.0)",
        )
    )
    pytester.makepyfile(
        """
        from drills.pytest_plugin import assert_within

        def test_plain(drill):
            result = drill("pod-kill")
            assert result.ttd_seconds < 30

        def test_helper(drill):
            assert_within(drill("pod-kill"), ttd_s=30, lost=0)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "genesis-drill" in out
    assert "TTD 42.0 s  TTN 6.0 s  TTR 21.5 s" in out
    assert "MISS time to detect: 42s (wanted <= 30s)" in out
    assert "run directory: " in out and "-pod-kill" in out
    assert "TTD 42.0 s > 30 s; lost unknown > 0" in out


def test_rollback_runs_when_the_test_fails_during_the_drill(pytester, tmp_path):
    """The fault's hold raises: the fault is rolled back (journaled) and the component started."""
    pytester.makeconftest(conftest_real("fakes.Fault(hold_error=RuntimeError('boom'))"))
    pytester.makepyfile(
        """
        from tests.plugin import fakes
        def test_outage(drill):
            result = drill("rabbitmq-outage")
            assert result.outcome == "passed", result.reason
        """
    )
    runs = tmp_path / "runs"
    result = pytester.runpytest("--genesis-runs-dir", str(runs))
    result.assert_outcomes(failed=1)
    assert "boom" in result.stdout.str()
    from tests.plugin.fakes import journal_events

    events = [e["event"] for e in journal_events(runs)]
    assert events.index("inject-intent") < events.index("rollback-done")


def test_rollback_is_finished_by_the_finalizer_on_keyboard_interrupt(pytester, tmp_path):
    """Ctrl-C inside the rollback itself: the session stops (interrupted) and the drill fixture's
    finalizer rolls the fault back from the journal, like `genesis-drill recover`."""
    pytester.makeconftest(conftest_real("fakes.Fault(rollback_error=KeyboardInterrupt())"))
    pytester.makepyfile(
        """
        def test_outage(drill):
            drill("rabbitmq-outage")

        def test_never_reached():
            pass
        """
    )
    runs = tmp_path / "runs"
    # In-process, pytester re-raises the inner session's Ctrl-C unless told not to.
    recorder = pytester.inline_run("--genesis-runs-dir", str(runs), no_reraise_ctrlc=True)
    assert recorder.ret == pytest.ExitCode.INTERRUPTED
    from tests.plugin.fakes import journal_events

    records = journal_events(runs)
    done = [r for r in records if r["event"] == "rollback-done"]
    assert [r.get("by") for r in done] == ["recover"]
    assert [r.nodeid for r in recorder.getreports("pytest_runtest_logreport")].count(
        "test_rollback_is_finished_by_the_finalizer_on_keyboard_interrupt.py::test_never_reached"
    ) == 0


def test_platform_fixture_fails_clearly_when_it_cannot_start(pytester):
    """An impossible sandbox setting fails each test that needs the platform with one line."""
    pytester.makepyfile("def test_needs_platform(drill):\n    pass\n")
    result = pytester.runpytest("--genesis-port-base", "70000")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*genesis-drill: the local sandbox cannot be started or reached: --genesis-port-base*"]
    )


def test_ledger_fixture_gives_the_generator_and_dsn(pytester):
    """`ledger` is built from the target's endpoints (fake here: the closed port 9)."""
    pytester.makeconftest(CONFTEST_SCRIPTED)
    pytester.makepyfile(
        """
        def test_ledger(ledger):
            assert ledger.pg_dsn == "host=127.0.0.1 port=9"
            assert hasattr(ledger, "mark") and hasattr(ledger, "account")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
