"""AuditFlow: the audit-event platform that genesis-drill runs its drills against.

Four small services (generator, analysis, dashboard, notification) sharing the helpers in this
package. AuditFlow never imports the harness (`drills`); an import-linter contract enforces it.
"""
