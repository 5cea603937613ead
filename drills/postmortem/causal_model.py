"""The causal chain's values: a link, the scope one fault's rules read, a chain's segments.

Shared by the per-kind rules (`causal_kinds`) and the chain builder (`causal`), which both read
a run only through `drills.results.DrillResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from drills.results import DrillResult

Value = float | int | bool | str | None


@dataclass(frozen=True)
class Link:
    """One link of the chain: what happened, its figure, when, and where the figure came from."""

    text: str
    figure: str
    at: datetime | None
    source: str  # the result.json field (or the query behind it) the figure was read from


@dataclass(frozen=True)
class Scope:
    """The part of a run one fault's rules read: the drill's only fault, or one composite step.
    A composite step's figures are keyed `<step>.<figure>` in the result; here they are bare and
    `prefix` says where they live."""

    kind: str
    component: str
    params: Mapping[str, Value]
    figures: Mapping[str, Value]
    injected_at: datetime | None
    ready_at: datetime | None
    ready_offset_s: float | None  # the `component ready` phase's offset (single-fault drills)
    step: str  # "" for a single-fault drill
    prefix: str  # "fault.figures." or "fault.figures.<step>."

    def number(self, name: str) -> float | None:
        value = self.figures.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def text(self, name: str) -> str | None:
        value = self.figures.get(name)
        return None if value is None or value == "" else str(value)

    def source(self, name: str) -> str:
        return f"result.json: {self.prefix}{name}"


@dataclass(frozen=True)
class Segment:
    """The links of one fault (a composite drill has one per step) and the links left out."""

    title: str
    links: tuple[Link, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Chain:
    segments: tuple[Segment, ...]

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for segment in self.segments for link in segment.links)


# A rule: one link kind, over one fault's scope and the whole result.
Rule = Callable[[Scope, DrillResult], Link | None]


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def count(value: float) -> str:
    return f"{value:,.0f}"


def percent(share: float) -> str:
    """A share as a percentage: whole numbers from 10 %, one decimal below, and "under 0.1 %"
    for a share that would round to nothing (6 of 30,000 is not "0.0 %")."""
    value = share * 100
    if value >= 10:
        return f"{value:.0f} %"
    return f"{value:.1f} %" if value >= 0.05 or value == 0 else "under 0.1 %"
