"""event-audit-dashboard: a server-rendered page and JSON API over recent audit events, the Redis
counters and the SLIs recorded by Prometheus."""

SERVICE = "event-audit-dashboard"
DEFAULT_PORT = 8082
