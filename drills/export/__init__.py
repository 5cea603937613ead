"""Exporters: where a run's findings leave the harness (GitHub Issues today).

Above the post-mortem package in the flow: exporters take derived action items and file them
elsewhere; nothing below them knows they exist.
"""
