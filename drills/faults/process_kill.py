"""process-kill: signal a component's process group (a pod kill); its supervisor restarts it.

The restart is proven with the supervisor's own data: a new PID and a start time after the kill.
Rollback only makes sure the component runs again, so it is safe to repeat. SIGSTOP is not a kill
(the process stays, frozen): that is process-freeze, which continues exactly the stopped process.
"""

from __future__ import annotations

import time

from drills.faults.base import Check, FaultContext, FaultReport, Injection

READY_TIMEOUT_S = 60.0


class ProcessKill:
    kind = "process-kill"

    def __init__(self, signal_name: str) -> None:
        self.signal_name = signal_name

    def plan(self, ctx: FaultContext) -> list[str]:
        component = ctx.spec.target
        return [
            f"send SIG{self.signal_name} to the process group of {component} "
            f"on {ctx.target.describe()}",
            f"rollback: make sure {component} is running again (its supervisor restarts it)",
        ]

    def preflight(self, ctx: FaultContext) -> list[str]:
        state = ctx.target.state(ctx.spec.target)
        return [] if state.ready else [f"{ctx.spec.target} is not running and ready"]

    def inject(self, ctx: FaultContext) -> Injection:
        before = ctx.target.state(ctx.spec.target)
        ctx.target.kill(ctx.spec.target, self.signal_name)
        at = time.time()
        return Injection(at, "journal", {"victim": before.pid_or_uid, "signal": self.signal_name})

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        return None  # the kill is instantaneous

    def rollback(self, ctx: FaultContext) -> None:
        ctx.target.start(ctx.spec.target)

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        ready_at = ctx.target.wait_ready(ctx.spec.target, READY_TIMEOUT_S)
        after = ctx.target.state(ctx.spec.target)
        victim = str(injection.details.get("victim"))
        restarted = after.pid_or_uid != victim and (after.started_at or 0) >= injection.at - 1
        return FaultReport(
            figures={
                "restart_pid": after.pid_or_uid,
                "restarted_at": after.started_at,
                "restart_seconds": round(after.started_at - injection.at, 3)
                if after.started_at
                else None,
                "ready_seconds": round(ready_at - injection.at, 3),
            },
            checks=(
                Check(
                    "component restarted by its supervisor",
                    restarted,
                    f"pid {victim} → {after.pid_or_uid}",
                ),
            ),
            ready_at=ready_at,
        )
