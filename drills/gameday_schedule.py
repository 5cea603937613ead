"""When game days run: a long-running scheduler with cron semantics, and the Kubernetes CronJob.

Why separate from `drills.gameday`: running a plan is one thing; deciding *when* — one instance at
a time, what happens to a slot missed while the scheduler was down or busy, and stopping cleanly
on SIGTERM — is another, and it must be testable without waiting a week. Cron semantics come from
`cronsim` (a maintained, typed parser); the clock and the stop event are injected, so tests step
through months of slots instantly.

Missed runs (`missed_runs:` in the plan) are handled explicitly:

- `skip`: slots that passed while the scheduler was stopped or a game day was still running are
  reported and not run; the next run is the next future slot.
- `run-once`: if any slot was missed, the game day runs once, now, however many were missed.

The last slot that ran is remembered in `<runs dir>/gamedays/<plan>.schedule.json`, so a restart
knows what it missed. The lock is an `flock` on `<plan>.lock` next to it, held for the scheduler's
whole life: a second scheduler of the same plan and runs directory refuses to start.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml
from cronsim import CronSim

from drills.errors import InvalidInput, SchedulerBusy, TargetError
from drills.gameday import GAMEDAYS, Clock, Plan, packaged_plan_name
from drills.runner import Listener

NAMESPACE = "auditflow-platform"
SERVICE_ACCOUNT = "genesis-drill"
DEFAULT_IMAGE = "auditflow/genesis-drill:0.1.0"
POD_TMP = "/tmp"  # noqa: S108 - an emptyDir mounted in the pod, not this machine's /tmp


def next_slot(schedule: str, after: float) -> float:
    """The first slot of the cron `schedule` strictly after `after` (UTC seconds)."""
    start = datetime.fromtimestamp(after, UTC)
    for slot in CronSim(schedule, start):
        if slot.timestamp() > after:
            return slot.timestamp()
    raise TargetError(f"schedule {schedule!r} has no future slot")  # pragma: no cover


def slots_between(schedule: str, after: float, until: float, limit: int = 10_000) -> list[float]:
    """Slots in (after, until], capped at `limit` (a scheduler down for years still counts)."""
    found: list[float] = []
    for slot in CronSim(schedule, datetime.fromtimestamp(after, UTC)):
        ts = slot.timestamp()
        if ts > until or len(found) >= limit:
            break
        if ts > after:
            found.append(ts)
    return found


@contextmanager
def single_instance(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock for the duration; SchedulerBusy if someone has it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise SchedulerBusy(
                f"another scheduler holds {lock_path} (pid {holder}); one instance per plan"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the flock


@dataclass
class Scheduler:
    """Runs `run_once()` (one game day, returning its exit code) at each slot of the plan."""

    plan: Plan
    state_dir: Path
    run_once: Callable[[], int]
    clock: Clock
    stop: threading.Event
    listener: Listener
    busy: bool = False
    fired: int = 0

    @property
    def lock_path(self) -> Path:
        return self.state_dir / f"{self.plan.name}.lock"

    @property
    def state_path(self) -> Path:
        return self.state_dir / f"{self.plan.name}.schedule.json"

    def _last_slot(self) -> float | None:
        try:
            raw: Any = json.loads(self.state_path.read_text())
            return float(raw["last_slot"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember(self, slot: float, code: int) -> None:
        payload = {"last_slot": slot, "last_exit_code": code, "plan": self.plan.name}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload) + "\n")
        tmp.replace(self.state_path)

    def _fire(self, slot: float, why: str) -> None:
        self.listener("gameday-scheduled-run", {"slot": slot, "why": why})
        self.busy = True
        try:
            code = self.run_once()
        finally:
            self.busy = False
            self.fired += 1
        self._remember(slot, code)
        self.listener("gameday-scheduled-done", {"slot": slot, "exit_code": code})

    def _missed(self, since: float | None) -> None:
        """Apply the missed-run policy to slots in (since, now]."""
        now = self.clock.now()
        if since is None:
            return  # first start: nothing can have been missed
        missed = slots_between(self.plan.schedule, since, now)
        if not missed:
            return
        self.listener(
            "gameday-missed",
            {
                "count": len(missed),
                "first": missed[0],
                "last": missed[-1],
                "policy": self.plan.missed_runs,
            },
        )
        if self.plan.missed_runs == "run-once":
            self._fire(missed[-1], f"{len(missed)} missed slot(s), policy run-once")
        else:
            self._remember(missed[-1], -1)  # skipped: remembered so they are not reported again

    def serve(self, max_runs: int | None = None) -> int:
        """Run until `stop` is set (SIGTERM) or `max_runs` scheduled runs happened; returns the
        number of game days run. Raises SchedulerBusy when another instance holds the lock."""
        with single_instance(self.lock_path):
            self.listener("gameday-scheduler", {"plan": self.plan.name, "pid": os.getpid()})
            self._missed(self._last_slot())
            while not self.stop.is_set() and (max_runs is None or self.fired < max_runs):
                last = self._last_slot()
                slot = next_slot(self.plan.schedule, max(self.clock.now(), last or 0.0))
                self.listener("gameday-next", {"slot": slot})
                if self.clock.wait(slot - self.clock.now(), self.stop):
                    break
                self._fire(slot, "scheduled")
                # A game day that overran later slots: those are missed runs too.
                self._missed(slot)
        self.listener("gameday-scheduler-stopped", {"runs": self.fired})
        return self.fired

    def request_stop(self) -> bool:
        """Ask the scheduler to stop (SIGTERM); True when a game day is running right now."""
        self.stop.set()
        return self.busy


def cronjob(
    plan: Plan,
    image: str = DEFAULT_IMAGE,
    namespace: str = NAMESPACE,
    runs_claim: str = "genesis-runs",
) -> dict[str, Any]:
    """The Kubernetes CronJob that runs `plan` in the cluster (`genesis-drill gameday run`).

    The pod runs the harness image, which holds the installed package and no checkout, so the plan
    is named as the package ships it (`gameday run weekly`); a plan file that is not one of the
    packaged plans would not exist in the pod, and is refused here rather than failing there.
    """
    plan_arg = packaged_plan_name(plan)
    if plan_arg is None:
        known = ", ".join(sorted(p.stem for p in GAMEDAYS.glob("*.yaml")))
        raise InvalidInput(
            f"{plan.path}: not a packaged game-day plan, so the harness image does not carry it "
            f"(packaged: {known}); add it to drills/gamedays/ and rebuild the image"
        )
    longest = sum(step.max_duration_s or 600.0 for step in plan.drills)
    deadline = int(longest + plan.cool_down_s * len(plan.drills) + plan.quiet_timeout_s + 600)
    labels = {
        "app.kubernetes.io/name": "genesis-drill",
        "app.kubernetes.io/component": "gameday",
        "genesis-drill/plan": plan.name,
    }
    name = f"genesis-gameday-{plan.name}"[:52]  # CronJob names are limited to 52 characters
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "schedule": plan.schedule,
            "timeZone": "Etc/UTC",
            # One game day at a time, cluster-wide: the CronJob's equivalent of the lock.
            "concurrencyPolicy": "Forbid",
            # Missed-run policy: `skip` gives up on a slot after 5 minutes, `run-once` still
            # starts one late run within the hour (Kubernetes never runs a missed slot twice).
            "startingDeadlineSeconds": 300 if plan.missed_runs == "skip" else 3600,
            "successfulJobsHistoryLimit": 4,
            "failedJobsHistoryLimit": 4,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,  # a game day is never retried behind the team's back
                    "activeDeadlineSeconds": deadline,
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": _pod_spec(plan_arg, image, runs_claim),
                    },
                }
            },
        },
    }


def _pod_spec(plan_arg: str, image: str, runs_claim: str) -> dict[str, Any]:
    return {
        "restartPolicy": "Never",
        "serviceAccountName": SERVICE_ACCOUNT,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "genesis-drill",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": [
                    "gameday",
                    "run",
                    plan_arg,
                    "--target",
                    "kubernetes",
                    "--runs-dir",
                    "/runs",
                ],
                "env": [
                    {"name": "GENESIS_K8S_NAMESPACE", "value": NAMESPACE},
                    {"name": "GENESIS_K8S_ALLOWED_NAMESPACES", "value": NAMESPACE},
                    {"name": "HOME", "value": POD_TMP},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "192Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "runs", "mountPath": "/runs"},
                    {"name": "tmp", "mountPath": POD_TMP},
                ],
            }
        ],
        "volumes": [
            {"name": "runs", "persistentVolumeClaim": {"claimName": runs_claim}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }


def cronjob_yaml(plan: Plan, image: str = DEFAULT_IMAGE) -> str:
    header = (
        f"# Game day {plan.name!r} as a Kubernetes CronJob (rendered by "
        "`genesis-drill gameday cronjob`).\n# Needs the genesis-drill ServiceAccount, Role and "
        "the genesis-runs PVC from manifests/base/gameday/.\n"
    )
    return header + yaml.safe_dump(cronjob(plan, image), sort_keys=False)
