"""Float flags refuse NaN and infinities (click.FloatRange alone lets NaN through)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from drills.cli.main import cli


@pytest.mark.parametrize("flag", ["--max-duration", "--load"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_run_float_flags_refuse_non_finite_values(tmp_path, flag, value):
    """`run --max-duration nan` / `--load inf` is a usage error (exit 2) naming the flag."""
    result = CliRunner().invoke(
        cli,
        ["run", "rabbitmq-outage", "--dry-run", flag, value, "--state-dir", str(tmp_path / "s")],
    )
    assert result.exit_code == 2, result.output
    assert flag in result.output and "finite" in result.output
    assert not (tmp_path / "s").exists()
