"""Targets: where AuditFlow runs (the local sandbox, Kubernetes), behind one protocol."""
