"""Finding and finishing runs whose harness died with something of the drill still in effect.

What a dead run can leave behind, each read from its journal:

* a fault — an `inject-intent` but no `rollback-done`. The drill file is copied into every run
  directory, so the fault is rebuilt exactly as it was and its (idempotent) rollback run again.
  A composite drill's steps journal their names (`step`): every step with an intent but no
  rollback-done of its own is rolled back, newest first, as the runner would have done;
* the drill's load — a `load` record (with the generator's `previous_rate`) but no
  `load-restored`: the generator would keep the drill's rate forever, and the next drill would
  take it for the platform's own;
* temporary files — `temp-file` records (written before the file is created, see
  `FaultContext.temp_file`) of a run that never reached `run-end`, such as initdb's password file.

Only runs of the same platform are touched: the `run-start` record holds the target's identity
(`TargetIdentity`), and a run of another target — a Kubernetes run seen from the local sandbox —
is listed and left alone, with the command that would recover it. A run without an identity
(journaled by an older harness) is left alone too unless asked for (`include_unidentified`): which
platform it disturbed cannot be known, and rolling back the wrong one is how a StatefulSet stays
at zero replicas while the journal says `rollback-done`.

`genesis-drill recover` calls `recover`; so does every run's preflight, before it disturbs
anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drills import spec as spec_module
from drills.errors import RollbackFailed, TargetError
from drills.faults.base import FaultContext
from drills.faults.registry import build as build_fault
from drills.journal import (
    JOURNAL_NAME,
    InjectIntent,
    Journal,
    Load,
    LoadRestored,
    RecoverStart,
    RollbackDone,
    RollbackError,
    RunEnd,
    RunStart,
    TempFile,
    TempFileRemoved,
    harness_alive,
    read,
)
from drills.targets.base import Endpoints, Target, TargetIdentity


@dataclass(frozen=True)
class Leftovers:
    """What one dead run left behind, and on which platform."""

    run_dir: Path
    target_name: str  # as the run-start record named it ("local", "kubernetes", ...)
    identity: TargetIdentity | None  # None: journaled by an older harness
    fault: tuple[str, str] | None  # (kind, component) of a fault not rolled back
    previous_rate: float | None  # the generator rate to restore
    temp_files: tuple[Path, ...]
    harness_pid: int | None = None  # set when the run's harness is still running
    # A composite drill's steps not rolled back, (step, kind, component) in order of injection;
    # `fault` is then the last one's.
    steps: tuple[tuple[str, str, str], ...] = ()

    def __bool__(self) -> bool:
        return self.fault is not None or self.previous_rate is not None or bool(self.temp_files)

    def describe(self) -> str:
        parts = []
        if self.steps:
            named = ", ".join(f"{step} ({kind} on {where})" for step, kind, where in self.steps)
            parts.append(f"step(s) {named} not rolled back")
        elif self.fault is not None:
            parts.append(f"{self.fault[0]} on {self.fault[1]} not rolled back")
        if self.previous_rate is not None:
            parts.append(f"load not restored (to {self.previous_rate:g} events/s)")
        if self.temp_files:
            parts.append(f"{len(self.temp_files)} temporary file(s)")
        return ", ".join(parts)


def leftovers(run_dir: Path) -> Leftovers:
    """Read a run's journal for what is still in effect."""
    records = read(run_dir / JOURNAL_NAME)
    events = [record.get("event") for record in records]
    start = next((r for r in records if r.get("event") == RunStart.EVENT), {})
    fault = None
    steps = _steps_left(records)
    if steps:
        fault = steps[-1][1:]
    elif InjectIntent.EVENT in events and RollbackDone.EVENT not in events:
        intent = next(r for r in records if r.get("event") == InjectIntent.EVENT)
        fault = (str(intent.get("kind", "?")), str(intent.get("component", "?")))
    previous_rate = None
    loads = [r for r in records if r.get("event") == Load.EVENT]
    if loads and LoadRestored.EVENT not in events:
        raw = loads[0].get("previous_rate")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            previous_rate = float(raw)
    temp_files: tuple[Path, ...] = ()
    if RunEnd.EVENT not in events:  # a run that ended cleaned up after itself
        paths = (Path(str(r.get("path"))) for r in records if r.get("event") == TempFile.EVENT)
        temp_files = tuple(dict.fromkeys(p for p in paths if p.is_absolute() and p.exists()))
    return Leftovers(
        run_dir=run_dir,
        target_name=str(start.get("target", "?")),
        identity=TargetIdentity.from_json(start.get("target_identity")),
        fault=fault,
        previous_rate=previous_rate,
        temp_files=temp_files,
        harness_pid=int(start["harness"]["pid"]) if harness_alive(start.get("harness")) else None,
        steps=steps,
    )


def _steps_left(records: list[dict[str, object]]) -> tuple[tuple[str, str, str], ...]:
    """A composite run's steps with an inject-intent and no rollback-done of their own, in order
    of injection; () for a journal without step names (a single-fault drill, an older harness)."""
    done = {
        r["step"]
        for r in records
        if r.get("event") == RollbackDone.EVENT and isinstance(r.get("step"), str)
    }
    intents = [
        r
        for r in records
        if r.get("event") == InjectIntent.EVENT and isinstance(r.get("step"), str)
    ]
    return tuple(
        (str(r["step"]), str(r.get("kind", "?")), str(r.get("component", "?")))
        for r in intents
        if r["step"] not in done
    )


def unfinished(runs_dir: Path, exclude: Path | None = None) -> list[Leftovers]:
    """Every run under `runs_dir` that left something behind, oldest first."""
    if not runs_dir.is_dir():
        return []
    found = (
        leftovers(path)
        for path in sorted(runs_dir.iterdir())
        if path.is_dir() and path != exclude and (path / JOURNAL_NAME).is_file()
    )
    return [item for item in found if item]


def is_unfinished(run_dir: Path) -> bool:
    return bool(leftovers(run_dir))


def unfinished_runs(runs_dir: Path, exclude: Path | None = None) -> list[Path]:
    return [item.run_dir for item in unfinished(runs_dir, exclude)]


@dataclass(frozen=True)
class Recovered:
    run_dir: Path
    kind: str  # the fault's kind, "" when only the load or temporary files were left
    component: str
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeftAlone:
    """An unfinished run of another (or an unknown) platform: not touched, and why."""

    run_dir: Path
    why: str
    command: str  # how to recover it

    def describe(self) -> str:
        return f"{self.run_dir.name}: {self.why}; recover it with `{self.command}`"


@dataclass(frozen=True)
class RecoveryReport:
    recovered: list[Recovered] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)


class RateControl(Protocol):
    def set_rate(self, rate: float) -> None: ...

    def close(self) -> None: ...


def _generator(endpoints: Endpoints) -> RateControl:
    from drills.ledger import GeneratorClient  # noqa: PLC0415 - httpx only when needed

    return GeneratorClient(endpoints.generator_url, endpoints.generator_token.reveal())


def _recover_command(item: Leftovers, runs_dir: Path, unidentified: bool) -> str:
    kind = item.identity.kind if item.identity else item.target_name
    options = item.identity.options if item.identity else ""
    words = ["genesis-drill recover", f"--target {kind}", options, f"--runs-dir {runs_dir}"]
    if unidentified:
        words.append("--include-unidentified")
    return " ".join(w for w in words if w)


def _left_alone(item: Leftovers, ours: TargetIdentity, runs_dir: Path) -> LeftAlone | None:
    if item.harness_pid is not None:
        return LeftAlone(
            item.run_dir,
            f"still running (harness PID {item.harness_pid}, which rolls back by itself when it "
            "ends or is sent SIGTERM); left alone",
            f"kill -TERM {item.harness_pid}",
        )
    if item.identity is None:
        return LeftAlone(
            item.run_dir,
            f"{item.describe()} on an unknown platform (no target identity in its journal: an "
            "older harness); left alone",
            _recover_command(item, runs_dir, unidentified=True),
        )
    if item.identity != ours:
        return LeftAlone(
            item.run_dir,
            f"{item.describe()} on another target ({item.identity.describe()}); left alone",
            _recover_command(item, runs_dir, unidentified=False),
        )
    return None


def recover(
    runs_dir: Path,
    target: Target,
    progress: Callable[[str], None] = lambda _m: None,
    exclude: Path | None = None,
    *,
    include_unidentified: bool = False,
    generator: Callable[[Endpoints], RateControl] = _generator,
) -> RecoveryReport:
    """Undo what every unfinished run of this target left (oldest first); list the others.

    Per run: roll the fault back, restore the generator's rate from the journal's
    `previous_rate`, remove its temporary files — each step journaled with `by="recover"`.
    Raises RollbackFailed naming the run when any step fails (after trying the others).
    """
    report = RecoveryReport()
    ours = target.identity()
    for item in unfinished(runs_dir, exclude):
        alone = _left_alone(item, ours, runs_dir)
        forced = include_unidentified and item.identity is None and item.harness_pid is None
        if alone is not None and not forced:
            progress(f"left alone {alone.describe()}")
            report.left_alone.append(alone)
            continue
        report.recovered.append(_recover_one(item, target, progress, generator))
    return report


def _recover_one(
    item: Leftovers,
    target: Target,
    progress: Callable[[str], None],
    generator: Callable[[Endpoints], RateControl],
) -> Recovered:
    run_dir, journal = item.run_dir, Journal(item.run_dir)
    endpoints = target.endpoints()
    journal.append(RecoverStart(target_identity=target.identity().to_json()))
    actions: list[str] = []
    failures: list[str] = []
    if item.steps:
        _roll_back_steps(item, target, endpoints, journal, progress, actions, failures)
    elif item.fault is not None:
        spec = spec_module.load(run_dir / "drill.yaml")
        fault = build_fault(spec.fault)
        ctx = FaultContext(spec, target, endpoints, journal, run_dir, lambda _k, _d: None)
        progress(f"{run_dir.name}: rolling back {spec.fault.kind} on {spec.target}")
        try:
            fault.rollback(ctx)
        except (TargetError, RollbackFailed, OSError) as exc:
            journal.append(RollbackError(error=str(exc), by="recover"))
            failures.append(f"rollback failed: {exc}")
        else:
            journal.append(RollbackDone(by="recover"))
            actions.append(f"{spec.fault.kind} on {spec.target} rolled back")
    if item.previous_rate is not None:
        progress(f"{run_dir.name}: restoring the generator rate to {item.previous_rate:g}")
        client = generator(endpoints)
        try:
            client.set_rate(item.previous_rate)
        except TargetError as exc:
            failures.append(f"generator rate not restored: {exc}")
        else:
            journal.append(LoadRestored(rate=item.previous_rate, by="recover"))
            actions.append(f"generator rate restored to {item.previous_rate:g} events/s")
        finally:
            client.close()
    for path in item.temp_files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            failures.append(f"temporary file {path} not removed: {exc}")
        else:
            journal.append(TempFileRemoved(path=str(path), by="recover"))
            actions.append(f"removed {path}")
    if failures:
        raise RollbackFailed(f"{run_dir.name}: " + "; ".join(failures))
    kind, component = ("composite", "") if item.steps else (item.fault or ("", ""))
    return Recovered(run_dir, kind, component, tuple(actions))


def _roll_back_steps(
    item: Leftovers,
    target: Target,
    endpoints: Endpoints,
    journal: Journal,
    progress: Callable[[str], None],
    actions: list[str],
    failures: list[str],
) -> None:
    """A composite run's steps still in effect, newest first, each from its step in the copied
    drill file; every step is tried even when one before it failed."""
    spec = spec_module.load(item.run_dir / "drill.yaml")
    by_name = {step.name: step for step in spec.steps}
    for name, kind, component in reversed(item.steps):
        step = by_name.get(name)
        if step is None:
            failures.append(f"step {name} ({kind} on {component}) is not in the drill file copy")
            continue
        view = spec.step_view(step)
        ctx = FaultContext(view, target, endpoints, journal, item.run_dir, lambda _k, _d: None)
        progress(f"{item.run_dir.name}: rolling back step {name} ({kind} on {component})")
        try:
            build_fault(step.fault).rollback(ctx)
        except (TargetError, RollbackFailed, OSError) as exc:
            journal.append(RollbackError(error=str(exc), by="recover", step=name))
            failures.append(f"rollback of step {name} failed: {exc}")
        else:
            journal.append(RollbackDone(by="recover", step=name))
            actions.append(f"step {name}: {kind} on {component} rolled back")
