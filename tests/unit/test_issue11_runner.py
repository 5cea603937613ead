"""Issue 11 (runner part): SLO configuration, retry policy, error locations, the dead-letter
count across restarts, abort-block validation and a dead generator's message."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import socket
from pathlib import Path

import pytest

import drills
from drills import budget, retry, slo
from drills.errors import PermanentError, SpecError, TargetError, TemporaryError
from drills.ledger import GeneratorClient, counter_increase
from drills.spec import load
from tests import REPO_ROOT


def test_packaged_slo_config_is_the_default_and_a_flag_beats_the_env(tmp_path):
    """The packaged drills/slo.yaml is read by default; GENESIS_SLO_CONFIG overrides it and
    an explicit path (the --slo-config flag) beats the environment."""
    assert slo.load(environ={}).event_latency.objective == 0.99
    env_file, flag_file = tmp_path / "env.yaml", tmp_path / "flag.yaml"
    env_file.write_text("event_latency: {objective: 0.9, threshold_s: 1, window_s: 60}\n")
    flag_file.write_text("event_latency: {objective: 0.999, threshold_s: 1, window_s: 60}\n")
    env = {slo.ENV_VAR: str(env_file)}
    assert slo.load(environ=env).event_latency.objective == 0.9
    assert slo.load(flag_file, environ=env).event_latency.objective == 0.999


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("event_latency: {objective: .nan, threshold_s: 1, window_s: 60}", "objective"),
        ("event_latency: {objective: 1.5, threshold_s: 1, window_s: 60}", "between 0 and 1"),
        ("event_latency: {objective: 0.9, threshold_s: 1, window_s: 0}", "window_s: must be > 0"),
        ("event_latency: {objective: 0.9, threshold_s: 1, window_s: .inf}", "window_s"),
    ],
)
def test_bad_slo_config_names_file_and_field(tmp_path, body, message):
    """An invalid SLO configuration is one line naming file:line: field."""
    path = tmp_path / "slo.yaml"
    path.write_text(body + "\n")
    with pytest.raises(SpecError) as error:
        slo.load(path, environ={})
    assert str(error.value).startswith(f"{path}:1: event_latency.")
    assert message in str(error.value)


def test_budget_maths():
    """Consumed, remaining and burn rate of the 99 % / 1 h latency SLO."""
    objective = slo.LatencySlo(0.99, 0.5, 3600)
    used = budget.consumed(5400, objective, 300)
    assert used is not None and used.share == 0.5
    assert budget.remaining(0.995, objective) == pytest.approx(0.5)
    assert budget.burn_rate(0.8, objective) == pytest.approx(20)
    assert 'le="0.5"' in budget.bad_events_query(objective, 30)


def test_retry_only_temporary_errors():
    """Temporary errors are retried with bounded back-off; permanent ones fail at once."""
    waits: list[float] = []
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TemporaryError("503", delay=100.0)
        return "ok"

    assert retry.call(flaky, retry.Backoff(3, 1.0, 4.0), sleep=waits.append) == "ok"
    assert waits == [4.0, 4.0]  # a backend's hint, bounded by max_s

    def forbidden() -> None:
        calls.append(1)
        raise PermanentError("403")

    calls.clear()
    with pytest.raises(PermanentError):
        retry.call(forbidden, sleep=waits.append)
    assert len(calls) == 1
    assert not retry.is_temporary(TargetError("unclassified"))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (403, PermanentError),
        (404, PermanentError),
        (422, PermanentError),
        (409, TemporaryError),
        (500, TemporaryError),
        (503, TemporaryError),
    ],
)
def test_kubernetes_api_errors_are_split_temporary_permanent(status, kind):
    """The Kubernetes target maps 403/404/422 to permanent, 409/5xx to temporary."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from drills.targets.kubernetes.api import KubeApi

    api = KubeApi(client.ApiClient(client.Configuration()), "auditflow-platform", "test")

    def fail() -> None:
        raise ApiException(status=status, reason="x")

    with pytest.raises(kind):
        api.call("reading", fail)


def test_every_error_class_lives_in_errors_py():
    """No harness module defines its own exception class outside drills/errors.py (click's own
    exceptions excepted: they are how a command-line parameter type reports, in drills/cli)."""
    import click

    elsewhere = []
    for info in pkgutil.walk_packages(drills.__path__, "drills."):
        if info.name in ("drills.__main__", "drills.pytest_plugin"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Exception)
                and not issubclass(obj, click.ClickException)
                and obj.__module__ == info.name
                and info.name != "drills.errors"
            ):
                elsewhere.append(f"{info.name}.{name}")
    assert elsewhere == []


def test_counter_increase_counts_across_a_reset():
    """Recorded samples with a reset: 17 → 17 → (restart) 4 → 17 is 17 increments after the
    mark, as increase() counts them; a series born after the mark counts from 0."""
    series = [
        [(990.0, 17.0), (1000.0, 17.0), (1010.0, 17.0), (1030.0, 4.0), (1060.0, 17.0)],
        [(1040.0, 3.0), (1050.0, 5.0)],
    ]
    assert counter_increase(series, since=1000.0) == 17 + 5


def test_abort_block_sli_floor_must_name_a_probe(tmp_path):
    """abort.sli_floor names a steady-state probe; an unknown one is refused at load."""
    text = (REPO_ROOT / "drills" / "catalog" / "pod-kill.yaml").read_text()
    path = tmp_path / "d.yaml"
    path.write_text(text + "  sli_floor: {probe: nope, min: 1}\n")
    with pytest.raises(SpecError, match=r"abort\.sli_floor\.probe: no steady-state probe 'nope'"):
        load(path)
    path.write_text(
        text + "  max_burn_rate: {rate: 14.4, short_window_s: 30, long_window_s: 300}\n"
    )
    assert load(path).abort.max_burn_rate is not None


def test_dead_generator_is_named(tmp_path: Path):
    """A generator that is not answering is a TargetError that says so, not a ConnectError."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        client = GeneratorClient(url, "token")
        with pytest.raises(TargetError) as error:
            client.mark()
    finally:
        sock.close()
    assert f"audit-event-generator at {url} is not answering" in str(error.value)
    assert "genesis-drill platform status" in str(error.value)


def test_budget_floor_null_switches_the_gate_off(tmp_path):
    """`preflight.budget_floor: null` is read as "no gate", a number outside 0..1 is refused."""
    path = tmp_path / "slo.yaml"
    path.write_text(
        "event_latency: {objective: 0.9, threshold_s: 1, window_s: 60}\n"
        "preflight: {budget_floor: null}\n"
    )
    assert slo.load(path, environ={}).budget_floor is None
    path.write_text(
        "event_latency: {objective: 0.9, threshold_s: 1, window_s: 60}\n"
        "preflight: {budget_floor: 1.5}\n"
    )
    with pytest.raises(SpecError, match="budget_floor: is a share of the budget"):
        slo.load(path, environ={})
