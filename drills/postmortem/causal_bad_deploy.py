"""The causal chain's links for bad-deploy, from the figures `drills.faults.bad_deploy` reports:
the bad revision deployed, the rollback to the good one, and what the bad build cost (events
dead-lettered and re-driven, or held in the queue). A figure the run did not record leaves its
link out (`causal_kinds` names it)."""

from __future__ import annotations

from drills.postmortem.causal_model import Link, Scope, count, seconds
from drills.results import DrillResult


def deployed(scope: Scope, result: DrillResult) -> Link | None:
    bad, good = scope.number("bad_revision"), scope.number("good_revision")
    if bad is None or good is None:
        return None
    breakage = scope.text("breakage") or "?"
    return Link(
        f"{scope.component} revision {int(bad)} deployed over revision {int(good)} "
        f"(breakage {breakage})",
        f"revision {int(bad)}",
        scope.injected_at,
        scope.source("bad_revision"),
    )


def rolled_back(scope: Scope, result: DrillResult) -> Link | None:
    took = scope.number("rollback_seconds")
    if took is None:
        return None
    by = scope.text("rolled_back_by") or "?"
    good = scope.number("good_revision")
    to = f" to revision {int(good)}" if good is not None else ""
    return Link(
        f"rolled back{to} by {by}, the good build ready",
        f"rollback complete {seconds(took)} after the deploy",
        scope.ready_at,
        scope.source("rollback_seconds"),
    )


def what_it_cost(scope: Scope, result: DrillResult) -> Link | None:
    dead = scope.number("events_dead_lettered")
    if dead is not None:
        return Link(
            f"{count(dead)} events dead-lettered by the bad build, re-driven after the rollback",
            f"{count(dead)} re-driven",
            None,
            scope.source("events_dead_lettered"),
        )
    delayed = scope.number("events_delayed_peak")
    if delayed is None:
        return None
    return Link(
        "events held in the analysis queue while no good build consumed",
        f"peak {count(delayed)} messages",
        None,
        scope.source("events_delayed_peak"),
    )
