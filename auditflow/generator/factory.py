"""Builds plausible audit events: actors from a pool, actions, resources, outcomes, IPs.

A small share of actors fail logins repeatedly so the analysis service's security rule has
something to find during a drill.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime

from auditflow.events import AuditEvent

ACTIONS = ("login", "logout", "read", "write", "delete", "permission_change", "export")
ACTION_WEIGHTS = (15, 10, 40, 20, 5, 5, 5)
RESOURCES = ("invoice", "customer", "report", "user", "role", "document", "payment")
ACTORS = (*(f"user-{n:03d}" for n in range(1, 101)), "svc-batch", "svc-backup")
SUSPICIOUS_ACTORS = ("mallory", "eve")
# Expanded once so picking a weighted action is one `choice` (random.choices is ~10x slower).
_ACTION_TABLE = tuple(a for a, w in zip(ACTIONS, ACTION_WEIGHTS, strict=True) for _ in range(w))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class EventIds:
    """`events.event_id_for(run_id, seq)` for one run, without building a `uuid.UUID` per event.

    uuid5 is SHA-1 of the namespace and the name, with the version and variant bits set; the hash
    of the constant prefix (namespace + "auditflow:<run_id>:") is computed once and copied per
    event, and the 36-character form is formatted from the digest directly. A unit test checks it
    against `event_id_for`.
    """

    def __init__(self, run_id: str) -> None:
        self._prefix = hashlib.sha1(  # uuid5 is defined on SHA-1
            uuid.NAMESPACE_URL.bytes + f"auditflow:{run_id}:".encode(), usedforsecurity=False
        )

    def __call__(self, seq: int) -> str:
        sha = self._prefix.copy()
        sha.update(str(seq).encode())
        raw = bytearray(sha.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class EventFactory:
    """Creates the event for a sequence number of one run (deterministic id, random content)."""

    def __init__(self, run_id: str, rng: random.Random | None = None) -> None:
        self.run_id = run_id
        self._rng = rng or random.Random()  # noqa: S311 - test data, not security
        self._event_id = EventIds(run_id)

    def make(self, seq: int, stamp: str | None = None) -> AuditEvent:
        """The event for `seq`; `stamp` (occurred/published time) defaults to now."""
        rng = self._rng
        pick = rng.random  # indexing by random() is ~4x cheaper than rng.choice
        if pick() < 0.02:
            actor = SUSPICIOUS_ACTORS[int(pick() * len(SUSPICIOUS_ACTORS))]
            action, outcome = "login", "failure"
        else:
            actor = ACTORS[int(pick() * len(ACTORS))]
            action = _ACTION_TABLE[int(pick() * len(_ACTION_TABLE))]
            roll = pick()
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
            event_id=self._event_id(seq),
            run_id=self.run_id,
            seq=seq,
            occurred_at=stamp,
            published_at=stamp,
            actor=actor,
            action=action,
            resource=f"{RESOURCES[int(pick() * len(RESOURCES))]}/{rng.getrandbits(13) + 1}",
            outcome=outcome,
            source_ip=f"10.{rng.getrandbits(8)}.{rng.getrandbits(8)}.{rng.getrandbits(7) + 1}",
            correlation_id=f"{rng.getrandbits(128):032x}",
        )
