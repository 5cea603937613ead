"""Alert coverage: which alerting rules a drill has proven firing, how fast, and how recently.

Why: an SRE team's first question to a chaos tool is "would our alerts catch this?". A run knows
which of its drill's expected alerts fired; only across the whole rule set (`drills.alert_rules`),
the catalog and the run history does it show which rules nobody has ever seen fire on purpose —
the monitoring's own blind spots.

Definitions (pure, over data already read; `read_catalog` / `read_runs` do the reading):

* A run **proves** a rule when the rule's alert is one its drill expected and it fired after the
  fault took effect (`alerts.fired` of `result.json`, which holds only expected alerts). An alert
  that fired although nobody expected it proves nothing about the fault the drill models: it is
  listed on its own, per drill, as **unexpected** (`alerts.unexpected`), with the runs it fired in.
* A rule's **TTD** in one run is that alert's `first_firing_at` minus the run's `injected_at` (the
  run's own `ttd_seconds` is for its earliest expected alert, so it is not used per rule); p50,
  p95 and max are nearest-rank over every run that proved the rule and has both timestamps.
* A rule is **proven** when its last proof started within `max_age_days` of `now`, **stale** when
  its last proof is older, **never** when no run proved it. Coverage = proven / loaded, over
  distinct alert names (ALERTS carry only the name, however many groups define it).
* A catalog drill is **proven** when a run of it within `max_age_days` fired every alert the drill
  file expects today, **stale** when the last such run is older, **never** when there is none.
* A catalog drill expecting an alert no loaded rule defines is listed as **undefined**: it can
  never be proven, whatever runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drills import packaged
from drills.alert_rules import AlertRule, load_rules, platform_rule_files, rule_files
from drills.errors import GenesisError, InvalidInput, SpecError
from drills.results import RESULT_NAME, DrillResult, iso
from drills.sandbox.layout import DEFAULT_PORT_BASE
from drills.settings import Settings
from drills.spec import load

DEFAULT_MAX_AGE_DAYS = 30.0
JSON_VERSION = 1  # bumped only when a key changes meaning or disappears
PROVEN, STALE, NEVER = "proven", "stale", "never"
NOTHING_EXPECTED = "expects no alert"


@dataclass(frozen=True)
class CatalogDrill:
    """What a drill file expects: its name (the `drill` its runs record) and alerts."""

    name: str
    file: Path
    expected_alerts: tuple[str, ...]


@dataclass(frozen=True)
class Proof:
    """One run that proved one rule firing."""

    run_id: str
    drill: str
    target: str
    started_at: datetime
    fired_at: datetime | None
    ttd_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "drill": self.drill,
            "target": self.target,
            "started_at": iso(self.started_at.timestamp()),
            "fired_at": None if self.fired_at is None else iso(self.fired_at.timestamp()),
            "ttd_s": self.ttd_s,
        }


@dataclass(frozen=True)
class RuleCoverage:
    name: str
    defined_at: tuple[str, ...]  # file:line of every definition
    for_s: float  # the shortest `for:` among the definitions: the earliest it can fire
    expected_by: tuple[str, ...]  # catalog drills
    proofs: tuple[Proof, ...]  # oldest first
    status: str  # PROVEN, STALE or NEVER

    @property
    def last_proof(self) -> Proof | None:
        return self.proofs[-1] if self.proofs else None

    def ttd(self, quantile: float) -> float | None:
        return nearest_rank([p.ttd_s for p in self.proofs if p.ttd_s is not None], quantile)


@dataclass(frozen=True)
class DrillCoverage:
    drill: CatalogDrill
    last_proof: DrillResult | None  # the last run that fired every alert the drill expects
    age_days: float | None
    status: str  # PROVEN, STALE, NEVER or NOTHING_EXPECTED


@dataclass(frozen=True)
class Unexpected:
    """An alert that fired in runs of `drill` although the drill did not expect it."""

    drill: str
    alert: str
    runs: int
    last_run_id: str
    defined: bool  # by a loaded rule (else: a rule of another rule set)


@dataclass(frozen=True)
class Coverage:
    now: datetime
    max_age_days: float
    rules: tuple[RuleCoverage, ...]
    drills: tuple[DrillCoverage, ...]
    unexpected: tuple[Unexpected, ...]
    undefined: tuple[tuple[str, str], ...]  # (catalog drill, alert no loaded rule defines)
    problems: tuple[str, ...]  # runs and drill files that could not be read, and why

    def named(self, status: str) -> list[str]:
        return [r.name for r in self.rules if r.status == status]

    @property
    def expected(self) -> int:
        """Loaded rules that at least one catalog drill expects."""
        return sum(1 for r in self.rules if r.expected_by)

    @property
    def fraction(self) -> float:
        return len(self.named(PROVEN)) / len(self.rules) if self.rules else 0.0

    def summary_line(self) -> str:
        """The one line `coverage`, `history` and the game-day report share."""
        days = f"{self.max_age_days:g} day{'' if self.max_age_days == 1 else 's'}"
        line = (
            f"alert coverage: {len(self.named(PROVEN))} / {len(self.rules)} rules proven by a "
            f"drill in the last {days} ({self.expected} expected by a catalog drill); "
            f"never proven: {', '.join(self.named(NEVER)) or 'none'}"
        )
        stale = self.named(STALE)
        return line + (f"; proof older than {days}: {', '.join(stale)}" if stale else "")

    def to_json(self) -> dict[str, Any]:
        """The `coverage --output json` document; its keys are listed in README.md."""
        return {
            "version": JSON_VERSION,
            "generated_at": iso(self.now.timestamp()),
            "max_age_days": self.max_age_days,
            "rules_loaded": len(self.rules),
            "rules_expected": self.expected,
            "rules_proven": len(self.named(PROVEN)),
            "coverage": round(self.fraction, 4),
            "summary": self.summary_line(),
            "never_proven": self.named(NEVER),
            "stale": self.named(STALE),
            "rules": [
                {
                    "name": r.name,
                    "defined_at": list(r.defined_at),
                    "for_s": r.for_s,
                    "expected_by": list(r.expected_by),
                    "status": r.status,
                    "proofs": len(r.proofs),
                    "last_proof": r.last_proof.to_json() if r.last_proof else None,
                    "ttd_s": {"p50": r.ttd(0.5), "p95": r.ttd(0.95), "max": r.ttd(1.0)},
                }
                for r in self.rules
            ],
            "drills": [
                {
                    "drill": d.drill.name,
                    "file": str(d.drill.file),
                    "expects": list(d.drill.expected_alerts),
                    "status": d.status,
                    "last_proof": None
                    if d.last_proof is None
                    else {
                        "run_id": d.last_proof.run_id,
                        "started_at": iso(d.last_proof.started_at.timestamp()),
                        "age_days": d.age_days,
                    },
                }
                for d in self.drills
            ],
            "unexpected": [u.__dict__ for u in self.unexpected],
            "undefined_expected": [{"drill": d, "alert": a} for d, a in self.undefined],
            "problems": list(self.problems),
        }


def nearest_rank(values: Sequence[float], quantile: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least `quantile` of the values at
    or below it): always a measured value, never an interpolation between two runs."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def _age_days(now: datetime, then: datetime) -> float:
    return round((now - then).total_seconds() / 86400, 2)


def _heartbeat_proof(result: DrillResult, alert: str) -> Proof | None:
    """A dead man's switch rule (Watchdog) always fires, so no `ALERTS` sample proves it: a run
    proves it when the drill stopped its heartbeat and the notification service told
    (drills.faults.dead_mans_switch) — "TTD" is how long the platform was blind until then."""
    fault = result.fault
    if fault is None or fault.figures.get("heartbeat_alert") != alert:
        return None
    told_after = fault.figures.get("blind_until_told_s")
    told = [c for c in fault.checks if c.name.startswith("MonitoringBlind told within")]
    if not isinstance(told_after, int | float) or not told or not all(c.passed for c in told):
        return None
    fired_at = (
        None
        if result.injected_at is None
        else result.injected_at + timedelta(seconds=float(told_after))
    )
    return Proof(
        result.run_id, result.drill, result.target, result.started_at, fired_at, float(told_after)
    )


def proven_alerts(result: DrillResult) -> set[str]:
    """The alerts a run proved: its expected alerts that fired, and a stopped heartbeat told."""
    proven = set(result.alerts.fired) if result.alerts is not None else set()
    heartbeat = result.fault.figures.get("heartbeat_alert") if result.fault else None
    if isinstance(heartbeat, str) and _heartbeat_proof(result, heartbeat) is not None:
        proven.add(heartbeat)
    return proven


def _proof(result: DrillResult, alert: str) -> Proof | None:
    alerts = result.alerts
    heartbeat = _heartbeat_proof(result, alert)
    if heartbeat is not None:
        return heartbeat
    if alerts is None or alert not in alerts.fired or alert not in alerts.expected:
        return None
    fired_at = alerts.first_firing_at.get(alert)
    ttd = None
    if fired_at is not None and result.injected_at is not None:
        ttd = round((fired_at - result.injected_at).total_seconds(), 3)
    return Proof(result.run_id, result.drill, result.target, result.started_at, fired_at, ttd)


def compute(
    rules: Sequence[AlertRule],
    catalog: Sequence[CatalogDrill],
    runs: Iterable[DrillResult],
    now: datetime,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    problems: Sequence[str] = (),
) -> Coverage:
    """Coverage of `rules` by the `catalog`'s drills and the recorded `runs` (see the module)."""
    ordered = sorted(runs, key=lambda r: (r.started_at, r.run_id))

    def fresh(started_at: datetime) -> bool:
        return _age_days(now, started_at) <= max_age_days

    by_name: dict[str, list[AlertRule]] = {}
    for rule in rules:
        by_name.setdefault(rule.name, []).append(rule)
    coverages = []
    for name, defs in by_name.items():
        proofs = tuple(p for r in ordered if (p := _proof(r, name)) is not None)
        status = NEVER if not proofs else PROVEN if fresh(proofs[-1].started_at) else STALE
        coverages.append(
            RuleCoverage(
                name=name,
                defined_at=tuple(d.where for d in defs),
                for_s=min(d.for_s for d in defs),
                expected_by=tuple(d.name for d in catalog if name in d.expected_alerts),
                proofs=proofs,
                status=status,
            )
        )
    drills = []
    for drill in catalog:
        if not drill.expected_alerts:
            drills.append(DrillCoverage(drill, None, None, NOTHING_EXPECTED))
            continue
        proving = [
            r
            for r in ordered
            if r.drill == drill.name and set(drill.expected_alerts) <= proven_alerts(r)
        ]
        last = proving[-1] if proving else None
        age = None if last is None else _age_days(now, last.started_at)
        status = NEVER if last is None else PROVEN if fresh(last.started_at) else STALE
        drills.append(DrillCoverage(drill, last, age, status))
    return Coverage(
        now=now,
        max_age_days=max_age_days,
        rules=tuple(coverages),
        drills=tuple(drills),
        unexpected=_unexpected(ordered, set(by_name)),
        undefined=tuple(
            (d.name, alert) for d in catalog for alert in d.expected_alerts if alert not in by_name
        ),
        problems=tuple(problems),
    )


def _unexpected(ordered: Sequence[DrillResult], defined: set[str]) -> tuple[Unexpected, ...]:
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for result in ordered:
        for alert in result.alerts.unexpected if result.alerts else ():
            count, _ = seen.get((result.drill, alert), (0, ""))
            seen[(result.drill, alert)] = (count + 1, result.run_id)
    return tuple(
        Unexpected(drill, alert, count, last, alert in defined)
        for (drill, alert), (count, last) in sorted(seen.items())
    )


def read_runs(runs_dir: Path) -> tuple[list[DrillResult], list[str]]:
    """Every run under `runs_dir` (`<run id>/result.json`, as `drills.history` indexes them) and
    the runs that could not be read, each with why: one broken run must not hide the others."""
    results, problems = [], []
    for path in sorted(runs_dir.glob(f"*/{RESULT_NAME}")):
        try:
            results.append(DrillResult.read(path.parent))
        except InvalidInput as error:
            problems.append(f"run not read: {error}")
    return results, problems


def read_catalog(dirs: Sequence[Path]) -> tuple[list[CatalogDrill], list[str]]:
    """The drills of catalog directories (`*.yaml`, read by `drills.spec`), in order; a later
    directory's drill replaces an earlier one of the same name (a user's catalog over the
    packaged one). Invalid drill files are left out and reported — `validate` names the line."""
    drills: dict[str, CatalogDrill] = {}
    problems = []
    for directory in dirs:
        if not directory.is_dir():
            raise InvalidInput(f"{directory}: not a directory of drill files")
        for path in sorted(directory.glob("*.yaml")):
            try:
                spec = load(path)
            except SpecError as error:
                problems.append(f"drill not read: {error}")
                continue
            # A drill that stops a dead man's switch's heartbeat expects that rule to be told.
            beats = (str(f.params.get("heartbeat") or "") for f in spec.faults)
            proves = spec.expected_alerts + tuple(b for b in beats if b)
            drills[spec.name] = CatalogDrill(spec.name, path, proves)
    return list(drills.values()), problems


def platform_monitoring_dir() -> Path:
    """The monitoring directory whose rules the platform loads: the packaged one, or
    `GENESIS_MANIFESTS_DIR`'s base/monitoring/ (what `platform up` gives Prometheus)."""
    # State directory and port base given, so GENESIS_STATE_DIR / GENESIS_PORT_BASE, which
    # coverage does not use, are not even parsed.
    return Settings.from_env(state_dir=Path("."), port_base=DEFAULT_PORT_BASE).monitoring_dir


def platform_coverage(
    runs_dir: Path,
    now: datetime,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    extra_rules: Sequence[Path] = (),
    extra_catalogs: Sequence[Path] = (),
) -> Coverage:
    """Coverage of the rules the platform loads (plus `extra_rules` files or directories) by the
    packaged catalog (plus `extra_catalogs`) and the runs under `runs_dir`."""
    files = [*platform_rule_files(platform_monitoring_dir()), *rule_files(extra_rules)]
    rules = load_rules(files)
    catalog, bad_drills = read_catalog([packaged.catalog(), *extra_catalogs])
    runs, bad_runs = read_runs(runs_dir)
    return compute(rules, catalog, runs, now, max_age_days, [*bad_drills, *bad_runs])


def summary_line(runs_dir: Path, now: datetime) -> str:
    """The coverage line of `history` and the game-day report: computed with the defaults, and
    when it cannot be (a broken rule file under GENESIS_MANIFESTS_DIR), a line that says why —
    neither report is about the rules, so neither fails for them."""
    try:
        return platform_coverage(runs_dir, now).summary_line()
    except GenesisError as error:
        return f"alert coverage: not computed ({error})"
