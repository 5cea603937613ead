"""Hostile flags, environment values, game-day plans and post-mortem files: exit 2/3, one error
line, no traceback, nothing written."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.badinput.hostile import HOSTILE_FILES, PLANS, mutated_document, mutated_text
from tests.badinput.support import PORT_BASE, check

TIER = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _outside(low: float, high: float) -> st.SearchStrategy[str]:
    """Flag values a FloatRange(low, high) must refuse, NaN and infinities included."""
    numbers = st.floats().filter(lambda x: math.isnan(x) or not low <= x <= high)
    words = st.sampled_from(["nan", "NaN", "inf", "-inf", "+inf", "abc", "", "1e", "0x10", "1,5"])
    return st.one_of(numbers.map(repr), words)


def _dry_run(state: Path, *extra: str) -> list[str]:
    return ["run", "rabbitmq-outage", "--dry-run", "--state-dir", str(state), *extra]


@TIER
@given(
    flag_value=st.one_of(
        st.tuples(st.just("--load"), _outside(0, 100_000)),
        st.tuples(st.just("--max-duration"), _outside(1, 24 * 3600)),
        st.tuples(
            st.just("--port-base"),
            st.one_of(
                st.integers().filter(lambda n: not 1024 <= n <= 65485).map(str), st.just("x")
            ),
        ),
        st.tuples(st.sampled_from(["--target", "--output"]), st.text(min_size=1, max_size=20)),
    )
)
def test_run_refuses_hostile_flag_values(flag_value):
    """`run --dry-run` with a NaN/inf/out-of-range float, bad port base, target or output."""
    flag, value = flag_value
    if (flag == "--target" and value in ("local", "kubernetes")) or value in ("table", "json"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        extra = [] if flag == "--port-base" else ["--port-base", PORT_BASE]
        check(work, _dry_run(work / "no-state", flag, value, *extra))


@pytest.mark.parametrize("value", ["garbage", "nan", "-1", "99999999", "", "2.5", "\x1b[2J"])
def test_run_refuses_a_hostile_port_base_in_the_environment(workdir, tmp_path, value):
    """GENESIS_PORT_BASE that is not a port block is one error line (exit 2), nothing created."""
    check(workdir, _dry_run(tmp_path / "no-state"), env={"GENESIS_PORT_BASE": value})


@pytest.mark.parametrize(
    "args",
    [
        ["history", "--limit", "nan"],
        ["history", "--limit", "0"],
        ["history", "--limit", "-5"],
        ["history", "--limit", "10000"],
        ["history", "--output", "xml"],
        ["coverage", "--fail-under", "nan"],
        ["coverage", "--fail-under", "1.01"],
        ["coverage", "--max-age", "inf"],
        ["coverage", "--max-age", "-1"],
        ["coverage", "--output", "xml"],
        ["coverage", "--rules", "no-such-rules.yml"],
        ["list", "extra"],
        ["list", "--bogus"],
        ["validate"],
        ["postmortem", "review"],
        ["postmortem", "review", "--format", "pdf", "x.md"],
        ["gameday", "run"],
        ["gameday", "cronjob"],
    ],
)
def test_commands_refuse_hostile_flags(workdir, args):
    """Bad flag values and missing arguments are usage errors (exit 2)."""
    check(workdir, args)


@pytest.mark.parametrize("runs_dir", ["/proc/x", "/dev/null/x"])
def test_history_refuses_an_impossible_runs_dir(workdir, runs_dir):
    """`history --runs-dir` that cannot be a directory is one line naming it, not a traceback."""
    check(workdir, ["history", "--runs-dir", runs_dir])


def _plan_commands(path: Path, state: Path) -> list[list[str]]:
    where = ["--state-dir", str(state), "--port-base", PORT_BASE]
    return [
        ["gameday", "run", str(path), *where],
        ["gameday", "schedule", str(path), *where],
        ["gameday", "cronjob", str(path)],
    ]


def _try_plan(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "plan.yaml"
        path.write_bytes(data)
        work = root / "work"
        work.mkdir()
        for args in _plan_commands(path, root / "no-state"):
            assert str(path) in check(work, args)


@TIER
@given(document=mutated_document(PLANS))
def test_plans_with_a_hostile_number_are_refused(document):
    """A shipped game-day plan with one number made NaN, infinite, negative, huge or wrong."""
    _try_plan(document.encode())


@TIER
@given(data=mutated_text(PLANS))
def test_plans_broken_as_text_are_refused(data):
    """A shipped plan with a control character, tag, escape key, deep nesting or junk bytes."""
    _try_plan(data)


@pytest.mark.parametrize("case", sorted(set(HOSTILE_FILES) - {"many-items"}))
def test_hostile_plan_files_are_refused(case):
    """The hand-written hostile files as game-day plans."""
    _try_plan(HOSTILE_FILES[case])


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "missing", "not-utf8", "big"])
def test_postmortem_review_refuses_unreadable_files(tmp_path, workdir, kind):
    """`postmortem review` on a FIFO (hung before), /dev/zero, a directory, a missing file,
    bytes that are not UTF-8 or a 50 MB file: one error line, exit 2."""
    path = tmp_path / "pm.md"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"# Summary\n\xff\xfe\n")
    elif kind == "big":
        path.write_bytes(b"x" * (50 << 20))
    check(workdir, ["postmortem", "review", str(path)])


@pytest.mark.parametrize("only", ["no-such-drill", "", "\x1b[2J", "pod-kill\n"])
def test_gameday_run_refuses_hostile_only_names(workdir, tmp_path, only):
    """`gameday run PLAN --only X` with X not in the plan is refused before any target work."""
    plan = PLANS[0]
    where = ["--state-dir", str(tmp_path / "no-state"), "--port-base", PORT_BASE]
    line = check(workdir, ["gameday", "run", str(plan), "--only", only, *where])
    assert "\x1b" not in line


@pytest.mark.parametrize("kubeconfig", ["/etc/hostname", "/dev/null"])
def test_a_hostile_kubeconfig_is_one_error_line(workdir, tmp_path, kubeconfig):
    """`--target kubernetes --dry-run` with KUBECONFIG naming a non-kubeconfig file: exit 2/3."""
    args = [*_dry_run(tmp_path / "no-state", "--target", "kubernetes"), "--port-base", PORT_BASE]
    check(workdir, args, env={"KUBECONFIG": kubeconfig})
