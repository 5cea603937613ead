"""The causal chain's links per fault kind: what the fault itself did, from its own figures.

Each fault kind has onset links (the fault taking effect, what it blocked) and return links (the
component back, what came back with it), read from the figures the fault reported
(`result.fault.figures`, written by `drills.faults.<kind>`). `causal` puts the shared links
(breach, detection) between the two and the drill-wide tail after them. A figure the fault did
not report leaves its link out; a number that cannot be right (a restart recorded before the
kill, from the supervisor's whole-second start time) is named as such, never shown as a delay.
"""

from __future__ import annotations

from drills.postmortem import causal_bad_deploy
from drills.postmortem.causal_model import Link, Rule, Scope, count, seconds
from drills.results import DrillResult

LOCKED_TABLE = "audit_events"  # drills.faults.table_lock.TABLE, the table the analysis writes


# --- service-stop ------------------------------------------------------------------------


def service_stopped(scope: Scope, result: DrillResult) -> Link | None:
    held = scope.number("held_down_seconds")
    if held is None:
        return None
    mode = scope.params.get("mode")
    how = f" (mode {mode})" if mode else ""
    return Link(
        f"{scope.component} stopped{how}, started again after the hold",
        f"held {seconds(held)}",
        scope.injected_at,
        scope.source("held_down_seconds"),
    )


def service_back(scope: Scope, result: DrillResult) -> Link | None:
    boot = scope.number("ready_seconds_after_start")
    if boot is None:
        return None
    after = (
        f", T+{scope.ready_offset_s:.1f} s after the stop"
        if scope.ready_offset_s is not None
        else ""
    )
    return Link(
        f"{scope.component} started again and ready{after}",
        f"start-up {seconds(boot)}",
        scope.ready_at,
        scope.source("ready_seconds_after_start"),
    )


# --- process-kill ------------------------------------------------------------------------


def process_killed(scope: Scope, result: DrillResult) -> Link | None:
    pid = scope.text("restart_pid")
    if pid is None:
        return None
    signal = scope.params.get("signal")
    restart = scope.number("restart_seconds")
    if restart is None:
        return None
    killed = f"{scope.component} killed" + (f" with SIG{signal}" if signal else "")
    if restart < 0:
        # supervisord reports start times in whole seconds: "before the kill" is its rounding.
        return Link(
            f"{killed}; its supervisor restarted it as pid {pid}, no restart delay measured "
            f"(restart_seconds is {restart:.3f}: the supervisor's start times are whole seconds)",
            f"pid {pid}",
            scope.injected_at,
            scope.source("restart_seconds"),
        )
    return Link(
        f"{killed}; its supervisor restarted it as pid {pid}",
        f"restart after {restart:.3f} s",
        scope.injected_at,
        scope.source("restart_seconds"),
    )


def process_ready(scope: Scope, result: DrillResult) -> Link | None:
    ready = scope.number("ready_seconds")
    if ready is None:
        return None
    return Link(
        f"{scope.component} ready again (start-up included)",
        f"ready {seconds(ready)} after the kill",
        scope.ready_at,
        scope.source("ready_seconds"),
    )


# --- process-freeze ----------------------------------------------------------------------


def process_frozen(scope: Scope, result: DrillResult) -> Link | None:
    held = scope.number("held_frozen_seconds")
    if held is None:
        return None
    pid, looks = scope.text("frozen_pid"), scope.text("stopped_looks")
    seen = f", seen stopped in {looks} looks" if looks else ""
    return Link(
        f"{scope.component} frozen with SIGSTOP" + (f" (pid {pid}{seen})" if pid else ""),
        f"frozen {seconds(held)}",
        scope.injected_at,
        scope.source("held_frozen_seconds"),
    )


def process_thawed(scope: Scope, result: DrillResult) -> Link | None:
    ready = scope.number("ready_seconds_after_thaw")
    if ready is None:
        return None
    pid = scope.text("pid_after")
    return Link(
        f"{scope.component} continued with SIGCONT" + (f", still pid {pid}" if pid else ""),
        f"ready {seconds(ready)} after the thaw",
        scope.ready_at,
        scope.source("ready_seconds_after_thaw"),
    )


# --- table-lock --------------------------------------------------------------------------


def table_locked(scope: Scope, result: DrillResult) -> Link | None:
    held = scope.number("held_seconds")
    if held is None:
        return None
    mode = str(scope.params.get("mode") or "")
    reads = " (a migration's lock: reads wait too)" if mode == "access-exclusive" else ""
    how = f" in {mode} mode" if mode else ""
    return Link(
        f"{LOCKED_TABLE} locked{how}{reads}",
        f"held {seconds(held)}",
        scope.injected_at,
        scope.source("held_seconds"),
    )


def writers_blocked(scope: Scope, result: DrillResult) -> Link | None:
    blocked = scope.number("blocked_backends")
    if blocked is None:
        return None
    writers = scope.number("blocked_writer_sessions")
    who = f"{count(writers)} writer session(s) among them" if writers is not None else ""
    return Link(
        "backends waited on the lock" + (f" ({who})" if who else ""),
        f"{count(blocked)} blocked",
        None,
        scope.source("blocked_backends"),
    )


def stored_during_hold(scope: Scope, result: DrillResult) -> Link | None:
    stored = scope.number("stored_during_hold")
    if stored is None:
        return None
    return Link(
        "events stored while the lock was held",
        f"{count(stored)} stored",
        None,
        scope.source("stored_during_hold"),
    )


# --- malformed-events --------------------------------------------------------------------


def malformed_published(scope: Scope, result: DrillResult) -> Link | None:
    sent = scope.number("malformed_published")
    if sent is None:
        return None
    kinds = scope.text("kinds")
    return Link(
        "malformed messages published to the analysis queue" + (f" ({kinds})" if kinds else ""),
        f"{count(sent)} sent",
        scope.injected_at,
        scope.source("malformed_published"),
    )


def malformed_dead_lettered(scope: Scope, result: DrillResult) -> Link | None:
    found = scope.number("malformed_dead_lettered")
    if found is None:
        return None
    missing, wrong = scope.number("malformed_missing"), scope.number("wrong_reason")
    extra = [
        f"{count(n)} {what}"
        for n, what in ((missing, "missing"), (wrong, "with the wrong reason"))
        if n is not None
    ]
    return Link(
        "the analysis service dead-lettered them" + (f" ({', '.join(extra)})" if extra else ""),
        f"{count(found)} dead-lettered",
        None,
        scope.source("malformed_dead_lettered"),
    )


def consumer_restarts(scope: Scope, result: DrillResult) -> Link | None:
    restarts = scope.number("consumer_restarts")
    if restarts is None:
        return None
    return Link(
        "the consumer kept running through the bad input" if not restarts else "consumer crashed",
        f"{count(restarts)} restarts",
        None,
        scope.source("consumer_restarts"),
    )


# --- pvc-wipe-restore --------------------------------------------------------------------


def volume_wiped(scope: Scope, result: DrillResult) -> Link | None:
    age = scope.number("backup_age_at_wipe_s")
    if age is None:
        return None
    rows = scope.number("backup_rows")
    of = f" ({count(rows)} rows)" if rows is not None else ""
    return Link(
        f"{scope.component}'s data volume wiped; the newest backup{of} was taken before it",
        f"backup {seconds(age)} old",
        scope.injected_at,
        scope.source("backup_age_at_wipe_s"),
    )


def restored(scope: Scope, result: DrillResult) -> Link | None:
    took = scope.number("restore_seconds")
    if took is None:
        return None
    return Link(
        "restored from the backup",
        f"restore {seconds(took)}",
        None,
        scope.source("restore_seconds"),
    )


def first_write(scope: Scope, result: DrillResult) -> Link | None:
    rto = scope.number("rto_seconds")
    if rto is None:
        return None
    return Link(
        "first event stored after the restore",
        f"RTO {seconds(rto)}",
        None,
        scope.source("rto_seconds"),
    )


def redrive(scope: Scope, result: DrillResult) -> Link | None:
    before, after = scope.number("rpo_before_redrive"), scope.number("rpo_after_redrive")
    if before is None or after is None:
        return None
    redriven = scope.number("redriven")
    again = f", {count(redriven)} re-driven from the archive stream" if redriven is not None else ""
    return Link(
        f"{count(before)} confirmed events missing after the restore{again}",
        f"RPO {count(after)} events after re-drive",
        None,
        scope.source("rpo_after_redrive"),
    )


# --- network -----------------------------------------------------------------------------


def route_disturbed(scope: Scope, result: DrillResult) -> Link | None:
    held = scope.number("held_seconds")
    if held is None:
        return None
    route, mode = scope.params.get("route"), scope.params.get("mode")
    ended = scope.text("ended")
    how = f", ended {ended}" if ended else ""
    return Link(
        f"{mode} on route {route} (the fault proxy){how}",
        f"held {seconds(held)}",
        scope.injected_at,
        scope.source("held_seconds"),
    )


def bytes_dropped(scope: Scope, result: DrillResult) -> Link | None:
    dropped = scope.number("dropped_bytes")
    if not dropped:
        return None
    return Link(
        "bytes dropped by the blackhole, no connection closed",
        f"{count(dropped)} bytes",
        None,
        scope.source("dropped_bytes"),
    )


Rules = tuple[tuple[str, Rule], ...]

# fault kind → (onset links, return links), each named for the chain's "left out" list.
KINDS: dict[str, tuple[Rules, Rules]] = {
    "bad-deploy": (
        (("bad revision deployed", causal_bad_deploy.deployed),),
        (
            ("rolled back to the good revision", causal_bad_deploy.rolled_back),
            ("what the bad build dead-lettered or held", causal_bad_deploy.what_it_cost),
        ),
    ),
    "service-stop": (
        (("component stopped", service_stopped),),
        (("component ready again and its start-up", service_back),),
    ),
    "process-kill": (
        (("process killed and restarted", process_killed),),
        (("component ready again", process_ready),),
    ),
    "process-freeze": (
        (("process frozen", process_frozen),),
        (("process continued", process_thawed),),
    ),
    "table-lock": (
        (
            ("table locked", table_locked),
            ("backends blocked on the lock", writers_blocked),
            ("events stored during the hold", stored_during_hold),
        ),
        (),
    ),
    "malformed-events": (
        (("malformed messages published", malformed_published),),
        (
            ("malformed messages dead-lettered", malformed_dead_lettered),
            ("consumer restarts", consumer_restarts),
        ),
    ),
    "network": (
        (
            ("route disturbed", route_disturbed),
            ("bytes dropped", bytes_dropped),
        ),
        (),
    ),
    "pvc-wipe-restore": (
        (("volume wiped", volume_wiped),),
        (
            ("restore", restored),
            ("first write after the restore (RTO)", first_write),
            ("events missing after the restore (RPO) and re-drive", redrive),
        ),
    ),
}
