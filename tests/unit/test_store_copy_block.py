"""`copy_block`'s unescaped fast path gives exactly the escaped formatting's text."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from auditflow.analysis.store import Row, _copy_block_escaped, copy_block

values = st.text(
    alphabet=st.sampled_from(["a", "é", "\t", "\n", "\r", "\\", " ", "7", "-"]),
    min_size=1,
    max_size=8,
)
times = st.datetimes(timezones=st.just(UTC))
rows = st.tuples(
    values,
    values,
    st.integers(0, 2**63 - 1),
    times,
    times,
    values,
    values,
    values,
    values,
    values,
    values,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, max_size=6))
def test_same_text_as_escaping_every_value(batch: list[Row]) -> None:
    assert copy_block(batch) == _copy_block_escaped(batch)


def test_plain_rows() -> None:
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    row = ("e", "r", 1, stamp, stamp, "a", "login", "res", "success", "10.0.0.1", "c")
    assert copy_block([row]) == (
        "e\tr\t1\t2024-01-01T00:00:00+00:00\t2024-01-01T00:00:00+00:00\ta\tlogin\tres\tsuccess"
        "\t10.0.0.1\tc\n"
    )
    assert copy_block([]) == ""
    odd = ("e", "r\\x", 1, stamp, stamp, "a\tb", "login", "res", "success", "10.0.0.1", "c\r")
    assert copy_block([odd]).split("\t")[1] == "r\\\\x"
