"""service-stop: take a component down for a set time (a broker outage), then start it again.

`mode: kill` is a hard stop — SIGKILL, so the component gets no chance to close cleanly, and its
supervisor keeps it down; `mode: term` is a graceful stop. Rollback
starts it again and is idempotent (starting a running component does nothing).
`check_counters` (for a Redis outage) adds a check that the dashboard's totals equal PostgreSQL's
once the component is back (`counter_parity`). `heartbeat` (for Alertmanager or Prometheus)
adds the dead man's switch's checks: MonitoringBlind told within `told_within_s`, and resolved
once the component is back (`dead_mans_switch`).
"""

from __future__ import annotations

import time

from drills.faults import counter_parity, dead_mans_switch
from drills.faults.base import Check, FaultContext, FaultReport, Injection

READY_TIMEOUT_S = 90.0


class ServiceStop:
    kind = "service-stop"

    def __init__(
        self,
        duration_s: float,
        mode: str,
        check_counters: bool = False,
        heartbeat: str = "",
        told_within_s: float = 30.0,
    ) -> None:
        self.duration_s = duration_s
        self.mode = mode
        self.check_counters = check_counters
        self.heartbeat = heartbeat
        self.told_within_s = told_within_s
        self.started_again_at: float | None = None

    def plan(self, ctx: FaultContext) -> list[str]:
        how = "SIGKILL then keep stopped" if self.mode == "kill" else "graceful stop"
        lines = [
            f"stop {ctx.spec.target} ({how}) on {ctx.target.describe()}",
            f"hold it down for {self.duration_s:g} s",
            f"rollback: start {ctx.spec.target} and wait until it is ready",
        ]
        if self.check_counters:
            lines.append("then compare the dashboard's counter total with PostgreSQL's row count")
        if self.heartbeat:
            lines.append(
                f"expect the notification service to raise MonitoringBlind within "
                f"{self.told_within_s:g} s ({self.heartbeat} heartbeat gone), resolved after"
            )
        return lines

    def preflight(self, ctx: FaultContext) -> list[str]:
        state = ctx.target.state(ctx.spec.target)
        return [] if state.ready else [f"{ctx.spec.target} is not running and ready"]

    def inject(self, ctx: FaultContext) -> Injection:
        ctx.target.stop(ctx.spec.target, graceful=self.mode != "kill")
        at = time.time()
        return Injection(at, "journal", {"mode": self.mode, "duration_s": self.duration_s})

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        ctx.stop.wait(max(0.0, injection.at + self.duration_s - time.time()))

    def rollback(self, ctx: FaultContext) -> None:
        ctx.target.start(ctx.spec.target)
        if self.started_again_at is None:
            self.started_again_at = time.time()

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        ready_at = ctx.target.wait_ready(ctx.spec.target, READY_TIMEOUT_S)
        downtime = (self.started_again_at or ready_at) - injection.at
        figures: dict[str, float | int | str | None] = {
            "held_down_seconds": round(downtime, 3),
            "ready_seconds_after_start": round(ready_at - (self.started_again_at or ready_at), 3),
        }
        checks = [
            Check(
                f"{ctx.spec.target} ready again after the outage",
                True,
                f"ready {ready_at - injection.at:.1f} s after the stop",
            )
        ]
        if self.check_counters:
            parity, gap = counter_parity.check(ctx.endpoints, ctx.spec.load.rate)
            checks.append(parity)
            figures["counter_gap"] = gap
        if self.heartbeat:
            told, told_figures = dead_mans_switch.check(
                ctx.endpoints.notification_url, self.heartbeat, injection.at, self.told_within_s
            )
            checks.extend(told)
            figures.update(told_figures)
        return FaultReport(figures=figures, checks=tuple(checks), ready_at=ready_at)
