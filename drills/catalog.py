"""Finding a drill: a path to a drill file, or the name of a drill in a catalog directory (the
packaged catalog unless the caller names another)."""

from __future__ import annotations

from pathlib import Path

from drills.errors import InvalidInput


def load_spec_or_name(value: str, catalog: Path) -> Path:
    """A drill argument is a path to a YAML file or the name of a catalog drill."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise InvalidInput(f"{value}: no such drill file")
        return path
    candidate = catalog / f"{value}.yaml"
    if not candidate.exists():
        known = ", ".join(sorted(p.stem for p in catalog.glob("*.yaml")))
        raise InvalidInput(f"unknown drill {value!r} (catalog: {known})")
    return candidate
