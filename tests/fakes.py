"""The fakes the runner's unit tests and the plugin's inner pytest sessions share: a clock that
only advances when waited on, a Prometheus with scripted answers, a load generator that records
the rates it was set to. Each satisfies the protocol it stands in for (drills.clock.Clock,
drills.seams.Observer / Generator), so mypy checks them like the real thing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drills.ledger import GeneratorMark
from drills.measure import Sample
from drills.observe import Series
from drills.outcomes import PublishOutcomes
from drills.settle import PROMETHEUS_NOW

Answer = float | None | Callable[[str], float | None]


class FakeClock:
    """Advances only when slept or waited on (and never blocks); starts at the real time so
    times the code under test takes from elsewhere (a fault's injection) stay comparable."""

    def __init__(self, start: float | None = None) -> None:
        self.t = time.time() if start is None else start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        if stop.is_set():
            return True
        self.sleep(seconds)
        time.sleep(0.001)  # let a real thread (a fault's hold) make progress
        return stop.is_set()


class FakeObserver:
    """A Prometheus whose every probe is healthy unless told otherwise.

    `answers` maps a query substring to a value or a callable of the query, checked first;
    `raw` is what a raw-samples read returns; `clock` is Prometheus's own clock."""

    url = "http://127.0.0.1:9"

    def __init__(
        self,
        healthy: bool = True,
        answers: dict[str, Answer] | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.healthy = healthy
        self.answers = answers or {}
        self.raw: list[Series] = []
        self.clock = clock

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def ready(self) -> bool:
        return True

    def raw_samples(self, selector: str, window_s: float) -> list[Series]:
        return self.raw

    def value(self, query: str) -> float | None:
        for part, answer in self.answers.items():
            if part in query:
                return answer(query) if callable(answer) else answer
        if "_bucket{le=" in query and "/" in query:
            return 1.0  # every event within the latency SLO: the budget is untouched
        if not self.healthy:
            return 0.0
        if query == PROMETHEUS_NOW:
            return self._now()
        if query.startswith("max(timestamp("):
            return float(int(self._now()))  # scraped every second
        return 1000.0 if "rate(" in query else 1.0

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return []

    def raw_between(self, selector: str, start: float, end: float) -> list[Series]:
        return []

    def single_range(self, query: str, start: float, end: float, step: float) -> list[Sample]:
        return []

    def fine_range(self, query: str, start: float, end: float, step: float) -> list[Sample]:
        return []

    def alert_series(
        self, start: float, end: float, step: float
    ) -> dict[tuple[str, str], list[Sample]]:
        return {}

    def rules_for(self) -> dict[str, float]:
        return {}

    def evaluation_interval(self) -> float:
        return 1.0


@dataclass
class FakeGenerator:
    """Records every rate it is set to; its marks say 100 events, all confirmed."""

    rates: list[float] = field(default_factory=list)

    def mark(self) -> GeneratorMark:
        return GeneratorMark("run", 100, 100, 0, self.rates[-1] if self.rates else 20.0)

    def set_rate(self, rate: float) -> None:
        self.rates.append(rate)

    def wait_drained(self, timeout: float) -> GeneratorMark:
        return self.mark()

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes:
        """Every event of the range confirmed at the first attempt."""
        return PublishOutcomes(run_id, first, last, 1, max(0, last - first + 1), 0, 0, (), (), ())

    def close(self) -> None:
        return None
