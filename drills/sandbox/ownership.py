"""Which directories the sandbox may delete: only the ones it created itself.

`platform down --purge` once removed whatever `--state-dir` named — a directory of someone's
files, or (with `--state-dir ""`) the current directory. Now the sandbox writes a marker file when
it creates its state directory (a format version and the absolute path it was made for), and a
purge first proves, without following any symbolic link, that the directory is that one: a real
directory, not a link; the marker present, well-formed and naming this very path; nothing at the
top level but what the sandbox puts there. Anything else is refused with `InvalidInput`, naming
the path and the reason, and nothing is removed. `shutil.rmtree` never follows links inside the
tree, so a link placed inside the state directory removes the link, not its target.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from drills.errors import InvalidInput

MARKER_NAME = ".genesis-sandbox"
MARKER_FORMAT = 1
# Everything the sandbox itself puts at the top of its state directory (layout.py, lifecycle.py);
# erl_crash.dump is what the broker's VM leaves in its working directory when it dies.
EXPECTED_ENTRIES = frozenset(
    {
        MARKER_NAME,
        "conf",
        "data",
        "logs",
        "secrets.json",
        "pids.json",
        "supervisord.pid",
        "postgres.location",
        "erl_crash.dump",
        "revisions",  # the programs' revision history (revisions.py, bad-deploy)
    }
)


def claim(root: Path) -> None:
    """Create `root` for a sandbox and mark it as the sandbox's own.

    Only a directory that did not exist, or existed empty (a test's fresh temporary directory),
    is claimed; an existing non-empty directory is used but never marked, so it is never purged.
    """
    created = not os.path.lexists(root)
    root.mkdir(parents=True, exist_ok=True)
    if root.is_symlink() or (not created and any(root.iterdir())):
        return
    body = json.dumps({"format": MARKER_FORMAT, "root": str(root)})
    fd = os.open(root / MARKER_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body + "\n")


def check_purgeable(root: Path) -> None:
    """Raise `InvalidInput` unless `root` is a state directory this sandbox created."""
    refuse = _refusal(root)
    if refuse:
        raise InvalidInput(f"refusing to purge {str(root)!r}: {refuse}; nothing was removed")


def _refusal(root: Path) -> str | None:
    return _place_refusal(root) or _marker_refusal(root) or _layout_refusal(root)


def _place_refusal(root: Path) -> str | None:
    if not str(root) or not root.is_absolute():
        return "not an absolute path"
    if root.is_symlink():
        return f"it is a symbolic link (to {os.readlink(root)}), not the sandbox's own directory"
    if not root.is_dir():
        return "not a directory"
    if root == Path(root.anchor) or root == Path.home() or Path.cwd().is_relative_to(root):
        return "it is the filesystem root, the home directory or contains the current directory"
    return None


def _marker_refusal(root: Path) -> str | None:
    marker = root / MARKER_NAME
    if marker.is_symlink() or not marker.is_file():
        return (
            f"it has no {MARKER_NAME} marker, so genesis-drill did not create it "
            "(or an older version did: remove it yourself after checking its contents)"
        )
    try:
        raw = json.loads(marker.read_text())
        fmt, made_for = raw["format"], raw["root"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {MARKER_NAME} marker is unreadable"
    if fmt != MARKER_FORMAT:
        return f"its {MARKER_NAME} marker has unknown format {fmt!r}"
    if made_for != str(root):
        return f"its {MARKER_NAME} marker was written for {made_for!r}, not for this path"
    return None


def _layout_refusal(root: Path) -> str | None:
    unexpected = sorted(
        entry.name for entry in root.iterdir() if entry.name not in EXPECTED_ENTRIES
    )
    if not unexpected:
        return None
    shown = ", ".join(unexpected[:5]) + (" …" if len(unexpected) > 5 else "")
    return f"it holds files the sandbox does not create ({shown})"


def purge(root: Path) -> None:
    """Remove a state directory after `check_purgeable` (links inside are removed, not followed)."""
    check_purgeable(root)
    shutil.rmtree(root, ignore_errors=True)
