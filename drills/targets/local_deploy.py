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

The order is the crash-safety: the fault journals the good revision first, then the new revision
is written, then made live, then rendered and applied. Killed anywhere in between, an undo to the
journaled revision puts every file back and applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from drills.sandbox import configs
from drills.sandbox.lifecycle import Sandbox
from drills.sandbox.revisions import RevisionStore, StoredRevision
from drills.targets.deployer import Revision


def store_of(sandbox: Sandbox, component: str) -> RevisionStore:
    """The revision history of a component's program, under the sandbox's state directory."""
    return RevisionStore(sandbox.layout.root / "revisions" / sandbox.program(component).name)


class LocalDeployer:
    """Revisions of the sandbox's programs, applied through its supervisord."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _apply(self, component: str, revision: StoredRevision) -> None:
        """Render supervisord.conf with `revision` for the component; reload what changed."""
        name = self.sandbox.program(component).name
        programs = [
            replace(p, env={**p.env, **revision.env}) if p.name == name else p
            for p in self.sandbox.programs
        ]
        layout, ports = self.sandbox.layout, self.sandbox.settings.ports
        text = configs.supervisord_conf(layout, ports, self.sandbox.secrets, programs)
        configs.write_private(layout.supervisord_conf, text)
        self.sandbox.supervisor.reload_config()

    def live(self, component: str) -> Revision:
        stored = store_of(self.sandbox, component).live()
        return Revision(stored.number, dict(stored.env))

    def deploy(self, component: str, env: Mapping[str, str], cause: str) -> Revision:
        store = store_of(self.sandbox, component)
        new = store.write_next(env, cause)
        store.activate(new.number)
        self._apply(component, new)
        return Revision(new.number, dict(new.env))

    def undo(self, component: str, to: int) -> Revision:
        good = store_of(self.sandbox, component).activate(to)
        self._apply(component, good)
        return Revision(good.number, dict(good.env))

    def is_live(self, component: str, revision: int) -> bool:
        store = store_of(self.sandbox, component)
        return store.live().env == store.read(revision).env
