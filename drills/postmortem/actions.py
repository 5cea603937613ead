"""Action items derived from what a run found, by explicit rules (one function per finding).

Each rule reads the typed run context and returns zero or more items with a type, a priority, an
owner placeholder, a measurable done condition and a stable fingerprint (drill + rule + subject).
The fingerprint is what makes `genesis-drill issues export` idempotent: the same finding in the
next run of the same drill maps to the same GitHub issue, which gets a comment instead of a twin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from drills.postmortem.context import RunContext

TYPES = ("investigate", "mitigate", "repair", "detect", "prevent", "process")
PRIORITIES = ("P0", "P1", "P2")
OWNER_PLACEHOLDER = "TBD"
UNFILED = "not filed yet"


@dataclass(frozen=True)
class ActionItem:
    rule: str
    subject: str
    type: str
    priority: str
    title: str
    done_when: str
    evidence: str
    drill: str
    owner: str = OWNER_PLACEHOLDER
    tracking: str = UNFILED

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.drill, self.rule, self.subject)


def fingerprint(drill: str, rule: str, subject: str) -> str:
    """Stable id of a finding: the same drill, rule and subject always give the same value."""
    digest = hashlib.sha256(f"{drill}\x1f{rule}\x1f{subject}".encode()).hexdigest()
    return f"gd-{digest[:16]}"


Rule = Callable[[RunContext], list[ActionItem]]


def _item(
    ctx: RunContext,
    rule: str,
    subject: str,
    kind: str,
    priority: str,
    title: str,
    done_when: str,
    evidence: str,
) -> ActionItem:
    return ActionItem(rule, subject, kind, priority, title, done_when, evidence, ctx.drill)


def _fault(ctx: RunContext) -> str:
    component = ctx.spec.component if ctx.spec else ctx.target
    return f"{ctx.fault_kind or 'the fault'} on {component}"


def missed_alerts(ctx: RunContext) -> list[ActionItem]:
    """An expected alert that never fired: add or fix the rule (P0: the failure went unseen)."""
    bound = ctx.spec.max_ttd_s if ctx.spec else None
    return [
        _item(
            ctx,
            "missed-alert",
            name,
            "detect",
            "P0",
            f"Add or fix the alert rule {name} so that it fires for {_fault(ctx)}",
            f"a re-run of drill {ctx.drill} reports {name} firing"
            + (f" within {bound:g} s of the injection" if bound else ""),
            f"{name} was expected but never fired ({ctx.ttd.reason or 'no firing sample'})",
        )
        for name in ctx.missed_alerts
        if ctx.injected
    ]


def slow_detection(ctx: RunContext) -> list[ActionItem]:
    """TTD over the objective: a detect item naming the alert and measured vs wanted figure."""
    wanted = ctx.spec.max_ttd_s if ctx.spec else None
    measured = ctx.ttd.seconds
    if wanted is None or measured is None or measured <= wanted:
        return []
    fired = [a for a in ctx.alerts if a.fired]
    name = fired[0].name if fired else "the expected alert"
    bound = fired[0].bound_s if fired else None
    note = f"; the rule's own bound is {bound:g} s" if bound is not None else ""
    return [
        _item(
            ctx,
            "ttd-over-objective",
            name,
            "detect",
            "P1",
            f"Shorten detection by {name}: measured {measured:.1f} s, wanted at most {wanted:g} s",
            f"a re-run of drill {ctx.drill} measures time to detect <= {wanted:g} s",
            f"TTD {measured:.1f} s against an objective of {wanted:g} s{note}",
        )
    ]


def slow_recovery(ctx: RunContext) -> list[ActionItem]:
    """TTR over the objective, or no recovery measured after an injection: mitigate."""
    wanted = ctx.spec.max_ttr_s if ctx.spec else None
    measured = ctx.ttr.seconds
    if wanted is None or not ctx.injected or ctx.outcome in ("preflight-refused",):
        return []
    if measured is not None and measured <= wanted:
        return []
    shown = "no recovery" if measured is None else f"{measured:.1f} s"
    return [
        _item(
            ctx,
            "ttr-over-objective",
            ctx.spec.component if ctx.spec else ctx.target,
            "mitigate",
            "P1",
            f"Reduce recovery time after {_fault(ctx)}: measured {shown}, wanted {wanted:g} s",
            f"a re-run of drill {ctx.drill} measures time to recover <= {wanted:g} s",
            f"TTR {shown} ({ctx.ttr.reason or ctx.ttr.source})",
        )
    ]


def lost_events(ctx: RunContext) -> list[ActionItem]:
    """Any loss (or duplicates) beyond the objective: prevent (P0 for loss)."""
    ledger = ctx.ledger
    if ledger is None or ledger.note:
        return []
    items = []
    allowed_lost = ctx.spec.max_lost if ctx.spec else 0
    allowed_dup = ctx.spec.max_duplicated if ctx.spec else 0
    if ledger.lost > allowed_lost:
        sample = ", ".join(str(n) for n in ledger.missing_sample[:5])
        items.append(
            _item(
                ctx,
                "events-lost",
                "lost",
                "prevent",
                "P0",
                f"Prevent the loss of audit events during {_fault(ctx)} ({ledger.lost} lost)",
                f"a re-run of drill {ctx.drill} shows 0 events lost in its ledger",
                f"{ledger.confirmed} confirmed, {ledger.stored} stored, {ledger.lost} lost"
                + (f" (e.g. seq {sample})" if sample else ""),
            )
        )
    if ledger.duplicated > allowed_dup:
        items.append(
            _item(
                ctx,
                "events-duplicated",
                "duplicated",
                "prevent",
                "P1",
                f"Prevent duplicate audit events during {_fault(ctx)} "
                f"({ledger.duplicated} duplicated)",
                f"a re-run of drill {ctx.drill} shows 0 events duplicated in its ledger",
                f"{ledger.duplicated} rows stored twice",
            )
        )
    return items


def consumer_restarts(ctx: RunContext) -> list[ActionItem]:
    """The consumer restarted when it should not have (a restart loop): mitigate."""
    restarts = ctx.consumer_restarts
    if not restarts:
        return []
    return [
        _item(
            ctx,
            "consumer-restart-loop",
            "audit-log-analysis",
            "mitigate",
            "P0" if restarts > 1 else "P1",
            f"Stop the audit-log-analysis restart loop under {_fault(ctx)} ({restarts} restart(s))",
            f"a re-run of drill {ctx.drill} records 0 consumer restarts",
            f"{restarts} consumer restart(s) during the drill",
        )
    ]


def unexpected_alerts(ctx: RunContext) -> list[ActionItem]:
    """An alert fired that the drill did not expect: alert noise (or a wrong expectation)."""
    return [
        _item(
            ctx,
            "unexpected-alert",
            name,
            "detect",
            "P2",
            f"Review the alert {name}: decide whether it is noise for {_fault(ctx)} "
            "or belongs in expected_alerts",
            f"{name} either stays silent in a re-run of drill {ctx.drill} or is listed in its "
            "expected_alerts",
            f"{name} fired during the drill without being expected",
        )
        for name in ctx.unexpected_alerts
    ]


def failed_checks(ctx: RunContext) -> list[ActionItem]:
    """A fault-specific check failed (e.g. a malformed message not dead-lettered): investigate."""
    return [
        _item(
            ctx,
            "fault-check-failed",
            check.name,
            "investigate",
            "P1",
            f"Investigate why the check '{check.name}' failed",
            f"a re-run of drill {ctx.drill} passes the check '{check.name}'",
            check.detail,
        )
        for check in ctx.fault_checks
        if not check.passed
    ]


def budget(ctx: RunContext) -> list[ActionItem]:
    """More error budget consumed than the objective allows: mitigate."""
    for objective in ctx.objectives:
        if objective.name == "error budget consumed" and not objective.passed:
            return [
                _item(
                    ctx,
                    "error-budget-over",
                    "latency",
                    "mitigate",
                    "P1",
                    f"Reduce the latency error budget consumed by {_fault(ctx)}",
                    f"a re-run of drill {ctx.drill} consumes {objective.target} of the budget",
                    f"consumed {objective.measured}, wanted {objective.target}",
                )
            ]
    return []


_OUTCOME_ITEMS = {
    "preflight-refused": (
        "investigate",
        "P1",
        "Investigate why the steady state did not hold before drill {drill}",
        "drill {drill} passes preflight and injects its fault",
    ),
    "target-error": (
        "investigate",
        "P1",
        "Investigate why drill {drill} could not reach or trust its target",
        "drill {drill} runs to its report phase",
    ),
    "observation-error": (
        "repair",
        "P1",
        "Repair Prometheus access for drill {drill}",
        "drill {drill} reads every figure from Prometheus",
    ),
    "rollback-failed": (
        "repair",
        "P0",
        "Repair the rollback of {fault}",
        "drill {drill} rolls back its fault on the first attempt",
    ),
    "aborted": (
        "investigate",
        "P1",
        "Investigate why drill {drill} hit an abort condition",
        "drill {drill} completes within its abort limits",
    ),
    "interrupted": (
        "process",
        "P2",
        "Run drill {drill} again to completion (this run was interrupted)",
        "drill {drill} has a completed run",
    ),
    "error": (
        "investigate",
        "P1",
        "Investigate the internal error of drill {drill}",
        "drill {drill} runs without an internal error",
    ),
}


def outcome(ctx: RunContext) -> list[ActionItem]:
    """A run that did not complete its lifecycle: one item for the outcome itself."""
    entry = _OUTCOME_ITEMS.get(ctx.outcome)
    if entry is None:
        return []
    kind, priority, title, done = entry
    words = {"drill": ctx.drill, "fault": _fault(ctx)}
    return [
        _item(
            ctx,
            f"outcome-{ctx.outcome}",
            ctx.outcome,
            kind,
            priority,
            title.format(**words),
            done.format(**words),
            ctx.reason,
        )
    ]


def rerun(ctx: RunContext) -> list[ActionItem]:
    """Always: schedule the drill again, so a result (good or bad) is confirmed, not a one-off."""
    return [
        _item(
            ctx,
            "rerun",
            "schedule",
            "process",
            "P2",
            f"Schedule drill {ctx.drill} in the next game day to confirm this result",
            f"drill {ctx.drill} has run again in a scheduled game day and its post-mortem is "
            "reviewed",
            f"outcome {ctx.outcome}",
        )
    ]


RULES: tuple[Rule, ...] = (
    outcome,
    missed_alerts,
    slow_detection,
    lost_events,
    consumer_restarts,
    slow_recovery,
    budget,
    failed_checks,
    unexpected_alerts,
    rerun,
)


def derive(ctx: RunContext) -> list[ActionItem]:
    """All action items of a run, highest priority first, without duplicate fingerprints."""
    seen: set[str] = set()
    items = []
    for rule in RULES:
        for item in rule(ctx):
            if item.fingerprint not in seen:
                seen.add(item.fingerprint)
                items.append(item)
    return sorted(items, key=lambda item: PRIORITIES.index(item.priority))
