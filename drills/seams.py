"""What the drill lifecycle needs from Prometheus and from the load generator, as protocols.

The runner drives two collaborators besides the target: a metrics reader (`drills.observe.
Observer` on Prometheus) and the generator's admin API (`drills.ledger.GeneratorClient`). Typed
as protocols, a test's fake is checked by mypy like the real thing — no `type: ignore` at the
seam, and a method the runner starts calling fails type-checking in every fake that lacks it.
"""

from __future__ import annotations

from typing import Protocol

from drills.ledger import GeneratorMark
from drills.measure import Sample
from drills.observe import Series
from drills.outcomes import PublishOutcomes


class Observer(Protocol):
    """A Prometheus to read: instant values, ranges, raw samples and the rules' settings."""

    url: str

    def ready(self) -> bool: ...

    def value(self, query: str) -> float | None: ...

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]: ...

    def raw_samples(self, selector: str, window_s: float) -> list[Series]: ...

    def raw_between(self, selector: str, start: float, end: float) -> list[Series]: ...

    def single_range(self, query: str, start: float, end: float, step: float) -> list[Sample]: ...

    def fine_range(self, query: str, start: float, end: float, step: float) -> list[Sample]: ...

    def alert_series(
        self, start: float, end: float, step: float
    ) -> dict[tuple[str, str], list[Sample]]: ...

    def rules_for(self) -> dict[str, float]: ...

    def evaluation_interval(self) -> float: ...


class Generator(Protocol):
    """The audit-event generator's admin API: load control and the ledger's marks."""

    def mark(self) -> GeneratorMark: ...

    def set_rate(self, rate: float) -> None: ...

    def wait_drained(self, timeout: float) -> GeneratorMark: ...

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes: ...

    def close(self) -> None: ...
