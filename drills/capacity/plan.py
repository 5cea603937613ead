"""The load steps of `genesis-drill capacity`: which rates, how long each, when a step holds.

Why geometric steps by default (x1.5 from 500 events/s): capacity is found to within one step,
so the relative error of the answer is what matters — a constant factor gives the same relative
resolution at 500 and at 8,000 events/s, where a fixed increment is too coarse at the bottom or
too slow at the top. Eight 60 s steps (500 … 8,543 events/s) plus their settling finish in about
ten minutes; the climb stops at the first step that does not hold, so it is usually shorter.

A step *holds* when, over the whole step: the broker confirmed at least 97 % of the offered rate
(the generator kept up), the generator's buffer did not build up (at most two seconds' worth),
events were stored, and the share stored within the latency SLO's threshold met the SLO's
objective (from `drills/slo.yaml`: 99 % within 0.5 s) — the same test `bench/pipeline.py` applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drills.errors import InvalidInput

DEFAULT_START = 500.0
DEFAULT_FACTOR = 1.5
DEFAULT_STEP_S = 60.0
DEFAULT_STEPS = 8
MAX_RATE = 1_000_000.0  # the generator's own bound
MIN_STEP_S = 5.0  # shorter steps measure mostly the settling, not the rate
MAX_STEP_S = 3600.0
MAX_STEPS = 50
CONFIRMED_SHARE = 0.97
BUFFER_SECONDS = 2.0
MIN_BUFFER = 1000


@dataclass(frozen=True)
class Plan:
    """The rates to step through and how long each step is held."""

    start: float = DEFAULT_START
    factor: float | None = DEFAULT_FACTOR
    increment: float | None = None
    step_s: float = DEFAULT_STEP_S
    steps: int = DEFAULT_STEPS
    settle_s: float = 5.0  # the previous step's tail drains before a step is measured

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and 0 < self.start <= MAX_RATE):
            raise InvalidInput(f"--start {self.start:g}: a rate in (0, {MAX_RATE:,.0f}] events/s")
        if (self.factor is None) == (self.increment is None):
            raise InvalidInput("give one of --factor and --increment, not both")
        if self.factor is not None and not (math.isfinite(self.factor) and 1 < self.factor <= 10):
            raise InvalidInput(f"--factor {self.factor:g}: a number in (1, 10]")
        if self.increment is not None and not (
            math.isfinite(self.increment) and 0 < self.increment <= MAX_RATE
        ):
            raise InvalidInput(f"--increment {self.increment:g}: a rate in (0, {MAX_RATE:,.0f}]")
        if not (math.isfinite(self.step_s) and MIN_STEP_S <= self.step_s <= MAX_STEP_S):
            raise InvalidInput(
                f"--step-seconds {self.step_s:g}: between {MIN_STEP_S:g} and {MAX_STEP_S:g}"
            )
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidInput(f"--steps {self.steps}: between 1 and {MAX_STEPS}")
        if not (math.isfinite(self.settle_s) and 0 <= self.settle_s <= self.step_s):
            raise InvalidInput(f"settle {self.settle_s:g} s: between 0 and the step's length")

    def rates(self) -> list[float]:
        """The offered rates, lowest first, rounded to whole events/s, capped at MAX_RATE."""
        found: list[float] = []
        rate = self.start
        for _ in range(self.steps):
            value = float(min(round(rate), MAX_RATE))
            if found and value <= found[-1]:
                break
            found.append(value)
            rate = rate * self.factor if self.factor is not None else rate + (self.increment or 0)
        return found

    @property
    def longest_s(self) -> float:
        """The climb's duration if every step holds (the climb stops at the first that fails)."""
        return len(self.rates()) * (self.step_s + self.settle_s)


@dataclass(frozen=True)
class StepVerdict:
    held: bool
    why: str  # what failed, in words ("" when the step held)


def judge_step(
    rate: float,
    confirmed_per_s: float,
    peak_buffer: int,
    stored: float,
    share_within: float | None,
    objective: float,
    threshold_s: float,
) -> StepVerdict:
    """Whether one step held the rate with the latency SLO met (the rules of the docstring)."""
    problems = []
    if confirmed_per_s < CONFIRMED_SHARE * rate:
        problems.append(
            f"the broker confirmed {confirmed_per_s:,.0f}/s of {rate:,.0f}/s offered "
            f"(< {CONFIRMED_SHARE:.0%})"
        )
    buffer_limit = max(BUFFER_SECONDS * rate, MIN_BUFFER)
    if peak_buffer > buffer_limit:
        problems.append(f"the generator's buffer grew to {peak_buffer:,} (> {buffer_limit:,.0f})")
    if stored <= 0:
        problems.append("no event was stored during the step")
    elif share_within is None:
        problems.append("the latency histogram gave no figure for the step")
    elif share_within < objective:
        problems.append(f"{share_within:.2%} stored within {threshold_s:g} s (SLO {objective:.2%})")
    return StepVerdict(not problems, "; ".join(problems))
