"""Game days: a plan of drills run in order, with a cool-down, an error-budget gate and an abort
policy, ending in one scorecard and one combined post-mortem draft.

Why a module of its own: teams do not run one drill, they run a rehearsed sequence on a schedule,
and what they review afterwards is the whole morning — which drill met which objective, how the
humans' own "detected / mitigated / resolved" marks compare with Prometheus' figures, and one list
of action items without the same finding filed twice. The plan (`drills/gamedays/*.yaml`) is
parsed here into frozen dataclasses with `file:line: field` errors, exactly as drill files are in
`drills.spec`; each drill of the plan is the catalog drill with the plan's overrides applied and
re-validated by `drills.spec` itself. The schedule and the Kubernetes CronJob live in
`drills.gameday_schedule`.

Seams for tests (keyword arguments of `run_gameday`): the drill runner, the error-budget source,
the responders' mark source and the clock — so no test really waits through a cool-down.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from drills import packaged
from drills.budget import good_ratio_query
from drills.budget import remaining as budget_remaining
from drills.errors import GenesisError, InvalidInput, SpecError
from drills.history import RULE as RULE_TEXT
from drills.history import History, Verdict
from drills.outcome import MEASURED, UNTRUSTED, Outcome, combined_exit_code
from drills.results import DrillResult, iso
from drills.runner import Listener, RunOptions, load_spec_or_name
from drills.slo import SloConfig
from drills.slo import load as load_slos
from drills.spec import DAY_S, FAULT_PARAMS, MAX_RATE, DrillSpec, fault_params
from drills.spec import load as load_spec
from drills.targets.base import Target
from drills.yamlio import read_text
from drills.yamlnode import Node, compose_file, fields_of

CATALOG = packaged.catalog()
GAMEDAYS = packaged.gamedays()
MISSED_POLICIES = ("skip", "run-once")
BUDGET_ACTIONS = ("skip", "stop")
FAILURE_ACTIONS = ("continue", "stop")
MARKS = {"d": "detected", "m": "mitigated", "r": "resolved"}
SCORE_FORMULA = (
    "score = mean over the drills that were attempted of 100 x (objectives met / objectives); "
    "a drill that could not run or be trusted (preflight refused, target or observation error, "
    "rollback failed, interrupted) scores 0; skipped drills are not counted"
)


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDrill:
    """One step of a plan: a catalog drill (or file) and the plan's overrides."""

    drill: str
    path: Path
    line: int
    params: Mapping[str, Any] = field(default_factory=dict)
    load_rate: float | None = None
    baseline_s: float | None = None
    max_duration_s: float | None = None


@dataclass(frozen=True)
class BudgetGate:
    """Below `floor` (remaining share of the error budget, 0..1) the next drill is skipped, or
    the whole game day stops."""

    floor: float
    when_below: str


@dataclass(frozen=True)
class AbortPolicy:
    """What a drill that missed an objective (`on_failure`) or could not run (`on_error`) does to
    the rest of the game day. A failed rollback or an interrupt always stops it."""

    on_failure: str
    on_error: str


@dataclass(frozen=True)
class Roles:
    facilitator: str
    responders: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """A validated game-day plan."""

    name: str
    description: str
    path: Path
    schedule: str
    missed_runs: str
    cool_down_s: float
    quiet_timeout_s: float
    budget: BudgetGate
    abort: AbortPolicy
    roles: Roles
    drills: tuple[PlanDrill, ...]

    def only(self, names: Sequence[str]) -> Plan:
        """The plan restricted to `names` (in the plan's order); unknown names are an error."""
        if not names:
            return self
        known = [step.drill for step in self.drills]
        # A name with a newline or escape is quoted, so the error stays one harmless line.
        unknown = [n if n.isprintable() else repr(n) for n in names if n not in known]
        if unknown:
            raise InvalidInput(
                f"--only {', '.join(unknown)}: not in plan {self.name} (plan: {', '.join(known)})"
            )
        steps = tuple(step for step in self.drills if step.drill in names)
        return Plan(**{**self.__dict__, "drills": steps})


def plan_path(value: Path) -> Path:
    """A PLAN argument: a plan file as given, or the packaged plan a bare name (`weekly`: no
    .yaml, no such file) names — what the in-cluster CronJob runs, since the image has no checkout.
    """
    if value.suffix in (".yaml", ".yml") or value.exists() or value.parent != Path("."):
        return value  # read (and refused, if it must be) by load_plan with its file name
    candidate = GAMEDAYS / f"{value.name}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in GAMEDAYS.glob("*.yaml")))
        raise InvalidInput(f"unknown game-day plan {str(value)!r} (packaged plans: {known})")
    return candidate


def packaged_plan_name(plan: Plan) -> str | None:
    """The name under which `plan` is packaged (`weekly`), or None for a plan file of the user's."""
    packaged_file = GAMEDAYS / f"{plan.path.stem}.yaml"
    if packaged_file.is_file() and packaged_file.resolve() == plan.path.resolve():
        return plan.path.stem
    return None


def load_plan(path: Path, catalog: Path = CATALOG) -> Plan:
    """Read and validate a game-day plan; errors are `file:line: field: why` (exit 2)."""
    root = compose_file(path)  # bounded, non-blocking read and YAML checks (drills.yamlio)
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    return _parse_plan(Node(path, root, ""), path, catalog)


def _choice(node: Node, choices: Sequence[str]) -> str:
    value = node.text()
    if value not in choices:
        raise node.fail(f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _parse_plan(root: Node, path: Path, catalog: Path) -> Plan:
    from cronsim import CronSim, CronSimError

    top = fields_of(
        root,
        {"name", "schedule", "drills"},
        {"description", "missed_runs", "cool_down_s", "quiet_timeout_s", "error_budget", "abort"}
        | {"roles"},
    )
    name = top["name"].text()
    schedule = top["schedule"].text()
    try:
        CronSim(schedule, datetime.now(UTC))
    except CronSimError as exc:
        raise top["schedule"].fail(f"not a cron expression: {exc}") from None
    budget = (
        fields_of(top["error_budget"], set(), {"floor", "when_below"})
        if "error_budget" in top
        else {}
    )
    floor = budget["floor"].number(0) if "floor" in budget else 0.0
    if floor > 1:
        raise budget["floor"].fail(f"is a share of the budget (0..1), got {floor:g}")
    abort = fields_of(top["abort"], set(), {"on_failure", "on_error"}) if "abort" in top else {}
    roles = fields_of(top["roles"], set(), {"facilitator", "responders"}) if "roles" in top else {}
    steps = top["drills"].items()
    if not steps:
        raise top["drills"].fail("needs at least one drill")
    drills = tuple(_parse_step(step, catalog) for step in steps)
    seen: set[str] = set()
    for step, node in zip(drills, steps, strict=True):
        if step.drill in seen:
            raise node.fail(
                f"drill {step.drill!r} appears twice (--only could not tell them apart)"
            )
        seen.add(step.drill)
    return Plan(
        name=name,
        description=top["description"].text() if "description" in top else "",
        path=path,
        schedule=schedule,
        missed_runs=_choice(top["missed_runs"], MISSED_POLICIES)
        if "missed_runs" in top
        else "skip",
        cool_down_s=top["cool_down_s"].number(0, maximum=DAY_S) if "cool_down_s" in top else 300.0,
        quiet_timeout_s=top["quiet_timeout_s"].number(0, maximum=DAY_S)
        if "quiet_timeout_s" in top
        else 180.0,
        budget=BudgetGate(
            floor,
            _choice(budget["when_below"], BUDGET_ACTIONS) if "when_below" in budget else "skip",
        ),
        abort=AbortPolicy(
            _choice(abort["on_failure"], FAILURE_ACTIONS) if "on_failure" in abort else "continue",
            _choice(abort["on_error"], FAILURE_ACTIONS) if "on_error" in abort else "stop",
        ),
        roles=Roles(
            roles["facilitator"].text() if "facilitator" in roles else "",
            tuple(n.text() for n in roles["responders"].items()) if "responders" in roles else (),
        ),
        drills=drills,
    )


def _parse_step(node: Node, catalog: Path) -> PlanDrill:
    step = fields_of(node, {"drill"}, {"params", "load", "max_duration_s"})
    name = step["drill"].text()
    try:
        drill_path = load_spec_or_name(name, catalog)
        spec = load_spec(drill_path)
    except InvalidInput as exc:
        raise step["drill"].fail(str(exc)) from None
    params: dict[str, Any] = {}
    if "params" in step:
        given = fields_of(step["params"], set(), set(FAULT_PARAMS[spec.fault.kind]))
        checked = fault_params(spec.fault.kind, step["params"])
        params = {key: checked[key] for key in given}
    load = fields_of(step["load"], set(), {"rate", "baseline_s"}) if "load" in step else {}
    return PlanDrill(
        drill=spec.name,
        path=drill_path,
        line=node.line,
        params=params,
        load_rate=load["rate"].number(0, maximum=MAX_RATE) if "rate" in load else None,
        baseline_s=load["baseline_s"].number(0, maximum=DAY_S) if "baseline_s" in load else None,
        max_duration_s=step["max_duration_s"].number(1, maximum=DAY_S)
        if "max_duration_s" in step
        else None,
    )


def resolve_step(step: PlanDrill, out_dir: Path) -> DrillSpec:
    """The catalog drill with the plan's overrides, written out and validated by `drills.spec`
    (so each run directory's `drill.yaml` is exactly what ran, and `recover` can rebuild it)."""
    raw = yaml.safe_load(read_text(step.path))  # validated by load_spec; read with its bounds
    fault = raw.setdefault("fault", {})
    fault["params"] = {**(fault.get("params") or {}), **step.params}
    if step.load_rate is not None or step.baseline_s is not None:
        load = raw.setdefault("load", {})
        if step.load_rate is not None:
            load["rate"] = step.load_rate
        if step.baseline_s is not None:
            load["baseline_s"] = step.baseline_s
    if step.max_duration_s is not None:
        raw.setdefault("abort", {})["max_duration_s"] = step.max_duration_s
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{step.drill}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_spec(path)


# --- seams ---------------------------------------------------------------------------------------


class Clock(Protocol):
    """Wall time and interruptible waiting; tests pass a fake that only advances a number."""

    def now(self) -> float: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds`; True when `stop` was set (the wait ended early)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


DrillRunner = Callable[[DrillSpec, Target, RunOptions, Listener], DrillResult]
BudgetSource = Callable[[], float | None]  # remaining share of the error budget, None = unknown
QuietCheck = Callable[[Sequence[str]], Sequence[str]]  # expected alerts → those still firing


@dataclass(frozen=True)
class Mark:
    """A responder's own mark ("detected", "mitigated", "resolved") at a wall-clock time."""

    name: str
    at: float
    by: str = ""


def parse_mark(line: str) -> tuple[str, str] | None:
    """`d`, `detected`, `m alice`, `resolved bob` → (mark, who); anything else → None."""
    words = line.strip().split(maxsplit=1)
    if not words:
        return None
    key = words[0].lower()
    name = MARKS.get(key) or (key if key in MARKS.values() else None)
    if name is None:
        return None
    return name, words[1].strip() if len(words) > 1 else ""


class MarkSource(Protocol):
    def begin(self, drill: str) -> None: ...

    def end(self) -> list[Mark]: ...


class NoMarks:
    """Non-interactive game days: nobody marks anything."""

    def begin(self, drill: str) -> None:
        return None

    def end(self) -> list[Mark]:
        return []


class LineMarks:
    """Responders type `d`, `m` or `r` (optionally followed by their name) and Enter while a drill
    runs; each line is stamped by the clock when it is read. `read_line` is `sys.stdin.readline`
    in the terminal (returns "" at end of input) and a scripted source in tests."""

    def __init__(self, read_line: Callable[[], str], clock: Clock) -> None:
        self._lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self._clock = clock
        self._read_line = read_line
        self._active = False
        self._thread = threading.Thread(target=self._pump, name="gameday-marks", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while line := self._read_line():
            self._lines.put((self._clock.now(), line))

    def _drain(self) -> list[tuple[float, str]]:
        items = []
        while True:
            try:
                items.append(self._lines.get_nowait())
            except queue.Empty:
                return items

    def begin(self, drill: str) -> None:
        self._drain()  # lines typed between drills belong to no drill
        self._active = True

    def end(self) -> list[Mark]:
        self._active = False
        marks = []
        for at, line in self._drain():
            parsed = parse_mark(line)
            if parsed is not None:
                marks.append(Mark(parsed[0], at, parsed[1]))
        return marks


def prometheus_budget(prometheus_url: str, slos: SloConfig | None = None) -> BudgetSource:
    """Remaining share of the latency SLO's budget over its window (drills/slo.yaml, or the
    file GENESIS_SLO_CONFIG names), computed by drills.budget as the runner does."""
    from drills.observe import Observer

    observer = Observer(prometheus_url)
    objective = (slos or load_slos()).event_latency
    query = good_ratio_query(objective, objective.window_s)

    def remaining() -> float | None:
        try:
            ratio = observer.value(query)
        except GenesisError:
            return None
        return None if ratio is None else budget_remaining(ratio, objective)

    return remaining


def prometheus_quiet(prometheus_url: str) -> QuietCheck:
    """Which of the given alerts are firing right now (the runner refuses to inject otherwise)."""
    from drills.observe import Observer

    observer = Observer(prometheus_url)

    def firing(alerts: Sequence[str]) -> Sequence[str]:
        if not alerts:
            return []
        names = "|".join(alerts)
        series = observer.range(
            f'ALERTS{{alertstate="firing",alertname=~"{names}"}}', time.time() - 2, time.time(), 1
        )
        return sorted({s.labels.get("alertname", "?") for s in series if s.samples})

    return firing


def await_quiet(
    alerts: Sequence[str],
    firing: QuietCheck,
    timeout_s: float,
    clock: Clock,
    stop: threading.Event,
    step_s: float = 2.0,
) -> list[str]:
    """Wait until none of `alerts` is firing (an earlier drill's alert can linger, and the runner
    refuses to inject while an expected alert fires); returns those still firing at the timeout."""
    deadline = clock.now() + timeout_s
    while True:
        still = list(firing(alerts))
        if not still or clock.now() >= deadline:
            return still
        if clock.wait(min(step_s, deadline - clock.now()), stop):
            return still


# --- running -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillOutcome:
    """What became of one step of the plan."""

    drill: str
    status: str  # "ran" or "skipped"
    reason: str
    result: DrillResult | None = None
    marks: tuple[Mark, ...] = ()
    verdicts: tuple[Verdict, ...] = ()

    @property
    def score(self) -> float | None:
        """100 x objectives met / objectives; 0 for an untrusted run; None when skipped."""
        if self.result is None:
            return None
        if self.result.outcome not in MEASURED or not self.result.objectives:
            return 0.0
        met = sum(o.passed for o in self.result.objectives)
        return 100.0 * met / len(self.result.objectives)

    def human(self, mark: str) -> float | None:
        """Seconds from the injection to the responders' first `mark`, if both exist."""
        at = self.result.injected_at if self.result else None
        injected = at.timestamp() if at else None
        times = [m.at for m in self.marks if m.name == mark]
        return None if injected is None or not times else round(min(times) - injected, 3)


@dataclass
class GameDayResult:
    plan: Plan
    directory: Path
    started_at: float
    finished_at: float | None = None
    outcomes: list[DrillOutcome] = field(default_factory=list)
    stopped: str = ""

    @property
    def score(self) -> float | None:
        scores = [s for o in self.outcomes if (s := o.score) is not None]
        return round(sum(scores) / len(scores), 1) if scores else None

    @property
    def regressions(self) -> list[tuple[str, Verdict]]:
        return [(o.drill, v) for o in self.outcomes for v in o.verdicts if v.regressed]

    @property
    def exit_code(self) -> int:
        """0 every attempted drill passed · 5 a rollback failed · 130 interrupted · 3 nothing
        could run · 1 otherwise (drills.outcome.combined_exit_code)."""
        return combined_exit_code(o.result.outcome for o in self.outcomes if o.result is not None)


def gameday_dir(runs_dir: Path, plan: Plan, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return runs_dir / "gamedays" / f"{stamp}-{plan.name}"


@dataclass(frozen=True)
class Seams:
    """The game day's collaborators, resolved: real ones by default, fakes in tests."""

    run_drill: DrillRunner
    budget: BudgetSource
    firing: QuietCheck
    marks: MarkSource
    clock: Clock

    @classmethod
    def default(
        cls,
        target: Target,
        *,
        run_drill: DrillRunner | None = None,
        budget: BudgetSource | None = None,
        firing: QuietCheck | None = None,
        marks: MarkSource | None = None,
        clock: Clock | None = None,
    ) -> Seams:
        from drills import runner

        prometheus = target.endpoints().prometheus_url
        return cls(
            run_drill or runner.run,
            budget or prometheus_budget(prometheus),
            firing or prometheus_quiet(prometheus),
            marks or NoMarks(),
            clock or SystemClock(),
        )


def run_gameday(
    plan: Plan,
    target: Target,
    runs_dir: Path,
    listener: Listener,
    seams: Seams | None = None,
    stop: threading.Event | None = None,
) -> GameDayResult:
    """Run the plan's drills in order and write the report; every drill's rollback has run (by
    the drill runner) before the next one starts. Setting `stop` ends it before the next drill."""
    seams = seams or Seams.default(target)
    stop = stop or threading.Event()
    clock = seams.clock
    result = GameDayResult(plan, gameday_dir(runs_dir, plan, clock.now()), clock.now())
    listener("gameday-start", {"plan": plan.name, "drills": [s.drill for s in plan.drills]})
    consumed = 0.0
    for index, step in enumerate(plan.drills):
        if stop.is_set():
            result.stopped = result.stopped or "stopped before the next drill"
            break
        if index and plan.cool_down_s:
            listener("cool-down", {"seconds": plan.cool_down_s, "next": step.drill})
            if clock.wait(plan.cool_down_s, stop):
                result.stopped = "stopped during the cool-down"
                break
        why = _below_floor(plan, seams.budget(), consumed)
        if why:
            result.outcomes.append(DrillOutcome(step.drill, "skipped", why))
            listener("drill-skipped", {"drill": step.drill, "reason": why})
            if plan.budget.when_below == "stop":
                _stop(result, f"{why}: game day stopped (error_budget.when_below: stop)", index)
                break
            continue
        outcome = _run_step(result, index, target, runs_dir, listener, seams, stop)
        result.outcomes.append(outcome)
        assert outcome.result is not None
        consumed += outcome.result.error_budget_consumed or 0.0
        reason = _stop_reason(plan, outcome.result)
        if reason:
            _stop(result, reason, index)
            if outcome.result.outcome == Outcome.INTERRUPTED:
                stop.set()
            break
    result.finished_at = clock.now()
    write_report(result)
    listener("gameday-end", {"score": result.score, "directory": str(result.directory)})
    return result


def _run_step(
    gameday: GameDayResult,
    index: int,
    target: Target,
    runs_dir: Path,
    listener: Listener,
    seams: Seams,
    stop: threading.Event,
) -> DrillOutcome:
    plan = gameday.plan
    step = plan.drills[index]
    spec = resolve_step(step, gameday.directory / "drills")
    still = await_quiet(spec.expected_alerts, seams.firing, plan.quiet_timeout_s, seams.clock, stop)
    if still:
        listener("quiet-timeout", {"drill": step.drill, "firing": still})
    listener(
        "drill-start",
        {"drill": step.drill, "index": index + 1, "total": len(plan.drills), "spec": spec},
    )
    seams.marks.begin(step.drill)
    try:
        result = seams.run_drill(spec, target, RunOptions(runs_dir=runs_dir), listener)
    finally:
        marks = tuple(seams.marks.end())
    _draft_postmortem(result, listener)
    verdicts = _verdicts(History(runs_dir), result)
    listener("drill-end", {"drill": step.drill, "result": result, "verdicts": verdicts})
    return DrillOutcome(step.drill, "ran", result.reason, result, marks, verdicts)


def _below_floor(plan: Plan, observed: float | None, consumed: float) -> str:
    """Why the next drill must not run because of the error budget ("" when it may)."""
    remaining = _remaining(observed, consumed)
    if remaining is None or remaining >= plan.budget.floor:
        return ""
    return f"error budget remaining {remaining:.0%} is below the floor {plan.budget.floor:.0%}"


def _stop(result: GameDayResult, reason: str, index: int) -> None:
    result.stopped = reason
    for rest in result.plan.drills[index + 1 :]:
        result.outcomes.append(DrillOutcome(rest.drill, "skipped", "game day stopped"))


def _draft_postmortem(result: DrillResult, listener: Listener) -> None:
    """Each drill's own post-mortem draft, as `genesis-drill run` leaves one (best effort)."""
    if not result.run_dir or not (Path(result.run_dir) / "result.json").exists():
        return
    from drills.postmortem.render import draft

    try:
        draft(Path(result.run_dir))
    except (GenesisError, OSError, ValueError) as exc:
        listener("note", {"message": f"{result.drill}: post-mortem not drafted: {exc}"})


def _remaining(observed: float | None, consumed: float) -> float | None:
    """The smaller of what Prometheus says is left and what this game day has not yet spent."""
    spent = 1.0 - consumed if consumed else None
    known = [v for v in (observed, spent) if v is not None]
    return min(known) if known else None


def _verdicts(history: History, result: DrillResult) -> tuple[Verdict, ...]:
    if not result.run_dir or not (Path(result.run_dir) / "result.json").exists():
        return ()
    return tuple(history.check(Path(result.run_dir)))


def _stop_reason(plan: Plan, result: DrillResult) -> str:
    if result.outcome in UNTRUSTED:  # the platform cannot be trusted: always (not a policy)
        return f"{result.drill} ended {result.outcome}: game day stopped (always)"
    if result.outcome == Outcome.FAILED and plan.abort.on_failure == "stop":
        return f"{result.drill} missed an objective: game day stopped (abort.on_failure: stop)"
    if result.outcome not in (Outcome.PASSED, Outcome.FAILED) and plan.abort.on_error == "stop":
        return f"{result.drill} ended {result.outcome}: game day stopped (abort.on_error: stop)"
    return ""


# --- the report ----------------------------------------------------------------------------------


def _fig(value: float | int | None, unit: str = "s") -> str:
    return "n/a" if value is None else f"{value:g}{unit}"


def _objective(result: DrillResult, name: str) -> str:
    for objective in result.objectives:
        if objective.name == name:
            return f"{objective.target} ({'met' if objective.passed else 'MISSED'})"
    return "—"


def scorecard(result: GameDayResult) -> list[dict[str, str]]:
    """One row per step: TTD, TTR, loss and budget against the drill's objectives, the
    responders' own times, regressions and the drill's score."""
    rows = []
    for o in result.outcomes:
        r = o.result
        if r is None:
            rows.append({"drill": o.drill, "outcome": "skipped", "note": o.reason})
            continue
        lost = r.ledger.lost if r.ledger else None
        rows.append(
            {
                "drill": o.drill,
                "outcome": r.outcome,
                "ttd": f"{_fig(r.ttd_seconds)} vs {_objective(r, 'time to detect')}",
                "ttr": f"{_fig(r.ttr_seconds)} vs {_objective(r, 'time to recover')}",
                "lost": f"{_fig(lost, '')} vs {_objective(r, 'events lost')}",
                "budget": f"{_fig(r.error_budget_consumed, '')} vs "
                f"{_objective(r, 'error budget consumed')}",
                "human": ", ".join(
                    f"{name} {_fig(o.human(name))}"
                    for name in MARKS.values()
                    if o.human(name) is not None
                )
                or "—",
                "regressions": ", ".join(v.figure for v in o.verdicts if v.regressed) or "none",
                "score": _fig(o.score, ""),
                "note": r.reason,
                "run_dir": r.run_dir,
            }
        )
    return rows


def report_markdown(result: GameDayResult) -> str:
    plan = result.plan
    lines = [
        f"# Game day: {plan.name}",
        "",
        f"- started: {iso(result.started_at)} (UTC)",
        f"- finished: {iso(result.finished_at)}",
        f"- plan: `{plan.path}` ({plan.description or 'no description'})",
        f"- facilitator: {plan.roles.facilitator or 'TBD'}; responders: "
        f"{', '.join(plan.roles.responders) or 'TBD'}",
    ]
    if result.stopped:
        lines.append(f"- stopped early: {result.stopped}")
    score = result.score
    lines += [
        "",
        f"## Resilience score: {'n/a' if score is None else f'{score:g} / 100'}",
        "",
        f"{SCORE_FORMULA}.",
        "",
        "## Scorecard",
        "",
        "| drill | outcome | TTD | TTR | lost | budget | responders | regressions | score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in scorecard(result):
        if row["outcome"] == "skipped":
            lines.append(f"| {row['drill']} | skipped: {row['note']} | | | | | | | |")
            continue
        lines.append(
            "| "
            + " | ".join(
                row[k]
                for k in (
                    "drill",
                    "outcome",
                    "ttd",
                    "ttr",
                    "lost",
                    "budget",
                    "human",
                    "regressions",
                    "score",
                )
            )
            + " |"
        )
    lines += ["", "## Regression check", "", f"Rule: {RULE_TEXT}.", ""]
    for o in result.outcomes:
        for verdict in o.verdicts:
            lines.append(f"- {o.drill}: {verdict.describe()}")
    lines += ["", "## Runs", ""]
    for o in result.outcomes:
        if o.result is not None:
            lines.append(f"- {o.drill}: `{o.result.run_dir}` — {o.result.reason}")
    return "\n".join(lines) + "\n"


def combined_postmortem(result: GameDayResult) -> str:
    """One post-mortem draft for the whole game day: the scorecard, each drill's own draft linked,
    and the action items of every drill from `drills.postmortem.actions`, de-duplicated by
    fingerprint (a finding seen by two drills is listed once, naming both runs)."""
    from drills.postmortem.actions import derive
    from drills.postmortem.context import build
    from drills.postmortem.render import md

    items: dict[str, tuple[Any, list[str]]] = {}
    problems = []
    for o in result.outcomes:
        if o.result is None or not o.result.run_dir:
            continue
        try:
            ctx = build(Path(o.result.run_dir))
        except (GenesisError, OSError) as exc:
            problems.append(f"{o.drill}: {exc}")
            continue
        for item in derive(ctx):
            entry = items.setdefault(item.fingerprint, (item, []))
            entry[1].append(ctx.run_id)
    plan = result.plan
    lines = [
        "---",
        f"gameday: {plan.name}",
        "status: draft",
        f"date: {iso(result.started_at)}",
        "owner: TBD",
        f"resilience_score: {result.score}",
        "---",
        "",
        f"# Post-mortem (draft): game day {md(plan.name)}",
        "",
        "## Summary",
        "",
        f"{len([o for o in result.outcomes if o.result])} drill(s) ran, "
        f"{len([o for o in result.outcomes if o.status == 'skipped'])} skipped; resilience score "
        f"{result.score if result.score is not None else 'n/a'} / 100 ({SCORE_FORMULA}).",
        "",
        "## Drills",
        "",
    ]
    for o in result.outcomes:
        if o.result is None:
            lines.append(f"- {md(o.drill)}: skipped — {md(o.reason)}")
        else:
            lines.append(
                f"- {md(o.drill)}: {o.result.outcome} — {md(o.result.reason)} "
                f"(draft: `{Path(o.result.run_dir) / 'postmortem.md'}`)"
            )
    lines += [
        "",
        "## Action items",
        "",
        "| fingerprint | type | priority | action | owner | done when | seen in | tracking |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fp, (item, runs) in items.items():
        lines.append(
            f"| {fp} | {item.type} | {item.priority} | {md(item.title)} | {item.owner} | "
            f"{md(item.done_when)} | {', '.join(runs)} | {item.tracking} |"
        )
    if not items:
        lines.append("| — | — | — | no action item: every drill met its objectives | | | | |")
    if problems:
        lines += ["", "Runs that could not be read: " + "; ".join(md(p) for p in problems)]
    return "\n".join(lines) + "\n"


def write_report(result: GameDayResult) -> None:
    """`report.md` (scorecard and score), `postmortem.md` (combined draft), `report.json`."""
    import json

    result.directory.mkdir(parents=True, exist_ok=True)
    (result.directory / "report.md").write_text(report_markdown(result))
    (result.directory / "postmortem.md").write_text(combined_postmortem(result))
    payload = {
        "plan": result.plan.name,
        "started_at": iso(result.started_at),
        "finished_at": iso(result.finished_at),
        "stopped": result.stopped,
        "score": result.score,
        "score_formula": SCORE_FORMULA,
        "regression_rule": RULE_TEXT,
        "drills": [
            {
                "drill": o.drill,
                "status": o.status,
                "reason": o.reason,
                "run_dir": o.result.run_dir if o.result else None,
                "outcome": o.result.outcome if o.result else None,
                "score": o.score,
                "marks": [m.__dict__ for m in o.marks],
                "regressions": [v.describe() for v in o.verdicts if v.regressed],
            }
            for o in result.outcomes
        ],
    }
    (result.directory / "report.json").write_text(json.dumps(payload, indent=2) + "\n")
