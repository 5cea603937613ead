"""Each action item's state in the issue tracker, as `genesis-drill issues sync` last saw it.

`issues sync` writes `tracker.json` into a run directory: fingerprint → the item's issue (number,
URL), its state there (open / closed and GitHub's `state_reason`), the sync's verdict on the finding
(fixed / still-failing / regressed / no-later-run) and the run that verdict rests on, the due date
derived from the item's priority, and whether the item is overdue. The post-mortem's action-item
table and the HTML report read it back through `load`, which is the stable interface:

    load(run_dir) -> dict[str, TrackerState]   # {} when the run was never synced

Why here, in the post-mortem package, with no GitHub import: the renderer (this layer) and the
report (above it) both read the file, and neither may depend on the exporter that talks to GitHub
(import-linter's layers). `drills.export.tracker` re-exports this reader next to its writer.

Reading is lenient like `issues.json`'s: a missing or unreadable file is "never synced", and an
entry of the wrong shape is left out rather than failing a post-mortem or a report — the file is a
cache of the tracker's state, the tracker stays the source of truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

TRACKER_FILE = "tracker.json"
# The sync's verdict on an item's finding, judged over the later runs of the same drill.
VERDICTS = ("fixed", "still-failing", "regressed", "no-later-run")
STATES = ("open", "closed")


@dataclass(frozen=True)
class TrackerState:
    """One action item's issue as the last `issues sync` left it."""

    number: int
    url: str
    state: str  # "open" or "closed"
    state_reason: str | None  # GitHub's: "completed", "not_planned", "reopened" or None
    verdict: str  # one of VERDICTS
    verdict_run: str | None  # the run id the verdict rests on (None: no later run)
    due: date | None  # None: the item's priority is unknown
    overdue: bool  # open and past `due` when synced
    synced_at: datetime

    def describe(self) -> str:
        """The tracking cell's words after the issue link: "open, due 2026-12-10",
        "open, overdue since 2026-12-01", "closed (fixed in run X)", "open, regressed in run X"."""
        words = [self.state]
        if self.state == "closed":
            if self.verdict == "fixed" and self.verdict_run:
                words[0] += f" (fixed in run {self.verdict_run})"
            elif self.state_reason == "not_planned":
                words[0] += " (not planned)"
            return words[0]
        if self.verdict == "fixed" and self.verdict_run:
            words.append(f"fixed in run {self.verdict_run}")
        elif self.verdict == "regressed" and self.verdict_run:
            words.append(f"regressed in run {self.verdict_run}")
        if self.due is not None:
            words.append(f"overdue since {self.due}" if self.overdue else f"due {self.due}")
        return ", ".join(words)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "url": self.url,
            "state": self.state,
            "state_reason": self.state_reason,
            "verdict": self.verdict,
            "verdict_run": self.verdict_run,
            "due": self.due.isoformat() if self.due else None,
            "overdue": self.overdue,
            "synced_at": self.synced_at.astimezone(UTC).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_json(cls, raw: Any) -> TrackerState | None:
        """The entry, or None when it is not of this shape (left out by `load`)."""
        if not isinstance(raw, dict):
            return None
        try:
            number, due, synced = raw["number"], raw.get("due"), raw["synced_at"]
            if isinstance(number, bool) or not isinstance(number, int):
                return None
            state, verdict = str(raw["state"]), str(raw["verdict"])
            if state not in STATES or verdict not in VERDICTS:
                return None
            reason, run = raw.get("state_reason"), raw.get("verdict_run")
            synced_at = datetime.fromisoformat(str(synced))
            return cls(
                number=number,
                url=str(raw["url"]),
                state=state,
                state_reason=None if reason is None else str(reason),
                verdict=verdict,
                verdict_run=None if run is None else str(run),
                due=None if due is None else date.fromisoformat(str(due)),
                overdue=raw.get("overdue") is True,
                synced_at=synced_at if synced_at.tzinfo else synced_at.replace(tzinfo=UTC),
            )
        except (KeyError, TypeError, ValueError):
            return None


def load(run_dir: Path) -> dict[str, TrackerState]:
    """Fingerprint → tracker state of the run's synced action items ({} when never synced)."""
    try:
        data = json.loads((run_dir / TRACKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    states = {str(k): TrackerState.from_json(v) for k, v in data.items()}
    return {k: v for k, v in states.items() if v is not None}


def dumps(states: dict[str, TrackerState]) -> str:
    """`tracker.json`'s text for `states`, sorted by fingerprint so a re-sync diffs cleanly."""
    return json.dumps({k: states[k].to_json() for k in sorted(states)}, indent=2) + "\n"
