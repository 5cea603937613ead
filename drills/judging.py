"""Judging a run: each objective of the drill file (and each check the fault reported) against
the measured figures. A figure that could not be measured never passes its objective.
"""

from __future__ import annotations

from dataclasses import replace

from drills.outcome import Outcome
from drills.results import Objective
from drills.run_state import RunState
from drills.spec import DrillSpec


def judge(spec: DrillSpec, state: RunState) -> None:
    """The drill's objectives against what was measured; sets the outcome passed or failed."""
    result = state.result
    objectives: list[Objective] = []
    o = spec.objectives

    def add(name: str, target: str, measured: float | None, ok: bool, unit: str = "") -> None:
        shown = "n/a" if measured is None else f"{measured:g}{unit}"
        objectives.append(Objective(name, target, shown, ok))

    # A composite drill's TTD objective is each step's (drills.step_figures), not the drill's.
    detection = [
        (f"time to detect (step {step.name})", o.max_ttd_s, step.ttd_seconds)
        for step in result.steps
        if step.expected_alerts
    ] or [("time to detect", o.max_ttd_s, result.ttd_seconds)]
    for name, limit, measured in (
        *detection,
        ("time to recover", o.max_ttr_s, result.ttr_seconds),
        ("time to notify", o.max_ttn_s, result.ttn_seconds),
    ):
        if limit is not None:
            ok = measured is not None and measured <= limit
            add(name, f"<= {limit:g}s", measured, ok, "s")
    ledger = result.ledger
    if ledger is not None and not ledger.note:
        add("events lost", f"<= {o.max_lost}", ledger.lost, ledger.lost <= o.max_lost)
        add(
            "events duplicated",
            f"<= {o.max_duplicated}",
            ledger.duplicated,
            ledger.duplicated <= o.max_duplicated,
        )
        # Stored but never published: not a tolerance but a broken invariant — something else
        # writes as the generator, or the generator's account is wrong. Never acceptable.
        add(
            "unexpected events (stored, never published)",
            "0",
            ledger.unexpected,
            not ledger.unexpected,
        )
    else:
        add("events lost", f"<= {o.max_lost}", None, False)
    if o.max_error_budget is not None:
        consumed = result.error_budget_consumed
        add(
            "error budget consumed",
            f"<= {o.max_error_budget:g}",
            consumed,
            consumed is not None and consumed <= o.max_error_budget,
        )
    if result.alerts is not None:
        objectives.append(
            Objective(
                "expected alerts fired",
                ", ".join(result.alerts.expected) or "none",
                ", ".join(result.alerts.fired) or "none",
                not result.alerts.missed,
            )
        )
    if state.fault_report is not None:
        for check in state.fault_report.checks:
            objectives.append(Objective(check.name, "yes", check.detail, check.passed))
    passed = all(obj.passed for obj in objectives)
    missed = [obj.name for obj in objectives if not obj.passed]
    state.result = replace(
        result,
        objectives=tuple(objectives),
        outcome=Outcome.PASSED if passed else Outcome.FAILED,
        reason="all objectives met" if passed else "missed: " + ", ".join(missed),
    )
