"""The PromQL of the post-mortem chart's SLIs, in one place.

The runner saves these series into `series.json` for every run (whatever the drill's own probes
are) and the post-mortem reads them back by the exact query text, so the two sides must use the
same strings: a query edited on one side only would turn a chart line into "no data".
"""

from __future__ import annotations

THROUGHPUT_QUERY = 'sum(rate(events_processed_total{result="stored"}[5s]))'
P99_QUERY = (
    "histogram_quantile(0.99, sum by (le) (rate(event_processing_duration_seconds_bucket[10s])))"
)
QUEUE_QUERY = 'sum(rabbitmq_queue_messages{queue="auditflow.analysis"})'
ERROR_RATE_QUERY = (
    '(sum(rate(events_processed_total{result="dead_lettered"}[5s])) or vector(0))'
    " / sum(rate(events_processed_total[5s]))"
)
DASHBOARD_5XX_QUERY = (
    'sum(rate(api_request_duration_seconds_count{service="event-audit-dashboard",'
    'route!~"/metrics|/healthz",status=~"5.."}[5s])) or vector(0)'
)
CHART_QUERIES = (THROUGHPUT_QUERY, P99_QUERY, QUEUE_QUERY, ERROR_RATE_QUERY, DASHBOARD_5XX_QUERY)
