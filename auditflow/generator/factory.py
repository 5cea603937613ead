"""Builds plausible audit events: actors from a pool, actions, resources, outcomes, IPs.

A small share of actors fail logins repeatedly so the analysis service's security rule has
something to find during a drill.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from auditflow.events import AuditEvent, event_id_for

ACTIONS = ("login", "logout", "read", "write", "delete", "permission_change", "export")
ACTION_WEIGHTS = (15, 10, 40, 20, 5, 5, 5)
RESOURCES = ("invoice", "customer", "report", "user", "role", "document", "payment")
ACTORS = (*(f"user-{n:03d}" for n in range(1, 101)), "svc-batch", "svc-backup")
SUSPICIOUS_ACTORS = ("mallory", "eve")
# Expanded once so picking a weighted action is one `choice` (random.choices is ~10x slower).
_ACTION_TABLE = tuple(a for a, w in zip(ACTIONS, ACTION_WEIGHTS, strict=True) for _ in range(w))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class EventFactory:
    """Creates the event for a sequence number of one run (deterministic id, random content)."""

    def __init__(self, run_id: str, rng: random.Random | None = None) -> None:
        self.run_id = run_id
        self._rng = rng or random.Random()  # noqa: S311 - test data, not security

    def make(self, seq: int, stamp: str | None = None) -> AuditEvent:
        """The event for `seq`; `stamp` (occurred/published time) defaults to now."""
        rng = self._rng
        if rng.random() < 0.02:
            actor = rng.choice(SUSPICIOUS_ACTORS)
            action, outcome = "login", "failure"
        else:
            actor = rng.choice(ACTORS)
            action = rng.choice(_ACTION_TABLE)
            roll = rng.random()
            outcome = (
                "failure"
                if roll < 0.05
                else "denied"
                if roll < 0.08
                else "error"
                if roll < 0.09
                else "success"
            )
        stamp = stamp or now_iso()
        return AuditEvent(
            event_id=event_id_for(self.run_id, seq),
            run_id=self.run_id,
            seq=seq,
            occurred_at=stamp,
            published_at=stamp,
            actor=actor,
            action=action,
            resource=f"{rng.choice(RESOURCES)}/{rng.getrandbits(13) + 1}",
            outcome=outcome,
            source_ip=f"10.{rng.getrandbits(8)}.{rng.getrandbits(8)}.{rng.getrandbits(7) + 1}",
            correlation_id=f"{rng.getrandbits(128):032x}",
        )
