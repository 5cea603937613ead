"""The tracker's side of an action item, as values: an issue, its comments, and the sync's marks.

GitHub answers with JSON; `drills.export.github` hands it here to become frozen values once, so the
sync's judging (`drills.export.verdict`) is pure logic over dataclasses and never indexes a dict.

Two hidden HTML comments tie GitHub's text to the harness:

- the fingerprint mark in every issue body the exporter writes (`<!-- genesis-drill-fingerprint:
  gd-… -->`), so an issue is found by the finding it tracks, whatever its title became;
- the sync mark at the end of every comment `issues sync` posts (`<!-- genesis-drill-sync: fixed
  run=RUN at=ISO -->`): the verdict, the run it rests on and when that run started. The newest
  mark is the sync's last word on the issue, which is what makes a re-run idempotent — the
  tracker's comments, not a local file, are the record of what was already said, so two machines
  syncing the same repository do not repeat each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FINGERPRINT_MARK = "genesis-drill-fingerprint"
SYNC_MARK = "genesis-drill-sync"
FINGERPRINT_RE = re.compile(rf"<!-- {FINGERPRINT_MARK}: (gd-[0-9a-f]{{16}}) -->")
_SYNC_RE = re.compile(rf"<!-- {SYNC_MARK}: (fixed|regressed) run=(\S+) at=(\S+) -->")
# What the exporter's body says (drills.export.github.payload): used when no local run knows the
# finding any more (its run directories were pruned), so the issue alone still names them.
_ORIGIN_RE = re.compile(r"in run `([^`\s]+)`")
_RULE_RE = re.compile(r"· rule `([^`\s]+)`")
_DONE_RE = re.compile(r"^\*\*Done when:\*\* (.+)$", re.MULTILINE)


def parse_time(value: Any) -> datetime | None:
    """GitHub's `2026-12-04T19:56:21Z` as an aware UTC time (None for null or garbage)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TrackedIssue:
    """A genesis-drill issue: one whose body carries a fingerprint mark."""

    number: int
    url: str
    title: str
    state: str  # "open" or "closed"
    state_reason: str | None
    created_at: datetime
    closed_at: datetime | None
    labels: tuple[str, ...]
    body: str
    fingerprint: str

    @classmethod
    def from_json(cls, raw: Any) -> TrackedIssue | None:
        """The issue, or None when it is not one of ours (no fingerprint, a pull request)."""
        if not isinstance(raw, dict) or "pull_request" in raw:
            return None
        body = str(raw.get("body") or "")
        match = FINGERPRINT_RE.search(body)
        created = parse_time(raw.get("created_at"))
        number = raw.get("number")
        if not match or created is None or not isinstance(number, int):
            return None
        reason = raw.get("state_reason")
        labels = raw.get("labels")
        if not isinstance(labels, list):
            labels = []
        return cls(
            number=number,
            url=str(raw.get("html_url") or ""),
            title=str(raw.get("title") or ""),
            state="closed" if raw.get("state") == "closed" else "open",
            state_reason=None if reason is None else str(reason),
            created_at=created,
            closed_at=parse_time(raw.get("closed_at")),
            labels=tuple(
                str(label.get("name") if isinstance(label, dict) else label) for label in labels
            ),
            body=body,
            fingerprint=match.group(1),
        )

    def label(self, prefix: str) -> str | None:
        """The value of the first `prefix:value` label (`drill:`, `priority:`), or None."""
        for label in self.labels:
            if label.startswith(f"{prefix}:"):
                return label[len(prefix) + 1 :]
        return None

    @property
    def origin_run(self) -> str | None:
        """The run the exporter filed the issue from (its body says so)."""
        match = _ORIGIN_RE.search(self.body)
        return match.group(1) if match else None

    @property
    def rule(self) -> str | None:
        match = _RULE_RE.search(self.body)
        return match.group(1) if match else None

    @property
    def done_when(self) -> str | None:
        match = _DONE_RE.search(self.body)
        return match.group(1).strip() if match else None


@dataclass(frozen=True)
class SyncMark:
    """What an earlier sync said on the issue: a verdict, the run it rests on, its start."""

    verdict: str  # "fixed" or "regressed"
    run_id: str
    at: datetime

    def text(self) -> str:
        return f"<!-- {SYNC_MARK}: {self.verdict} run={self.run_id} at={self.at.isoformat()} -->"


def last_mark(comment_bodies: list[str]) -> SyncMark | None:
    """The newest sync mark among an issue's comments (oldest first, as GitHub lists them)."""
    newest = None
    for body in comment_bodies:
        for verdict, run_id, at in _SYNC_RE.findall(body):
            when = parse_time(at)
            if when is not None:
                newest = SyncMark(verdict, run_id, when)
    return newest
