"""A dashboard under construction: rows and panels in reading order, ids and grid places given here.

Why not the SDK's builder alone: it leaves panel ids unset (every panel would be id 0, and Grafana
keys panel links, repeats and "view panel" URLs on the id) and places panels only by width. Here
each panel gets the next id (rows included, as Grafana counts them), and the dashboard gets what all
three share: the `${datasource}` variable (any Prometheus data source, so a kube-prometheus-stack
Grafana can import the JSON as it is), links to its siblings by tag, the alert annotations, UTC
time and a refresh that suits a 15 s scrape.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import DATASOURCE, DATASOURCE_VARIABLE

TAG = "genesis-drill"  # every dashboard carries it; the links between them select by it
FIRING_ALERTS = 'ALERTS{alertstate="firing", alertname!="Watchdog"}'  # the annotation
RED_ANNOTATION = "rgba(245, 54, 54, 1)"


class Board:
    """One dashboard: `row()` starts a section, `add()` places a panel `width` of 24 columns."""

    def __init__(self, uid: str, title: str, description: str, tags: list[str]) -> None:
        self._next_id = 1
        self._builder = (
            dash.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags([TAG, *tags])
            .editable()
            .timezone("utc")
            .time("now-1h", "now")
            .refresh("30s")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .with_variable(
                dash.DatasourceVariable(DATASOURCE_VARIABLE)
                .label("Prometheus")
                .type("prometheus")
                .description("The Prometheus that scrapes AuditFlow and loads its rules")
            )
            .link(
                dash.DashboardLink("genesis-drill dashboards")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .keep_time(True)
                .include_vars(True)
            )
            .annotation(
                dash.AnnotationQuery()
                .name("Annotations & Alerts")
                .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
                .built_in(1)
                .enable(True)
                .hide(True)
                .icon_color("rgba(0, 211, 255, 1)")
                .type("dashboard")
            )
            .annotation(
                dash.AnnotationQuery()
                .name("Alerts firing")
                .datasource(DATASOURCE)
                .enable(True)
                .icon_color(RED_ANNOTATION)
                .expr(FIRING_ALERTS)
            )
        )

    def _take(self) -> int:
        taken, self._next_id = self._next_id, self._next_id + 1
        return taken

    def variable(self, variable: cogbuilder.Builder[model.VariableModel]) -> Board:
        self._builder = self._builder.with_variable(variable)
        return self

    def row(self, title: str) -> Board:
        self._builder = self._builder.with_row(dash.Row(title).id(self._take()))
        return self

    def add(self, panel: cogbuilder.Builder[model.Panel], width: int, height: int = 8) -> Board:
        # The SDK's builders share these setters on every panel kind, but not as one base type.
        placed: Any = panel
        self._builder = self._builder.with_panel(placed.id(self._take()).span(width).height(height))
        return self

    def build(self) -> model.Dashboard:
        return self._builder.build()


def to_json(board: Board) -> str:
    """The dashboard JSON, stable byte for byte: sorted keys, two-space indent, final newline."""
    text = json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False)
    return text + "\n"
