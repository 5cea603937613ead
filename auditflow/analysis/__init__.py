"""audit-log-analysis: validates, stores and counts audit events; dead-letters malformed ones.

Each message is acknowledged only after its event is committed to PostgreSQL (or its dead-letter
copy is confirmed by the broker), so a crash at any point means redelivery, never loss; storage is
idempotent on `event_id`, so redelivery never means a duplicate row.
"""

SERVICE = "audit-log-analysis"
DEFAULT_PORT = 8081
