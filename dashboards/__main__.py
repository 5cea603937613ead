"""`python -m dashboards` writes the dashboard JSON; `--check` only says whether it is stale."""

from __future__ import annotations

import sys

from dashboards.generate import OUTPUT, REPO_ROOT, stale, write


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        outdated = stale()
        for name in outdated:
            print(f"stale: {(OUTPUT / name).relative_to(REPO_ROOT)}", file=sys.stderr)
        if outdated:
            print("regenerate with `python -m dashboards`", file=sys.stderr)
        return 1 if outdated else 0
    if argv:
        print("usage: python -m dashboards [--check]", file=sys.stderr)
        return 2
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
