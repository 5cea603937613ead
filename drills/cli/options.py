"""Options several commands share, declared once so their names, defaults and help agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def target_option(help_text: str = "Where AuditFlow runs.") -> Callable[[Any], Any]:
    """`--target local|kubernetes` (into `target_kind`), local by default."""
    return click.option(
        "--target",
        "target_kind",
        type=click.Choice(["local", "kubernetes"]),
        default="local",
        show_default=True,
        help=help_text,
    )


SLO_CONFIG = click.option(
    "--slo-config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GENESIS_SLO_CONFIG",
    default=None,
    help="SLO configuration (objectives, windows) the error budget is computed against "
    "[env GENESIS_SLO_CONFIG; default: the packaged drills/slo.yaml].",
)
