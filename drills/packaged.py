"""The data files the package ships, found with `importlib.resources`, never through a checkout.

Why a module of its own: the drill catalog, the game-day plans, the post-mortem templates and the
Prometheus rules / Alertmanager configuration of the sandbox used to be found through
`Path(__file__).parents[1]`, i.e. the source tree, so an installed wheel (a virtualenv elsewhere,
the harness image) had none of them. They now live inside the `drills` package, listed in
pyproject's package-data, and every runtime lookup goes through here — as do the game-day
report's templates (`drills/gameday/templates/`).

Why real paths (`Path`, not `Traversable`): these files go to code that needs a file system path —
the bounded, non-blocking YAML reader that names `file:line` (`drills.yamlio`), Jinja2's
`FileSystemLoader` with its per-directory overrides, and Prometheus's `rule_files`, read by a
process that outlives the command which wrote its configuration. pip installs a wheel as plain
files, so `importlib.resources.files("drills")` is a directory on disk; `as_file` would instead
extract a zipped package into a temporary copy deleted when the command returns, which Prometheus
cannot live with. A package that is not on the file system is therefore refused with one line.

The package is the one source of the monitoring files. kustomize cannot read outside its own tree,
so `manifests/base/monitoring/` holds copies of them, kept byte-identical by
tests/k8s/test_manifests.py (`python -m tests.k8s.test_manifests` rewrites the copies).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from drills.errors import MissingDependency

CATALOG = "catalog"  # the drills: <name>.yaml
GAMEDAYS = "gamedays"  # the game-day plans: <name>.yaml
POSTMORTEM_TEMPLATES = "postmortem/templates"  # Jinja2, *.md.j2
GAMEDAY_TEMPLATES = "gameday/templates"  # Jinja2, *.md.j2: the game-day report and post-mortem
# What the sandbox's Prometheus and Alertmanager load: rules/*.yml and alertmanager.yml, laid out
# like manifests/base/monitoring/ so a kustomize tree can stand in for it (GENESIS_MANIFESTS_DIR).
MONITORING = "monitoring"


def path(relative: str) -> Path:
    """The packaged file or directory `relative` (slash-separated, under `drills/`)."""
    resource = resources.files("drills").joinpath(*relative.split("/"))
    if not isinstance(resource, Path):
        raise MissingDependency(
            f"genesis-drill's packaged {relative} is not on the file system ({resource}); "
            "install the package with pip (not zipped)"
        )
    return resource


def catalog() -> Path:
    return path(CATALOG)


def gamedays() -> Path:
    return path(GAMEDAYS)


def postmortem_templates() -> Path:
    return path(POSTMORTEM_TEMPLATES)


def gameday_templates() -> Path:
    return path(GAMEDAY_TEMPLATES)


def monitoring() -> Path:
    return path(MONITORING)
