"""Settings that flow explicitly through the harness: defaults < `GENESIS_*` environment < flags.

No module-level globals: the CLI builds one `Settings` and passes it down.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from drills import packaged
from drills.errors import InvalidInput
from drills.sandbox.layout import DEFAULT_PORT_BASE, Ports


def absolute(path: Path) -> Path:
    """The absolute, normalised path *without* following symbolic links, so that a state
    directory given as a link is seen as one (a purge refuses it) rather than as its target."""
    return Path(os.path.abspath(path))


@dataclass(frozen=True)
class Settings:
    """Where the sandbox lives and what it runs with."""

    state_dir: Path
    port_base: int = DEFAULT_PORT_BASE
    # A kustomize tree (GENESIS_MANIFESTS_DIR) whose base/monitoring/ the sandbox's Prometheus and
    # Alertmanager load instead of the packaged files; None: the packaged ones.
    manifests_dir: Path | None = None
    python: str = sys.executable

    @property
    def ports(self) -> Ports:
        return Ports(self.port_base)

    @property
    def monitoring_dir(self) -> Path:
        """Where the sandbox's rule files (`rules/*.yml`) and `alertmanager.yml` come from."""
        if self.manifests_dir is None:
            return packaged.monitoring()
        return self.manifests_dir / "base" / "monitoring"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        state_dir: Path | None = None,
        port_base: int | None = None,
    ) -> Settings:
        """Settings from `GENESIS_*`; a flag given (`state_dir`, `port_base`) wins, and the
        variable it replaces is not even parsed, so a garbage value cannot fail the command."""
        env = os.environ if environ is None else environ
        state = (
            state_dir if state_dir is not None else Path(env.get("GENESIS_STATE_DIR") or ".genesis")
        )
        settings = cls(state_dir=absolute(state))
        if port_base is not None:
            settings = settings.with_port_base(port_base, "--port-base")
        elif "GENESIS_PORT_BASE" in env:
            settings = settings.with_port_base(env["GENESIS_PORT_BASE"], "GENESIS_PORT_BASE")
        if env.get("GENESIS_MANIFESTS_DIR"):
            settings = replace(settings, manifests_dir=Path(env["GENESIS_MANIFESTS_DIR"]).resolve())
        return settings

    def with_port_base(self, raw: str | int, source: str) -> Settings:
        try:
            base = int(raw)
            Ports(base)
        except ValueError as exc:
            raise InvalidInput(f"{source}={raw!r}: {exc}") from None
        return replace(self, port_base=base)
