"""pvc-wipe-restore: lose PostgreSQL's volume, restore the latest verified backup, re-drive the gap.

Why this drill exists: a backup nobody has restored is a hope, not a backup. The drill proves three
things with numbers: that the backup restores to exactly what it held (row count and an md5 over
the sorted event ids, computed inside the dump's own snapshot), how long the platform cannot write
(RTO: wipe → first event stored after the restore), and how much committed data the backup misses
(RPO: events committed before the wipe and absent after the restore) — and that the broker's
archive stream closes that gap so that, in the end, nothing is lost.

Steps (DESIGN §4, §5):

* inject — take and verify a `pg_dump -Fc` backup into `<run_dir>/backup/`, let load run
  `events_after_backup_s` so that events are committed after it, then fence writers for a moment
  (`LOCK TABLE ... IN SHARE MODE`) to capture exactly which events were committed after the
  backup, halt PostgreSQL abruptly while the fence holds (nothing can commit after the capture),
  and delete the data directory's contents. `t_inject` is when the wipe completed.
* hold — keep PostgreSQL down for `DOWNTIME_FLOOR_S` (the time a volume takes to be re-provisioned;
  it also lets `PostgresDown`, `for: 5s`, fire; on the local sandbox the empty cluster is
  initialised meanwhile, the server stays down), start it, restore the dump while the application
  role cannot log in (so the analysis service cannot create an empty table under the restore):
  `pg_restore` into a scratch database, compared with the backup's fingerprint and only then
  swapped in for `auditflow` (drills.backup), let the application in, measure the first
  write, and re-drive the missing events from the `auditflow.archive` stream.
* rollback — idempotent, driven by the journal so it also works after a harness crash: a missing
  cluster is initialised, a stopped server started, an unfinished restore redone from the backup
  file (which is never deleted), and the application role let in again.

The steps a target must offer are the `PgVolume` capability of the targets layer
(`drills.targets.pg_volume`); the fault never learns which backend it drives — the supervisord
sandbox's data directory, or Kubernetes's StatefulSet and PVC (scale to 0, delete and recreate the
PVC, scale up).

Where each part lives (one concept per module): `fault` — the lifecycle above; `records` — what
the fault remembers (findings, run-directory files, journal records); `sql` — the statements it
runs; `restore` — the verified restore; `redrive_gap` — closing the RPO gap; `rollback` — undoing
it from the journal; `verify` — the figures and checks.
"""

from drills.faults.pvc_wipe_restore.fault import DOWNTIME_FLOOR_S, PvcWipeRestore, volume_for
from drills.faults.pvc_wipe_restore.records import (
    J_BACKUP,
    J_REDRIVE,
    J_RESTORE_DONE,
    J_RESTORE_INTENT,
    J_WIPE_DONE,
    J_WIPE_INTENT,
)
from drills.faults.pvc_wipe_restore.rollback import RollbackPlan, plan_rollback

__all__ = [
    "DOWNTIME_FLOOR_S",
    "J_BACKUP",
    "J_REDRIVE",
    "J_RESTORE_DONE",
    "J_RESTORE_INTENT",
    "J_WIPE_DONE",
    "J_WIPE_INTENT",
    "PvcWipeRestore",
    "RollbackPlan",
    "plan_rollback",
    "volume_for",
]
