"""The console reporter: a live view of a running drill (rich), then a summary of objectives.

It only listens to the runner's events; the runner never prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from drills.outcome import Outcome
from drills.results import DrillResult
from drills.spec import DrillSpec
from drills.unavailability import ApiUnavailability


class ConsoleReporter:
    """A `Listener` that renders phase, elapsed time, SLIs and firing alerts live."""

    def __init__(self, spec: DrillSpec, console: Console | None = None) -> None:
        self.spec = spec
        self.console = console or Console(stderr=True)
        self.phase = "starting"
        self.elapsed = 0.0
        self.slis: Mapping[str, float | None] = {}
        self.firing: list[str] = []
        self.backlog: float | None = None
        self.notes: list[str] = []
        # Redrawn when something changed (about once a second), not 4 times a second regardless:
        # the harness should cost the machine it is measuring as little as possible.
        self._live = Live(self._render(), console=self.console, auto_refresh=False, transient=False)

    def __enter__(self) -> ConsoleReporter:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.update(self._render(), refresh=True)
        self._live.__exit__(exc_type, exc, tb)

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        if "elapsed" in data:
            self.elapsed = float(data["elapsed"])
        if kind == "phase":
            self.phase = str(data["phase"])
            self.notes.append(f"{self.elapsed:6.1f}s  {self.phase}")
        elif kind == "tick":
            self.slis = data.get("slis", self.slis)
            self.firing = list(data.get("firing", self.firing))
            if "backlog" in data:
                self.backlog = data["backlog"]
        elif kind == "injected":
            what = str(data.get("kind") or self.spec.fault.kind)
            if "step" in data:  # a composite drill's step
                what = f"step {data['step']}: {what}"
            self.notes.append(f"{self.elapsed:6.1f}s  fault injected ({what})")
        elif kind == "waiting":
            self.phase = f"preflight: waiting for {data['for']}"
        elif kind == "fault":
            self.notes.append(f"{self.elapsed:6.1f}s  {dict(data)}")
        self._live.update(self._render(), refresh=True)

    def _render(self) -> Group:
        head = Text.assemble(
            (f"{self.spec.name}", "bold"),
            f"  phase: {self.phase}  elapsed: {self.elapsed:5.1f}s",
        )
        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("steady state")
        table.add_column("value", justify="right")
        table.add_column("wanted")
        for probe in self.spec.steady_state:
            value = self.slis.get(probe.name)
            ok = value is not None and probe.tolerance.holds(value)
            shown = "no data" if value is None else f"{value:.3g}"
            table.add_row(
                probe.name, Text(shown, style="green" if ok else "red"), probe.tolerance.describe()
            )
        if self.backlog is not None:
            table.add_row("backlog", f"{self.backlog:.0f}", f"<= {self.spec.backlog_max:g}")
        alerts = Text(
            "firing: " + (", ".join(self.firing) if self.firing else "none"),
            style="yellow" if self.firing else "dim",
        )
        return Group(head, table, alerts, Text("\n".join(self.notes[-8:]), style="dim"))


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:g}s"


def client_line(api: ApiUnavailability) -> Text:
    """One API as the client probe saw it, e.g. `2 windows, 4.2 s unavailable (longest 3.8 s;
    1 outside the fault window), 21 of 310 requests failed`. Text, never markup: a note may
    hold anything."""
    if api.note:
        return Text(api.note, style="dim")
    if not api.requests:
        return Text("not probed (no request was sent)", style="dim")
    if not api.windows:
        return Text(f"available: 0 of {api.requests} requests failed", style="green")
    longest = max(w.seconds for w in api.windows)
    outside = sum(1 for w in api.windows if w.outside_fault)
    still = " still failing at the end;" if api.windows[-1].end is None else ""
    count = len(api.windows)
    return Text(
        f"{count} window{'s' if count != 1 else ''}, {api.unavailable_seconds:.1f} s unavailable "
        f"(longest {longest:.1f} s;{still} {outside} outside the fault window), "
        f"{api.failed} of {api.requests} requests failed ({api.timed_out} timed out)",
        style="red" if outside else "yellow",
    )


def print_summary(result: DrillResult, console: Console | None = None) -> None:
    console = console or Console()
    style = "green" if result.outcome == Outcome.PASSED else "red"
    console.print(
        Text(f"{result.drill}: {result.outcome.upper()}", style=f"bold {style}"),
        f"— {result.reason}",
    )
    figures = Table(show_header=False, box=None)
    figures.add_column()
    figures.add_column()

    def figure(name: str, value: float | None, reason: str, unit: str = "s") -> None:
        missing = f"n/a ({reason})" if reason else "n/a"
        figures.add_row(name, f"{value:g}{unit}" if value is not None else missing)

    figure("time to detect", result.ttd_seconds, result.ttd_reason)
    figure("time to notify", result.ttn_seconds, result.ttn_reason)
    figure("time to recover", result.ttr_seconds, result.ttr_reason)
    if result.ledger is not None:
        ledger = result.ledger
        figures.add_row(
            "ledger",
            f"{ledger.confirmed} confirmed, {ledger.stored} stored, {ledger.dead_lettered} "
            f"dead-lettered, {ledger.lost} lost, {ledger.duplicated} duplicated",
        )
        if ledger.outcomes_source and not ledger.note:
            figures.add_row(
                "",
                f"{ledger.published} published: {ledger.failed} fail, {ledger.info} info "
                f"({ledger.had_info} re-published after an unconfirmed attempt), "
                f"{ledger.recovered} recovered, {ledger.unexpected} unexpected",
            )
    delay = result.delay
    if delay is not None:
        figures.add_row(
            "delay occurred → stored",
            f"p50 {_s(delay.p50_s)}, p99 {_s(delay.p99_s)}, max {_s(delay.max_s)}, "
            f"oldest event {_s(delay.oldest_s)} "
            f"(publish → stored p99 {_s(delay.published_p99_s)})"
            if delay.events
            else f"n/a ({delay.reason})",
        )
    if result.error_budget_consumed is not None:
        figures.add_row("error budget consumed", f"{result.error_budget_consumed:.2%}")
    if result.client_unavailability is not None:
        for api in result.client_unavailability.apis:
            figures.add_row(Text(api.name), client_line(api))
    if result.wall_seconds is not None:
        figures.add_row("wall time", f"{result.wall_seconds:.1f}s")
    console.print(figures)
    if result.objectives:
        table = Table(title="objectives")
        for column in ("objective", "wanted", "measured", ""):
            table.add_column(column)
        for o in result.objectives:
            table.add_row(
                o.name,
                o.target,
                o.measured,
                Text("pass", style="green") if o.passed else Text("MISS", style="red"),
            )
        console.print(table)
    console.print(f"run directory: {result.run_dir}")
