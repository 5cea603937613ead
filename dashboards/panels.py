"""Panel building blocks shared by the three dashboards: queries, thresholds, the panel kinds.

Every panel and every query names the data source through the `${datasource}` template variable
(never a fixed uid), so the same JSON works on the Grafana these manifests deploy and on a
kube-prometheus-stack Grafana, whose Prometheus data source has another name. A panel whose
metrics only a Kubernetes cluster has (kube-state-metrics, the kubelet's cAdvisor) says so in the
first words of its description, `Kubernetes only: <what it needs>`: Grafana users read it in the
panel's tooltip, and the integration tier reads it to know which panels the sandbox cannot feed
(it skips them, naming the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
KUBERNETES_ONLY = "Kubernetes only:"  # a description's first words (see the module docstring)
RATE = "$__rate_interval"  # Grafana's rate window: at least 4 scrape intervals of the source

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel: the expression and its legend."""

    expr: str
    legend: str = ""


def q(expr: str, legend: str = "") -> Query:
    return Query(" ".join(expr.split()), legend)


def _targets(
    queries: Sequence[Query], instant: bool, table_format: bool
) -> list[cogbuilder.Builder[variants.Dataquery]]:
    targets: list[cogbuilder.Builder[variants.Dataquery]] = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(query.expr)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
        if query.legend:
            target = target.legend_format(query.legend)
        target = target.instant() if instant else target.range()
        if table_format:
            target = target.format(PromQueryFormat.TABLE)
        targets.append(target)
    return targets


def zero_as(label: str) -> str:
    """What `or` adds to a per-`label` rate whose counter has no series yet (a labelled counter
    appears only once incremented): 0, with `label` "none" for the legend."""
    return f'label_replace(vector(0), "{label}", "none", "", "")'


def thresholds(base: str, *steps: tuple[float, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: `base` below the first step, then each step's colour from its value."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base)]
            + [model.Threshold(value=value, color=color) for value, color in steps]
        )
    )


def at_least(objective: float) -> dash.ThresholdsConfig:
    """Red below the objective, green from it (availability, share of fast events)."""
    return thresholds(RED, (objective, GREEN))


def at_most(limit: float) -> dash.ThresholdsConfig:
    """Green below the limit, red from it (latency, error ratios, burn rates)."""
    return thresholds(GREEN, (limit, RED))


UP = at_least(1)  # up, connected, reachable: 1 or nothing


def _describe(description: str, kubernetes_only: str | None) -> str:
    if kubernetes_only is None:
        return description
    return f"{KUBERNETES_ONLY} {kubernetes_only}. {description}".strip()


def graph(
    title: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    description: str = "",
    limits: dash.ThresholdsConfig | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    kubernetes_only: str | None = None,
    stack: bool = False,
) -> timeseries.Panel:
    """A time series panel; with `limits`, the thresholds are drawn as dashed lines."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(_describe(description, kubernetes_only))
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=False, table_format=False))
        .unit(unit)
        .line_width(1)
        .fill_opacity(10)
        .span_nulls(False)
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_model.LegendDisplayMode.LIST)
            .placement(common_model.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common.VizTooltipOptions()
            .mode(common_model.TooltipDisplayMode.MULTI)
            .sort(common_model.SortOrder.DESCENDING)
        )
    )
    if limits is not None:
        panel = panel.thresholds(limits).thresholds_style(
            common.GraphThresholdsStyleConfig().mode(common_model.GraphThresholdsStyleMode.DASHED)
        )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if stack:
        panel = panel.stacking(
            common.StackingConfig().mode(common_model.StackingMode.NORMAL)
        ).fill_opacity(40)
    return panel


def single(
    title: str,
    query: Query,
    *,
    unit: str = "short",
    description: str = "",
    limits: dash.ThresholdsConfig | None = None,
    decimals: int | None = None,
    kubernetes_only: str | None = None,
) -> stat.Panel:
    """A stat panel of one instant query's last value, coloured by `limits`."""
    panel = (
        stat.Panel()
        .title(title)
        .description(_describe(description, kubernetes_only))
        .datasource(DATASOURCE)
        .targets(_targets([query], instant=True, table_format=False))
        .unit(unit)
        .color_mode(common_model.BigValueColorMode.BACKGROUND)
        .graph_mode(common_model.BigValueGraphMode.NONE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(limits or thresholds(BLUE))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def listing(
    title: str,
    query: Query,
    *,
    value: str = "value",
    description: str = "",
    kubernetes_only: str | None = None,
) -> table.Panel:
    """A table of one instant query's series, one row per label set, its value named `value`."""
    return (
        table.Panel()
        .title(title)
        .description(_describe(description, kubernetes_only))
        .datasource(DATASOURCE)
        .targets(_targets([query], instant=True, table_format=True))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}, "renameByName": {"Value": value}},
            )
        )
    )
