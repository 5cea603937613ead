"""Links from a run's documents to the Grafana overview dashboard, for the run's own window.

Why a module of its own: the post-mortem and the HTML report both link the same dashboard and
must build the same URL, from nothing but the run's window (`RunContext.window`, Unix seconds from
`series.json`) and GENESIS_GRAFANA_URL — the Grafana a reader reaches (the manifests' Grafana
through a port-forward, or a kube-prometheus-stack one). Unset, there is no link and the documents
stay exactly as before. The dashboard's uid is fixed (`genesis-overview`, dashboards/overview.py),
so the link survives re-imports; `from`/`to` are Grafana's epoch milliseconds, widened outwards to
whole milliseconds so the window is never cut.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Mapping

from drills.errors import InvalidInput

GRAFANA_URL_ENV = "GENESIS_GRAFANA_URL"
OVERVIEW_UID = "genesis-overview"


def grafana_overview_url(
    window: tuple[float, float] | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """`<GENESIS_GRAFANA_URL>/d/genesis-overview?from=<ms>&to=<ms>` for `window`, or None when the
    variable is unset or empty, or the run recorded no window. A base URL that is not http(s),
    or has no host, is refused (exit 2) rather than linked."""
    env = os.environ if environ is None else environ
    base = env.get(GRAFANA_URL_ENV, "").strip()
    if not base or window is None:
        return None
    start, end = window
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        return None
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"{GRAFANA_URL_ENV}={base!r}: not an http(s) URL with a host "
            "(e.g. http://127.0.0.1:3000, or https://grafana.example.org/grafana)"
        )
    path = urllib.parse.quote(parts.path.rstrip("/"), safe="/%") + f"/d/{OVERVIEW_UID}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in ("from", "to")]
    query += [("from", str(math.floor(start * 1000))), ("to", str(math.ceil(end * 1000)))]
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, path, urllib.parse.urlencode(query), "")
    )
