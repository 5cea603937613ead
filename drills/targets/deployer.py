"""The deploy capability: roll a component's definition forward to a new revision and back.

Why a capability of its own, not `Target.stop`/`start`: a bad deploy is undone by restoring a
*definition* — the last good revision of the component's configuration — not by restarting a
process, and after a harness crash `recover` must know which revision was good. So revisions
are numbered, the fault journals the good one *before* it deploys, and `undo` restores exactly
that one (idempotent: undoing to the revision that is live changes nothing).

Local: a revision history of the supervised program's environment under the sandbox's state
directory (`drills.sandbox.revisions`), applied through supervisord. Kubernetes: the
Deployment's pod template, one ReplicaSet per revision, `rollout undo` done client-side by copying
the good ReplicaSet's template back (`drills.targets.kubernetes.rollout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from drills.errors import TargetError


@dataclass(frozen=True)
class Revision:
    """One revision of a component's definition: its number and the deploy-time settings it
    sets on top of the platform's own definition (never secrets: those stay where they are)."""

    number: int
    env: Mapping[str, str] = field(default_factory=dict)


class Deployer(Protocol):
    """Rolls a component's definition forward and back; every method raises only TargetError."""

    def live(self, component: str) -> Revision:
        """The revision the component's definition is at now (reads only)."""
        ...

    def deploy(self, component: str, env: Mapping[str, str], cause: str) -> Revision:
        """Roll out a new revision that sets `env` on top of the live one; returns it once the
        rollout has started (the new build's processes started or being created), not ready."""
        ...

    def undo(self, component: str, to: int) -> Revision:
        """Restore revision `to`'s definition and roll it out; the revision now live (on
        Kubernetes a new number, as `kubectl rollout undo` makes). Idempotent."""
        ...

    def is_live(self, component: str, revision: int) -> bool:
        """Whether the live definition is revision `revision`'s (also after someone else's undo)."""
        ...


@runtime_checkable
class HasDeployer(Protocol):
    """A target whose components' definitions are revisioned."""

    def deployer(self) -> Deployer: ...


def deployer_of(target: object) -> Deployer:
    """The target's `Deployer`; a TargetError naming the target when it has none."""
    if isinstance(target, HasDeployer):
        return target.deployer()
    name = getattr(target, "name", "?")
    raise TargetError(
        f"target {name!r} ({type(target).__name__}) keeps no revisions of its components' "
        "definitions, so a bad deploy could not be rolled back: bad-deploy needs the local "
        "sandbox or Kubernetes"
    )
