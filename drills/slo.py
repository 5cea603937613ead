"""The SLO configuration: objectives and windows, in one user-changeable file.

Why a file and not constants: the error budget is only meaningful against the SLO the team
actually runs (a 1-hour window on a young sandbox, 30 days in production), and the runner and
the game days must judge against the same one. The packaged default (`drills/slo.yaml`, read
with importlib.resources so an installed wheel works) is replaced by a file given with
`--slo-config` or GENESIS_SLO_CONFIG. Every value is validated at load with `file:line: field`
errors: no NaN or infinity, an objective strictly between 0 and 1, positive windows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from drills.errors import SpecError
from drills.yamlnode import Node, fields_of

ENV_VAR = "GENESIS_SLO_CONFIG"
MAX_BYTES = 64 * 1024
MAX_WINDOW_S = 400 * 86400.0  # longer than any SLO window in use (a year and a bit)


@dataclass(frozen=True)
class LatencySlo:
    """`objective` of events are stored within `threshold_s`, judged over `window_s`."""

    objective: float
    threshold_s: float
    window_s: float
    description: str = ""

    def describe(self) -> str:
        return (
            f"{self.objective:.4g} of events under {self.threshold_s:g} s over {self.window_s:g} s"
        )


@dataclass(frozen=True)
class SloConfig:
    """Everything the budget maths needs, and where it came from."""

    event_latency: LatencySlo
    budget_floor: float | None  # None: the preflight does not gate on the budget (`null` in file)
    source: str


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> SloConfig:
    """The SLO configuration: `path` (a flag) beats GENESIS_SLO_CONFIG beats the packaged file."""
    env = os.environ if environ is None else environ
    chosen = path if path is not None else (Path(env[ENV_VAR]) if env.get(ENV_VAR) else None)
    if chosen is None:
        text = resources.files("drills").joinpath("slo.yaml").read_text(encoding="utf-8")
        return parse(text, Path("drills/slo.yaml"))
    if not chosen.is_file():
        raise SpecError(chosen, None, "", "SLO configuration: not a regular file")
    if chosen.stat().st_size > MAX_BYTES:
        raise SpecError(chosen, None, "", f"SLO configuration: larger than {MAX_BYTES} bytes")
    try:
        text = chosen.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(chosen, None, "", f"cannot read: {exc}") from exc
    return parse(text, chosen)


def parse(text: str, path: Path) -> SloConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(path, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        raise SpecError(path, None, "", "the file is empty")
    top = fields_of(Node(path, root, ""), {"event_latency"}, {"preflight"})
    latency = fields_of(
        top["event_latency"], {"objective", "threshold_s", "window_s"}, {"description"}
    )
    objective = _finite(latency["objective"])
    if not 0 < objective < 1:
        raise latency["objective"].fail(f"must be between 0 and 1 (exclusive), got {objective:g}")
    threshold = _finite(latency["threshold_s"])
    if threshold <= 0:
        raise latency["threshold_s"].fail(f"must be > 0, got {threshold:g}")
    window = _finite(latency["window_s"])
    if not 0 < window <= MAX_WINDOW_S:
        raise latency["window_s"].fail(f"must be > 0 and <= {MAX_WINDOW_S:g}, got {window:g}")
    preflight = fields_of(top["preflight"], set(), {"budget_floor"}) if "preflight" in top else {}
    floor: float | None = 0.0
    if "budget_floor" in preflight and preflight["budget_floor"].scalar() is None:
        floor = None  # explicitly switched off: a sandbox abused on purpose (the test suite)
    elif "budget_floor" in preflight:
        floor = _finite(preflight["budget_floor"])
        if not 0 <= floor < 1:
            raise preflight["budget_floor"].fail(
                f"is a share of the budget (0..1) or null, got {floor:g}"
            )
    description = latency["description"].text() if "description" in latency else ""
    return SloConfig(LatencySlo(objective, threshold, window, description), floor, str(path))


def _finite(node: Node) -> float:
    value = node.number()
    if not math.isfinite(value):
        raise node.fail(f"must be a finite number, got {value!r}")
    return value
