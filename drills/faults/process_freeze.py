"""process-freeze: SIGSTOP a component's processes for a set time (a hung pod), SIGCONT on rollback.

A frozen process still exists and its ports still accept TCP connections (the kernel's backlog),
but nothing answers: scrapes time out, health checks hang, AMQP heartbeats stop. That is the
failure a liveness probe exists for, and one a kill drill never shows.

Why its own kind and not process-kill with `signal: STOP`: everything after the signal differs.
A kill is proven by a *new* PID and undone by the supervisor; a freeze is proven by the *same*
PID, stopped (kernel state T) during the hold and running after it, and only the harness can undo
it — by continuing exactly the processes it stopped, also from `recover` after a crash. So the
fault journals the processes' identities (PID and kernel start time, `freeze-intent`) before the
signal, and rollback — here or in `recover`, rebuilt from that record — continues only a process
that still has that identity, never whatever holds the PID now.
"""

from __future__ import annotations

import time
from typing import Any

from drills.errors import TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.journal import Journal
from drills.targets.freezer import FrozenGroup, Thawed, freezer_of

READY_TIMEOUT_S = 60.0
STATE_LOOK_S = 1.0  # how often the hold reads the kernel's state of the frozen leader

# Journal records written by this fault.
J_FREEZE_INTENT = "freeze-intent"  # before SIGSTOP: the processes about to be stopped
J_THAWED = "thawed"  # after SIGCONT: which were continued, which were no longer the same


def journaled_group(journal: Journal) -> FrozenGroup | None:
    """The processes this run stopped (or was about to stop), from its `freeze-intent` record."""
    for record in reversed(journal.records()):
        if record.get("event") == J_FREEZE_INTENT:
            return FrozenGroup.from_json(record.get("group"))
    return None


class ProcessFreeze:
    kind = "process-freeze"

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self.group: FrozenGroup | None = None
        self.looks: list[str] = []  # the leader's kernel state at each look during the hold
        self.thawed: Thawed | None = None
        self.thawed_at: float | None = None

    def plan(self, ctx: FaultContext) -> list[str]:
        component = ctx.spec.target
        lines = [
            f"send SIGSTOP to every process of {component} on {ctx.target.describe()} "
            "(journaling each PID and start time first)",
            f"hold it frozen for {self.duration_s:g} s",
            f"rollback: SIGCONT exactly those processes (a PID that is no longer the same "
            f"process is left alone), then make sure {component} is running",
        ]
        try:
            freezer_of(ctx.target)
        except TargetError as exc:
            lines.append(f"refused on this target: {exc}")
        return lines

    def preflight(self, ctx: FaultContext) -> list[str]:
        try:
            freezer_of(ctx.target)
        except TargetError as exc:
            return [str(exc)]
        state = ctx.target.state(ctx.spec.target)
        return [] if state.ready else [f"{ctx.spec.target} is not running and ready"]

    def inject(self, ctx: FaultContext) -> Injection:
        freezer = freezer_of(ctx.target)
        group = freezer.group_of(ctx.spec.target)
        ctx.journal.write(J_FREEZE_INTENT, group=group.to_json())
        self.group = group
        freezer.freeze(group)
        at = time.time()
        return Injection(
            at,
            "journal",
            {
                "pid": group.leader.pid,
                "start_ticks": group.leader.start_ticks,
                "processes": len(group.members),
                "duration_s": self.duration_s,
            },
        )

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        freezer = freezer_of(ctx.target)
        end = injection.at + self.duration_s
        while True:
            if self.group is not None:
                self.looks.append(freezer.state(self.group.leader) or "gone")
            left = end - time.time()
            if left <= 0 or ctx.stop.wait(min(STATE_LOOK_S, left)):
                return

    def rollback(self, ctx: FaultContext) -> None:
        group = self.group or journaled_group(ctx.journal)
        if group is not None:  # no intent record: no signal was sent
            thawed = freezer_of(ctx.target).thaw(group)
            ctx.journal.write(J_THAWED, continued=list(thawed.continued), gone=list(thawed.gone))
            if self.thawed is None:
                self.thawed, self.thawed_at = thawed, time.time()
        ctx.target.start(ctx.spec.target)  # a frozen process killed meanwhile: run it again

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        ready_at = ctx.target.wait_ready(ctx.spec.target, READY_TIMEOUT_S)
        after = ctx.target.state(ctx.spec.target)
        return report(
            injection.details,
            self.looks,
            self.thawed,
            self.thawed_at,
            after.pid_or_uid,
            ready_at,
            injection.at,
        )


def report(
    details: dict[str, Any],
    looks: list[str],
    thawed: Thawed | None,
    thawed_at: float | None,
    pid_after: str,
    ready_at: float,
    injected_at: float,
) -> FaultReport:
    """The freeze's findings (pure): stopped in place during the hold, continued, not restarted."""
    pid = str(details.get("pid"))
    stopped = sum(1 for state in looks if state == "T")
    gone = thawed.gone if thawed is not None else ()
    figures: dict[str, float | int | str | None] = {
        "frozen_pid": pid,
        "pid_after": pid_after,
        "held_frozen_seconds": round(thawed_at - injected_at, 3) if thawed_at else None,
        "stopped_looks": f"{stopped}/{len(looks)}",
        "ready_seconds_after_thaw": round(ready_at - thawed_at, 3) if thawed_at else None,
    }
    return FaultReport(
        figures=figures,
        checks=(
            Check(
                "the kernel showed the process stopped (T) throughout the hold",
                bool(looks) and stopped == len(looks),
                f"pid {pid}: states {''.join(s[0] for s in looks) or 'never looked'}",
            ),
            Check(
                "every frozen process was continued (SIGCONT)",
                thawed is not None and not gone,
                "not rolled back"
                if thawed is None
                else f"continued {list(thawed.continued)}, no longer the same process {list(gone)}",
            ),
            Check(
                "continued in place, not restarted (same PID)",
                pid_after == pid,
                f"pid {pid} → {pid_after}",
            ),
        ),
        ready_at=ready_at,
    )
