"""`Deployer` on the local sandbox: a revisioned program definition, rolled out by supervisord.

A supervised program's environment is fixed when supervisord reads its configuration, so a new
revision is rolled out the way `supervisorctl update` does it: render supervisord.conf again from
the program table with the live revision's environment on top of the program's own, then
XML-RPC `reloadConfig` and, for the changed group only, `stopProcessGroup` →
`removeProcessGroup` → `addProcessGroup` (`Supervisor.reload_config`). Why not keep the
environment in a wrapper's file instead: supervisord's configuration stays the single place that
says what runs, every other program is untouched (its section renders identically, so
`reloadConfig` reports no change), and an undo that finds the good definition already rendered
restarts nothing — the idempotence rollback and `recover` need.

Two rollouts of one program never interleave (the store's lock: a responder's undo and the
harness's own may come together). The order is the crash-safety: the fault journals the good
revision first, then the new revision is written, then made live, then rendered and applied.
Killed anywhere in between, an undo to the journaled revision puts every file back and applies
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from drills.sandbox import configs
from drills.sandbox.lifecycle import Sandbox
from drills.sandbox.revisions import RevisionStore, StoredRevision
from drills.targets.deployer import Revision

Apply = Callable[[str, StoredRevision], None]


def store_of(sandbox: Sandbox, component: str) -> RevisionStore:
    """The revision history of a component's program, under the sandbox's state directory."""
    return RevisionStore(sandbox.layout.root / "revisions" / sandbox.program(component).name)


def supervisord_apply(sandbox: Sandbox) -> Apply:
    """Render supervisord.conf with a revision for one component; reload what changed."""

    def apply(component: str, revision: StoredRevision) -> None:
        name = sandbox.program(component).name
        programs = [
            replace(p, env={**p.env, **revision.env}) if p.name == name else p
            for p in sandbox.programs
        ]
        layout, ports = sandbox.layout, sandbox.settings.ports
        text = configs.supervisord_conf(layout, ports, sandbox.secrets, programs)
        configs.write_private(layout.supervisord_conf, text)
        sandbox.supervisor.reload_config()

    return apply


class LocalDeployer:
    """Revisions of the sandbox's programs (`stores`), rolled out by `apply` (supervisord's)."""

    def __init__(self, stores: Callable[[str], RevisionStore], apply: Apply) -> None:
        self.stores = stores
        self.apply = apply

    @classmethod
    def of(cls, sandbox: Sandbox) -> LocalDeployer:
        return cls(lambda component: store_of(sandbox, component), supervisord_apply(sandbox))

    def live(self, component: str) -> Revision:
        stored = self.stores(component).live()
        return Revision(stored.number, dict(stored.env))

    def deploy(self, component: str, env: Mapping[str, str], cause: str) -> Revision:
        store = self.stores(component)
        with store.locked():
            new = store.write_next(env, cause)
            store.activate(new.number)
            self.apply(component, new)
        return Revision(new.number, dict(new.env))

    def undo(self, component: str, to: int) -> Revision:
        store = self.stores(component)
        with store.locked():
            good = store.activate(to)
            self.apply(component, good)
        return Revision(good.number, dict(good.env))

    def is_live(self, component: str, revision: int) -> bool:
        store = self.stores(component)
        return store.live().env == store.read(revision).env
