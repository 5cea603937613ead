"""Which dashboards exist, where their JSON goes, and the check that the committed files are fresh.

The JSON is generated, never edited: `python -m dashboards` rewrites
`manifests/base/grafana/dashboards/<name>.json` (kustomize turns each into a ConfigMap for the
Grafana these manifests deploy, labelled for kube-prometheus-stack's dashboard sidecar), and
`python -m dashboards --check` — like tests/unit/test_dashboards.py — fails when a committed file
differs from what the code generates now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dashboards import infrastructure, overview, services
from dashboards.board import Board, to_json

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "manifests" / "base" / "grafana" / "dashboards"
# name (the file's stem, and the ConfigMap grafana-dashboard-<name>) → builder
DASHBOARDS: dict[str, Callable[[], Board]] = {
    "overview": overview.build,
    "services": services.build,
    "infrastructure": infrastructure.build,
}


def rendered() -> dict[str, str]:
    """Each dashboard's file name → its JSON text, exactly as it is committed."""
    return {f"{name}.json": to_json(build()) for name, build in DASHBOARDS.items()}


def stale(directory: Path = OUTPUT) -> list[str]:
    """The files of `directory` that differ from the generated ones (missing or extra included)."""
    expected = rendered()
    present = {path.name for path in directory.glob("*.json")}
    return sorted(
        name
        for name in expected.keys() | present
        if name not in present
        or name not in expected
        or (directory / name).read_text(encoding="utf-8") != expected[name]
    )


def write(directory: Path = OUTPUT) -> list[Path]:
    """Write every dashboard into `directory`, remove JSON files no dashboard produces."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = rendered()
    for path in directory.glob("*.json"):
        if path.name not in expected:
            path.unlink()
    written = []
    for name, text in expected.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
