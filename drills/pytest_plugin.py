"""genesis-drill's pytest plugin: resilience tests that gate a release in CI.

Why a plugin (registered through the `pytest11` entry point) rather than helpers to import: a team
writes `def test_broker_outage(drill): result = drill("rabbitmq-outage"); assert result.ledger.lost
== 0` and gets the platform, the runner, the rollback guarantee and JUnit properties for free. It
is deliberately thin — every decision lives in `drills.runner`, `drills.sandbox` and the targets;
this module only wires them into fixtures that users can override, the way pytest-httpserver does:

- `genesis_settings` (session): which local sandbox — `--genesis-state-dir` / `--genesis-port-base`,
  else `GENESIS_STATE_DIR` / `GENESIS_PORT_BASE`. Override it to share a sandbox you already run.
- `genesis_platform` (session): connects to that sandbox when it is up and healthy, else brings it
  up (and takes it down at the end, unless `--genesis-keep-platform`); fails every test that needs
  it with one clear line when it cannot. `--genesis-target kubernetes` connects to a cluster.
- `genesis_target` (session), `genesis_runs_dir` (session), `genesis_runner` (the function that
  runs one drill: `drills.runner.run`; tests of the plugin pass fakes through it).
- `drill` (function): runs a drill and returns its `DrillResult`; its finalizer rolls back any
  fault still in effect (`drills.crash_recovery.recover`), on failure and on KeyboardInterrupt too.
- `ledger` (function): the event ledger — mark the generator, then account for what was stored.

Nothing heavy is imported until a fixture is used, so the plugin costs nothing in test sessions
that never run a drill.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from drills.outcome import Outcome  # an enum, no dependencies: cheap at plugin load

if TYPE_CHECKING:
    from drills.ledger import GeneratorClient, GeneratorMark, Ledger
    from drills.results import DrillResult
    from drills.runner import Listener, RunOptions
    from drills.settings import Settings
    from drills.spec import DrillSpec
    from drills.targets.base import Target

MARKERS = (
    "drill: runs a genesis-drill drill against a live platform (fault injected, rolled back)",
    "destructive: injects a fault that disturbs the platform for other tests while it runs",
)
FIGURES = (
    "outcome",
    "ttd_seconds",
    "ttn_seconds",
    "ttr_seconds",
    "error_budget_consumed",
    "wall_seconds",
)
_RESULTS_KEY = pytest.StashKey[list["DrillResult"]]()


class DrillRunnerFn(Protocol):
    def __call__(
        self, spec: DrillSpec, target: Target, options: RunOptions, listener: Listener
    ) -> DrillResult: ...


# --- configuration ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genesis-drill", "genesis-drill resilience tests")
    group.addoption(
        "--genesis-target",
        choices=("local", "kubernetes"),
        default="local",
        help="Where AuditFlow runs (default: local sandbox).",
    )
    group.addoption(
        "--genesis-runs-dir",
        default=None,
        help="Where run directories are written (default: a session temporary directory).",
    )
    group.addoption(
        "--genesis-state-dir",
        default=None,
        help="Local sandbox state directory (default: GENESIS_STATE_DIR or .genesis).",
    )
    group.addoption(
        "--genesis-port-base",
        default=None,
        help="Local sandbox port block (default: GENESIS_PORT_BASE or 28100).",
    )
    group.addoption(
        "--genesis-keep-platform",
        action="store_true",
        help="Leave a sandbox the plugin started running at the end of the session.",
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.stash[_RESULTS_KEY] = []


# --- the platform -------------------------------------------------------------------------------


@dataclass
class Platform:
    """The platform under test for this session, and whether the plugin started it."""

    target: Target
    settings: Settings | None = None
    started_here: bool = False
    notes: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def genesis_settings(pytestconfig: pytest.Config) -> Settings:
    """The local sandbox to use: options, then GENESIS_* environment, then defaults."""
    from drills.settings import Settings

    settings = Settings.from_env()
    state_dir = pytestconfig.getoption("--genesis-state-dir")
    if state_dir:
        settings = Settings(state_dir=Path(state_dir).resolve(), port_base=settings.port_base)
    port_base = pytestconfig.getoption("--genesis-port-base")
    if port_base:
        settings = settings.with_port_base(port_base, "--genesis-port-base")
    return settings


def _healthy(settings: Settings) -> bool:
    from drills.sandbox.lifecycle import resolve, status_of

    sandbox = resolve(settings)
    return sandbox.supervisor.running() and all(c.healthy for c in status_of(sandbox))


@pytest.fixture(scope="session")
def genesis_platform(
    pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[Platform]:
    """Connect to the platform, or bring the local sandbox up; fail clearly when neither works."""
    from drills.errors import GenesisError

    if pytestconfig.getoption("--genesis-target") == "kubernetes":
        try:
            from drills.targets.k8s_settings import KubeSettings
            from drills.targets.kubernetes import KubernetesTarget

            yield Platform(KubernetesTarget.connect(KubeSettings.from_env()))
        except GenesisError as error:
            pytest.fail(f"genesis-drill: cannot connect to Kubernetes: {error}", pytrace=False)
        return
    from drills.sandbox.lifecycle import down, up
    from drills.targets.local import LocalTarget

    try:
        settings: Settings = request.getfixturevalue("genesis_settings")
        # Connect when it is already up and healthy (e.g. the sandbox a conftest started), else
        # bring it up; `up` is idempotent, and only a sandbox started here is stopped at the end.
        started = False if _healthy(settings) else not up(settings).already_running
        platform = Platform(LocalTarget.from_settings(settings), settings, started)
    except GenesisError as error:
        pytest.fail(
            f"genesis-drill: the local sandbox cannot be started or reached: {error}",
            pytrace=False,
        )
    yield platform
    if platform.started_here and not pytestconfig.getoption("--genesis-keep-platform"):
        down(settings)


@pytest.fixture(scope="session")
def genesis_target(genesis_platform: Platform) -> Target:
    """The `Target` drills run against (override to use a fake)."""
    return genesis_platform.target


@pytest.fixture(scope="session")
def genesis_runs_dir(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where run directories go: --genesis-runs-dir, else a session temporary directory."""
    given = pytestconfig.getoption("--genesis-runs-dir")
    path = Path(given).resolve() if given else tmp_path_factory.mktemp("genesis-runs")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def genesis_runner() -> DrillRunnerFn:
    """The function that runs one drill (`drills.runner.run`); override to inject fakes."""
    from drills import runner

    return runner.run


# --- running drills ----------------------------------------------------------------------------


class DrillFixture:
    """`drill(name_or_path, load=None, max_duration=None)` → the run's `DrillResult`."""

    def __init__(
        self,
        target: Target,
        runs_dir: Path,
        run: DrillRunnerFn,
        record: Callable[[str, object], None],
        results: list[DrillResult],
    ) -> None:
        self.target, self.runs_dir, self._run, self._record = target, runs_dir, run, record
        self.results = results
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    def spec(self, drill: str) -> DrillSpec:
        from drills import packaged, runner
        from drills.spec import load

        return load(runner.load_spec_or_name(drill, packaged.catalog()))

    def __call__(
        self, drill: str, *, load: float | None = None, max_duration: float | None = None
    ) -> DrillResult:
        from drills.runner import RunOptions

        spec = self.spec(drill)
        options = RunOptions(runs_dir=self.runs_dir, load_rate=load, max_duration_s=max_duration)
        result = self._run(spec, self.target, options, self._listen)
        self.results.append(result)
        prefix = f"genesis.{result.drill}"
        self._record(f"{prefix}.run_dir", result.run_dir)
        for name in FIGURES:
            self._record(f"{prefix}.{name}", getattr(result, name))
        if result.ledger is not None:
            self._record(f"{prefix}.lost", result.ledger.lost)
            self._record(f"{prefix}.duplicated", result.ledger.duplicated)
        if result.outcome == Outcome.INTERRUPTED:
            raise KeyboardInterrupt  # Ctrl-C stops the session; the fault is already rolled back
        return result

    def _listen(self, kind: str, data: Mapping[str, Any]) -> None:
        self.events.append((kind, data))


@pytest.fixture
def drill(
    genesis_target: Target,
    genesis_runs_dir: Path,
    genesis_runner: DrillRunnerFn,
    record_property: Callable[[str, object], None],
    request: pytest.FixtureRequest,
) -> Iterator[DrillFixture]:
    """Run drills in a test; whatever happens, no fault is left in effect afterwards."""
    from drills.crash_recovery import recover

    results = request.config.stash[_RESULTS_KEY]
    fixture = DrillFixture(genesis_target, genesis_runs_dir, genesis_runner, record_property, [])
    try:
        yield fixture
    finally:
        results.extend(fixture.results)
        # The runner rolls back in its own `finally`; this catches what it could not (a harness
        # interrupted inside the rollback itself), from the journals, exactly like `recover`.
        recover(genesis_runs_dir, genesis_target)


@dataclass
class EventLedger:
    """The generator's canary counters: `mark()` before, `account(before)` after."""

    generator: GeneratorClient
    pg_dsn: str

    def mark(self) -> GeneratorMark:
        return self.generator.mark()

    def account(self, before: GeneratorMark, dead_lettered: int = 0) -> Ledger:
        """Wait until everything generated since `before` is confirmed, then count the rows."""
        from drills.reconcile import reconcile

        after = self.generator.wait_drained(timeout=60)
        return reconcile(self.pg_dsn, before, after, dead_lettered, source=self.generator)


@pytest.fixture
def ledger(genesis_target: Target) -> Iterator[EventLedger]:
    """The event ledger of the platform (local sandbox or cluster)."""
    from drills.ledger import GeneratorClient

    endpoints = genesis_target.endpoints()
    client = GeneratorClient(endpoints.generator_url, endpoints.generator_token.reveal())
    try:
        yield EventLedger(client, endpoints.pg_dsn.reveal())
    finally:
        client.close()


# --- reporting ---------------------------------------------------------------------------------


def describe(result: DrillResult) -> str:
    """The measured figures and the run directory, as a failing test shows them."""
    ledger = result.ledger
    lines = [
        f"{result.drill}: {result.outcome} — {result.reason}",
        f"  TTD {result.ttd_seconds} s  TTN {result.ttn_seconds} s  TTR {result.ttr_seconds} s",
        "  ledger "
        + (
            f"{ledger.confirmed} confirmed, {ledger.stored} stored, {ledger.dead_lettered} "
            f"dead-lettered, {ledger.lost} lost, {ledger.duplicated} duplicated"
            if ledger
            else "not reconciled"
        ),
        f"  error budget consumed {result.error_budget_consumed}",
    ]
    lines += [
        f"  {'pass' if o.passed else 'MISS'} {o.name}: {o.measured} (wanted {o.target})"
        for o in result.objectives
    ]
    lines.append(f"  run directory: {result.run_dir}")
    return "\n".join(lines)


def assert_objectives(result: DrillResult) -> None:
    """Fail unless every objective of the drill was met, showing the figures."""
    if not result.objectives_passed:
        raise AssertionError("objectives missed\n" + describe(result))


def assert_within(
    result: DrillResult,
    *,
    ttd_s: float | None = None,
    ttr_s: float | None = None,
    lost: int | None = None,
) -> None:
    """Fail when TTD or TTR is missing or above the bound, or more events were lost."""
    problems = []
    for name, value, bound in (
        ("TTD", result.ttd_seconds, ttd_s),
        ("TTR", result.ttr_seconds, ttr_s),
    ):
        if bound is not None and (value is None or value > bound):
            problems.append(f"{name} {value} s > {bound:g} s")
    if lost is not None and (result.ledger is None or result.ledger.lost > lost):
        problems.append(f"lost {result.ledger.lost if result.ledger else 'unknown'} > {lost}")
    if problems:
        raise AssertionError("; ".join(problems) + "\n" + describe(result))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran drills shows their figures and run directories in its report."""
    report = yield
    if report.failed and report.when == "call":
        results = _item_results(item)
        if results:
            report.sections.append(
                ("genesis-drill", "\n".join(describe(result) for result in results))
            )
    return report


def _item_results(item: pytest.Item) -> list[DrillResult]:
    fixture = getattr(item, "funcargs", {}).get("drill")
    return list(fixture.results) if isinstance(fixture, DrillFixture) else []


def results_of(config: pytest.Config) -> list[DrillResult]:
    """Every drill result of the session so far (for a conftest's summary)."""
    results: list[DrillResult] = config.stash.get(_RESULTS_KEY, [])
    return list(results)
