"""DrillResult: what a run found, and its JSON form (`result.json`).

The JSON keys are a contract for the post-mortem, game days, history and users' scripts; every
duration says where it came from (`*_source`) and a figure that could not be measured is `null`
with a `*_reason`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.ledger import Ledger
from drills.outcome import Outcome

# outcome → exit code, from the one table (drills.outcome.Outcome)
OUTCOME_EXIT = {outcome.value: outcome.exit_code for outcome in Outcome}


def iso(ts: float | None) -> str | None:
    return (
        None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    )


@dataclass(frozen=True)
class Objective:
    name: str
    target: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class AlertSummary:
    expected: list[str]
    fired: list[str]
    missed: list[str]
    unexpected: list[str]
    first_pending_at: dict[str, str | None]
    first_firing_at: dict[str, str | None]
    # An alert cannot fire sooner than its `for:` after the first evaluation that saw the fault;
    # with scrape and evaluation delays on top, for + evaluation interval is what to expect.
    for_seconds: dict[str, float]
    evaluation_interval_s: float


@dataclass(frozen=True)
class Phase:
    name: str
    at: str | None
    offset_s: float | None
    source: str


@dataclass
class DrillResult:
    """Everything one run measured."""

    run_id: str
    drill: str
    target: str
    outcome: str
    reason: str
    started_at: str
    injected_at: str | None = None
    detected_at: str | None = None
    recovered_at: str | None = None
    finished_at: str | None = None
    ttd_seconds: float | None = None
    ttd_source: str = ""
    ttd_reason: str = ""
    ttn_seconds: float | None = None
    ttn_source: str = ""
    ttn_reason: str = ""
    ttr_seconds: float | None = None
    ttr_source: str = ""
    ttr_reason: str = ""
    phases: list[Phase] = field(default_factory=list)
    alerts: AlertSummary | None = None
    ledger: Ledger | None = None
    error_budget_consumed: float | None = None
    error_budget_reason: str = ""
    objectives: list[Objective] = field(default_factory=list)
    fault: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float | None = None
    run_dir: str = ""

    @property
    def exit_code(self) -> int:
        return OUTCOME_EXIT.get(self.outcome, 1)

    @property
    def objectives_passed(self) -> bool:
        return bool(self.objectives) and all(o.passed for o in self.objectives)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, run_dir: Path) -> Path:
        path = run_dir / "result.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        tmp.replace(path)
        return path
