"""Click parameter types shared by the commands.

`click.FloatRange` lets NaN through (every comparison with NaN is false), so `--max-duration nan`
used to switch the abort limit off; every float flag uses `FiniteFloatRange` instead.
"""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloatRange(click.FloatRange):
    """A float within [min, max] that is neither NaN nor infinite."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)
