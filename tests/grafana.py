"""Reading the committed Grafana dashboards the way Grafana does, for the tests of both tiers.

The tests read the JSON files (what a user imports), never the generator's objects: every query of
every panel, and of the dashboard's annotations, with the panel it belongs to and whether it is
marked Kubernetes-only (`dashboards.panels.KUBERNETES_ONLY`, the description's first words).
`substitute` stands in for Grafana's template variables the way a Grafana pointed at the
manifests' Prometheus would expand them (its data source states the 15 s scrape interval, so
`$__rate_interval` is at least 4 x 15 s); `metric_names` lists the metrics an expression reads, so
a test can tell a real zero from a misspelt metric behind `or vector(0)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dashboards.panels import KUBERNETES_ONLY
from tests import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "manifests" / "base" / "grafana" / "dashboards"
# What Grafana puts in for its built-in variables, and the infrastructure dashboard's namespace.
VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
    "namespace": "auditflow-platform",
}


@dataclass(frozen=True)
class Target:
    """One PromQL query of a dashboard: a panel's target, or an annotation's."""

    dashboard: str  # the file's stem
    panel_id: int | None  # None: an annotation
    title: str
    ref_id: str
    expr: str
    kubernetes_only: str | None  # the reason, when the panel says it needs a cluster

    @property
    def name(self) -> str:
        where = f"panel {self.panel_id}" if self.panel_id is not None else "annotation"
        return f"{self.dashboard}: {where} {self.title!r} {self.ref_id}"


def dashboards() -> dict[str, dict[str, Any]]:
    """Each committed dashboard's file stem → its JSON."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels folded inside collapsed rows included."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def kubernetes_only(panel: Mapping[str, Any]) -> str | None:
    description = str(panel.get("description") or "")
    if not description.startswith(KUBERNETES_ONLY):
        return None
    return description[len(KUBERNETES_ONLY) :].split(".", maxsplit=1)[0].strip()


def targets() -> list[Target]:
    """Every query of every committed dashboard, in file and panel order."""
    found = []
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            if panel.get("type") == "row":
                continue
            for target in panel.get("targets") or []:
                found.append(
                    Target(
                        name,
                        panel["id"],
                        panel.get("title", ""),
                        target.get("refId", ""),
                        target.get("expr", ""),
                        kubernetes_only(panel),
                    )
                )
        for annotation in (dashboard.get("annotations") or {}).get("list") or []:
            if annotation.get("builtIn"):
                continue
            found.append(
                Target(name, None, annotation["name"], "", annotation.get("expr", ""), None)
            )
    return found


_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute(expr: str, variables: Mapping[str, str] = VARIABLES) -> str:
    """`expr` with `$name` / `${name}` replaced; an unknown variable is an error, not a guess."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"template variable ${name} in {expr!r} has no test value")
        return variables[name]

    return _VARIABLE.sub(value, expr)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, keywords, labels or durations)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        if match.group() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(match.group())
    return names
