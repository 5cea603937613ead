"""The local sandbox: the whole AuditFlow platform on one machine, supervised by supervisord."""
