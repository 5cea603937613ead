"""bad-deploy: roll out a broken build of audit-log-analysis, then roll back to the last good one.

The broken build is a real deploy-time setting of the analysis service, set in a new revision of
its definition (`drills.targets.deployer`):

* `reject-all` — `AUDITFLOW_MAX_EVENT_BYTES=256`, the service's smallest accepted limit and
  smaller than every audit event: each one is dead-lettered `oversized` (DeadLetterRateHigh).
  Nothing is lost — a dead-letter copy is confirmed before the original is acked — but nothing is
  stored: after the rollback the dead-lettered events are re-driven (`dlq_redrive`).
* `crash-on-start` — `AUDITFLOW_LOG_LEVEL=TRACE`, a level the service does not know: its settings
  check exits 2 at start and its supervisor restarts it in a loop (AuditAnalysisDown). Events
  wait in the queue: delayed, not lost.

`rollback: automated` is a deploy system's automatic rollback: the harness watches Prometheus and
rolls back at the first firing of one of the drill's expected alerts. `rollback: responder` is a
game day's: a person rolls back (`kubectl rollout undo`, or `genesis-drill rollout undo` on
either target) and the harness only watches the live revision. Either way, `rollback_by_s`
after the deploy the harness rolls back itself, so the platform is never left broken.

The good revision is journaled (`deploy-intent`) before anything changes, so a rollback — here
or from `recover` after a harness crash, rebuilt from that record — restores exactly it.
"""

from __future__ import annotations

import time
from typing import Any

from auditflow import topology
from drills.errors import ObservationError, TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.dlq_redrive import DlqRedrive, Rejection, redrive_rejected
from drills.journal import Journal
from drills.observe import Observer
from drills.targets.deployer import deployer_of

READY_TIMEOUT_S = 90.0
WATCH_S = 0.5  # how often the hold looks for the alert (automated) or the undo (responder)
REJECT_LIMIT = "256"
# breakage → (the deploy-time settings of the broken build, what the good build's absence of
# them looks like in the dead-letter queue — None: nothing is dead-lettered).
BREAKAGES: dict[str, tuple[dict[str, str], Rejection | None]] = {
    "reject-all": (
        {"AUDITFLOW_MAX_EVENT_BYTES": REJECT_LIMIT},
        Rejection("oversized", f"> {REJECT_LIMIT}"),
    ),
    "crash-on-start": ({"AUDITFLOW_LOG_LEVEL": "TRACE"}, None),
}

# Journal records written by this fault.
J_DEPLOY_INTENT = "deploy-intent"  # before the deploy: the good revision and the bad settings
J_DEPLOYED = "deployed"  # after it: the bad revision
J_UNDONE = "deploy-undone"  # after the rollback: the revision live again


def journaled_good(journal: Journal) -> int | None:
    """The good revision this run deployed over, from its `deploy-intent` record."""
    for record in reversed(journal.records()):
        if record.get("event") == J_DEPLOY_INTENT:
            good = record.get("good_revision")
            return good if isinstance(good, int) and not isinstance(good, bool) else None
    return None


class BadDeploy:
    kind = "bad-deploy"

    def __init__(self, breakage: str, rollback: str, rollback_by_s: float) -> None:
        self.breakage = breakage
        self.rollback_mode = rollback
        self.rollback_by_s = rollback_by_s
        self.good: int | None = None
        self.bad: int | None = None
        self.detected_at: float | None = None
        self.responder_at: float | None = None
        self.undone_at: float | None = None
        self.good_ready_at: float | None = None
        self.redrive: DlqRedrive | None = None

    @property
    def env(self) -> dict[str, str]:
        return BREAKAGES[self.breakage][0]

    def plan(self, ctx: FaultContext) -> list[str]:
        component = ctx.spec.target
        settings = ", ".join(f"{k}={v}" for k, v in self.env.items())
        who = (
            "the harness, at the first firing of "
            + (", ".join(ctx.spec.expected_alerts) or "an expected alert")
            if self.rollback_mode == "automated"
            else "a responder (the harness watches the live revision)"
        )
        lines = [
            f"journal the live revision of {component}, then deploy a new revision with "
            f"{settings} ({self.breakage}) on {ctx.target.describe()}",
            f"rollback to the journaled revision by {who}; by the harness "
            f"{self.rollback_by_s:g} s after the deploy at the latest",
        ]
        if BREAKAGES[self.breakage][1] is not None:
            lines.append(
                f"after the rollback: re-drive the events the bad build dead-lettered from "
                f"{topology.DEAD_LETTER_QUEUE}"
            )
        try:
            deployer_of(ctx.target)
        except TargetError as exc:
            lines.append(f"refused on this target: {exc}")
        return lines

    def preflight(self, ctx: FaultContext) -> list[str]:
        try:
            deployer = deployer_of(ctx.target)
            live = deployer.live(ctx.spec.target)
        except TargetError as exc:  # RevisionError too: refuse, inject nothing
            return [str(exc)]
        broken = {k: v for k, v in self.env.items() if live.env.get(k) == v}
        if broken:
            return [
                f"{ctx.spec.target}'s live revision {live.number} already has {broken}: a "
                "previous bad deploy was never rolled back (`genesis-drill recover`)"
            ]
        state = ctx.target.state(ctx.spec.target)
        return [] if state.ready else [f"{ctx.spec.target} is not running and ready"]

    def inject(self, ctx: FaultContext) -> Injection:
        deployer = deployer_of(ctx.target)
        component = ctx.spec.target
        good = deployer.live(component)
        ctx.journal.write(
            J_DEPLOY_INTENT,
            component=component,
            good_revision=good.number,
            breakage=self.breakage,
            env=self.env,
        )
        self.good = good.number
        bad = deployer.deploy(component, self.env, f"bad-deploy drill: {self.breakage}")
        at = time.time()
        self.bad = bad.number
        ctx.journal.write(J_DEPLOYED, component=component, revision=bad.number)
        return Injection(
            at,
            "journal",
            {
                "good_revision": good.number,
                "bad_revision": bad.number,
                "breakage": self.breakage,
                "env": self.env,
            },
        )

    def _firing(self, observer: Observer, alerts: tuple[str, ...]) -> bool:
        names = "|".join(alerts)
        query = f'count(ALERTS{{alertstate="firing",alertname=~"{names}"}})'
        try:
            return (observer.value(query) or 0) > 0
        except ObservationError:
            return False  # Prometheus unreadable for a moment: look again

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        end = injection.at + self.rollback_by_s
        deployer = deployer_of(ctx.target)
        observer = Observer(ctx.endpoints.prometheus_url)
        alerts = ctx.spec.expected_alerts
        while True:
            if self.rollback_mode == "automated":
                if alerts and self._firing(observer, alerts):
                    self.detected_at = time.time()
                    return
            elif self.good is not None and deployer.is_live(ctx.spec.target, self.good):
                self.responder_at = time.time()
                return
            left = end - time.time()
            if left <= 0 or ctx.stop.wait(min(WATCH_S, left)):
                return

    def rollback(self, ctx: FaultContext) -> None:
        good = self.good if self.good is not None else journaled_good(ctx.journal)
        if good is None:  # no intent record: nothing was deployed
            return
        component = ctx.spec.target
        live = deployer_of(ctx.target).undo(component, good)
        ctx.journal.write(J_UNDONE, component=component, to_revision=good, live=live.number)
        if self.undone_at is None:
            self.undone_at = time.time()
        ready = ctx.target.wait_ready(component, READY_TIMEOUT_S)
        if self.good_ready_at is None:
            self.good_ready_at = ready
        rejection = BREAKAGES[self.breakage][1]
        if rejection is not None:
            result = redrive_rejected(ctx.endpoints.amqp_url.reveal(), rejection)
            self.redrive = _add(self.redrive, result)

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        ready_at = ctx.target.wait_ready(ctx.spec.target, READY_TIMEOUT_S)
        good_live = self.good is not None and deployer_of(ctx.target).is_live(
            ctx.spec.target, self.good
        )
        peak = _peak_queue(ctx, injection.at, self.good_ready_at or ready_at)
        return report(
            self.breakage,
            self.rollback_mode,
            injection,
            detected_at=self.detected_at,
            responder_at=self.responder_at,
            undone_at=self.undone_at,
            good_ready_at=self.good_ready_at or ready_at,
            good_live=good_live,
            redrive=self.redrive,
            queue_peak=peak,
        )


def _add(before: DlqRedrive | None, more: DlqRedrive) -> DlqRedrive:
    """Re-drives of repeated rollbacks (a retried one) add up."""
    if before is None:
        return more
    return DlqRedrive(
        before.scanned + more.scanned,
        before.redriven + more.redriven,
        more.left,
        before.seconds + more.seconds,
    )


def _peak_queue(ctx: FaultContext, start: float, end: float) -> int | None:
    """The analysis queue's largest raw depth between the deploy and the good build's return."""
    selector = f'rabbitmq_queue_messages{{queue="{topology.QUEUE}"}}'
    try:
        until = min(end + 2, time.time())
        series = Observer(ctx.endpoints.prometheus_url).raw_between(selector, start, until)
    except ObservationError:
        return None
    values = [value for one in series for _t, value in one.samples]
    return int(max(values)) if values else None


def report(
    breakage: str,
    mode: str,
    injection: Injection,
    *,
    detected_at: float | None,
    responder_at: float | None,
    undone_at: float | None,
    good_ready_at: float,
    good_live: bool,
    redrive: DlqRedrive | None,
    queue_peak: int | None,
) -> FaultReport:
    """The deploy's findings (pure): who rolled back when, what the bad build cost."""
    at = injection.at
    details: dict[str, Any] = injection.details
    by = "responder" if responder_at is not None else "harness"
    if mode == "automated" and detected_at is None:
        by = "harness (rollback_by_s: no expected alert fired)"
    elif mode == "responder" and responder_at is None:
        by = "harness (rollback_by_s: the responder had not rolled back)"
    figures: dict[str, float | int | str | None] = {
        "breakage": breakage,
        "good_revision": details.get("good_revision"),
        "bad_revision": details.get("bad_revision"),
        "rolled_back_by": by,
        "rollback_started_seconds": round((responder_at or undone_at or at) - at, 3),
        "rollback_seconds": round(good_ready_at - at, 3),
        "queue_peak_during": queue_peak,
    }
    if detected_at is not None:
        figures["harness_saw_alert_seconds"] = round(detected_at - at, 3)
    checks = [
        Check(
            "the last good revision is live again",
            good_live,
            f"revision {details.get('good_revision')} (bad: {details.get('bad_revision')})",
        ),
        Check(
            "rolled back to the last good revision, ready",
            undone_at is not None or responder_at is not None,
            f"ready {good_ready_at - at:.1f} s after the deploy, by {by}",
        ),
    ]
    if mode == "automated":
        checks.append(
            Check(
                "the bad build was detected before the automated rollback",
                detected_at is not None,
                "an expected alert fired"
                if detected_at is not None
                else "no expected alert fired within rollback_by_s",
            )
        )
    if BREAKAGES[breakage][1] is not None:
        figures["events_dead_lettered"] = redrive.redriven if redrive else None
        figures["dead_letter_redrive_seconds"] = redrive.seconds if redrive else None
        figures["dead_letters_left_alone"] = redrive.left if redrive else None
        checks.append(
            Check(
                "the events the bad build dead-lettered were re-driven",
                redrive is not None and redrive.redriven > 0,
                f"{redrive.redriven} re-driven from {topology.DEAD_LETTER_QUEUE}, "
                f"{redrive.left} others left alone"
                if redrive
                else "not re-driven",
            )
        )
    else:
        figures["events_delayed_peak"] = queue_peak
    return FaultReport(figures=figures, checks=tuple(checks), ready_at=good_ready_at)
