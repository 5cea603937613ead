"""notification-service: receives alerts from the analysis service and Alertmanager webhooks,
de-duplicates them by `(source, fingerprint)` and stores them in SQLite."""

SERVICE = "notification-service"
DEFAULT_PORT = 8083
