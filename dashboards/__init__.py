"""Grafana dashboards as code: the overview, services and infrastructure dashboards of AuditFlow.

`python -m dashboards` writes `manifests/base/grafana/dashboards/{overview,services,
infrastructure}.json`, which the manifests' Grafana provisions and a kube-prometheus-stack Grafana
imports (manifests/extras/grafana-dashboards); `--check` fails while a committed file is stale.

Why generated, and with grafana-foundation-sdk: hand-kept dashboard JSON is thousands of lines in
which a copied panel keeps its neighbour's id and a query drifts from the alert it explains, and
validating it would need a JSON Schema of the dashboard model, which Grafana does not publish (its
schema is CUE inside Grafana). Grafana's own SDK is generated from that schema for the release it
targets (here 11.6, pinned in the dev extra), fully typed for mypy, Apache-2.0 and maintained by
Grafana Labs; grafanalib, the
older choice, has had no release since January 2024 and trails the schema. The JSON is committed
so kustomize and users read it without Python, and the generator stays a build-time tool: neither
the harness nor AuditFlow imports this package (import-linter), and the wheel does not ship it.

The layout: `panels` (queries, thresholds, the panel kinds, the Kubernetes-only mark), `board`
(ids, rows, the `${datasource}` variable, links and annotations every dashboard shares),
`objectives` (the SLOs, budgets and burn-rate pairs, read from where the platform states them),
a module per dashboard (`overview`, `services`, `infrastructure`) with its rows in modules of
their own (`jobs` and `pipeline` for services; `stores` and `kubernetes` for infrastructure), and
`generate` (which dashboards exist, writing and checking the files).
"""
