"""Faults: one module per kind, all behind `drills.faults.base.Fault`, listed in `REGISTRY`."""
