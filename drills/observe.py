"""The only code that talks to Prometheus (through `prometheus-api-client`).

Everything a drill measures comes from here as plain samples `(unix seconds, value)` with the
PromQL that produced them, so the result file can show its sources and the measurement maths in
`drills.measure` stays pure. Client and HTTP errors become `ObservationError` (exit 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import yaml
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from drills.errors import ObservationError
from drills.measure import Sample

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Series:
    """One range-query result series."""

    query: str
    labels: dict[str, str]
    samples: list[Sample] = field(default_factory=list)


class Observer:
    """Reads one Prometheus server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = PrometheusConnect(url=url, disable_ssl=True)

    def _call(
        self, what: str, func: Any, *args: Any, params: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        try:
            return func(*args, params={"timeout": f"{TIMEOUT_S:g}s", **(params or {})}, **kwargs)
        except (PrometheusApiClientException, requests.RequestException, ValueError) as exc:
            raise ObservationError(
                f"Prometheus at {self.url} could not answer {what}: {type(exc).__name__}: "
                f"{str(exc)[:200]}"
            ) from exc

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=TIMEOUT_S).status_code == 200
        except requests.RequestException:
            return False

    def value(self, query: str) -> float | None:
        """An instant query expected to give one number; None when it returns nothing."""
        result = self._call(query, self._client.custom_query, query=query)
        if not result:
            return None
        raw = result[0].get("value", [None, None])[1]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(value) else value

    def by_label(self, query: str, label: str) -> dict[str, float]:
        """An instant query's vector as `label` value → number (NaN and unlabelled left out)."""
        result = self._call(query, self._client.custom_query, query=query)
        found: dict[str, float] = {}
        for item in result or []:
            key = dict(item.get("metric", {})).get(label)
            try:
                value = float(item.get("value", [None, None])[1])
            except (TypeError, ValueError):
                continue
            if key is not None and not math.isnan(value):
                found[str(key)] = value
        return found

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return self._range(query, start, end, step)

    def _range(
        self, query: str, start: float, end: float, step: float, exact: bool = False
    ) -> list[Series]:
        """`exact`: the grid anchored at `start` to the millisecond. prometheus-api-client
        rounds start and end to whole seconds, which would collapse a sub-second window; its
        params override them. The step is then seconds as a float ("0.05s" is no valid
        Prometheus duration; "0.05" is)."""
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}"} if exact else None
        result = self._call(
            query,
            self._client.custom_query_range,
            query=query,
            start_time=datetime.fromtimestamp(start, UTC),
            end_time=datetime.fromtimestamp(end, UTC),
            step=f"{step:g}" if exact else f"{step:g}s",
            params=params,
        )
        series = []
        for item in result or []:
            samples = [(float(t), float(v)) for t, v in item.get("values", [])]
            series.append(Series(query, dict(item.get("metric", {})), samples))
        return series

    def raw_samples(self, selector: str, window_s: float) -> list[Series]:
        """The raw samples of `selector` over the last `window_s`, at their scrape timestamps:
        a range selector in an instant query (`metric[120s]`), not a `query_range` grid, so a
        counter reset between two grid points is not skipped."""
        query = f"{selector}[{max(1, math.ceil(window_s))}s]"
        result = self._call(query, self._client.custom_query, query=query)
        series = []
        for item in result or []:
            samples = [(float(t), float(v)) for t, v in item.get("values", [])]
            series.append(Series(query, dict(item.get("metric", {})), samples))
        return series

    def raw_between(self, selector: str, start: float, end: float) -> list[Series]:
        """The raw samples of `selector` with timestamps in [start, end], at the times they were
        written (a scrape's, or a rule evaluation's for ALERTS and recording rules).

        An instant query at `end` of the range selector `selector[<end - start>s]`: unlike a
        `query_range` grid (start rounded to a whole second, one point per step, each the latest
        sample at or before it), it does not delay a sample to the next grid point — a rule group
        evaluating at a fixed phase would otherwise make every detection late by that phase. The
        window is rounded up to whole seconds, so samples before `start` are filtered out here.
        """
        query = f"{selector}[{max(1, math.ceil(end - start))}s]"
        result = self._call(
            query, self._client.custom_query, query=query, params={"time": f"{end:.3f}"}
        )
        series = []
        for item in result or []:
            samples = [(float(t), float(v)) for t, v in item.get("values", [])]
            kept = [(t, v) for t, v in samples if start <= t <= end]
            series.append(Series(query, dict(item.get("metric", {})), kept))
        return series

    def single_range(self, query: str, start: float, end: float, step: float) -> list[Sample]:
        """A range query expected to give at most one series (e.g. a `sum(...)`)."""
        series = self.range(query, start, end, step)
        return series[0].samples if series else []

    def fine_range(self, query: str, start: float, end: float, step: float) -> list[Sample]:
        """`single_range` on a grid anchored at `start` exactly, for the sub-second windows of
        refining a recovery between two one-second points."""
        series = self._range(query, start, end, step, exact=True)
        return series[0].samples if series else []

    def alert_series(
        self, start: float, end: float, step: float
    ) -> dict[tuple[str, str], list[Sample]]:
        """Every ALERTS series in [start, end], keyed by (alertname, alertstate), as the rule
        evaluations' own raw samples (`raw_between`): TTD, the first pending and the timeline
        take these times as they are (DESIGN.md §4). `step` is unused, kept for callers."""
        merged: dict[tuple[str, str], list[Sample]] = {}
        for item in self.raw_between("ALERTS", start, end):
            key = (item.labels.get("alertname", "?"), item.labels.get("alertstate", "?"))
            merged.setdefault(key, []).extend(item.samples)
        return {key: sorted(samples) for key, samples in merged.items()}

    def rules_for(self) -> dict[str, float]:
        """`for:` duration (seconds) of every alerting rule Prometheus has loaded."""
        try:
            response = requests.get(f"{self.url}/api/v1/rules", timeout=TIMEOUT_S)
            response.raise_for_status()
            groups = response.json()["data"]["groups"]
        except (requests.RequestException, KeyError, ValueError) as exc:
            raise ObservationError(f"Prometheus at {self.url}: cannot list rules: {exc}") from exc
        durations: dict[str, float] = {}
        for group in groups:
            for rule in group.get("rules", []):
                if rule.get("type") == "alerting":
                    durations[rule["name"]] = float(rule.get("duration", 0))
        return durations

    def evaluation_interval(self) -> float:
        try:
            response = requests.get(f"{self.url}/api/v1/status/config", timeout=TIMEOUT_S)
            response.raise_for_status()
            text = response.json()["data"]["yaml"]
        except (requests.RequestException, KeyError, ValueError) as exc:
            raise ObservationError(f"Prometheus at {self.url}: cannot read config: {exc}") from exc
        interval = str(yaml.safe_load(text).get("global", {}).get("evaluation_interval", "1m"))
        return _duration_seconds(interval)


def _duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0.0, ""
    index = 0
    while index < len(text):
        ch = text[index]
        if ch.isdigit() or ch == ".":
            number += ch
            index += 1
            continue
        unit = text[index : index + 2] if text[index : index + 2] == "ms" else ch
        total += float(number or 0) * units.get(unit, 1)
        number = ""
        index += len(unit)
    return total
