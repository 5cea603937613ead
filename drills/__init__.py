"""genesis-drill: the chaos-engineering and incident-drill harness for AuditFlow."""

__version__ = "0.1.0"
