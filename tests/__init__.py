"""genesis-drill's test suite.

`REPO_ROOT` is the checkout the tests run from: tests may read the source tree (manifests/, the
Dockerfile, tests/golden/); the harness itself never does (its data files: `drills.packaged`).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
