"""JSON log lines with the service name, event id and correlation id.

One JSON object per line on stderr, so supervisord's log files and `kubectl logs` read the same,
and the harness can follow a correlation id from the generator to the notification service. The ids
travel in context variables: code sets them once per event or request and every log line below
picks them up without being passed them.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; extra fields come from `extra={"fields": {...}}`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        correlation_id = correlation_id_var.get()
        if correlation_id:
            line["correlation_id"] = correlation_id
        event_id = event_id_var.get()
        if event_id:
            line["event_id"] = event_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup(service: str, level: str = "INFO") -> logging.Logger:
    """Route all logging to stderr as JSON lines and return the service's logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Client libraries are chatty at INFO about every reconnect attempt; keep their warnings.
    for noisy in ("aio_pika", "aiormq", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(service)
