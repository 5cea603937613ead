"""The Grafana overview link: built from GENESIS_GRAFANA_URL and the run's window, or absent."""

from __future__ import annotations

import pytest

from drills.errors import InvalidInput
from drills.postmortem.links import GRAFANA_URL_ENV, grafana_overview_url

WINDOW = (1764867600.25, 1764867720.5)  # 2025-12-04T17:00:00.25Z .. +120.25 s


def url(base: str, window: tuple[float, float] | None = WINDOW) -> str | None:
    return grafana_overview_url(window, {GRAFANA_URL_ENV: base})


def test_no_variable_no_link():
    """Unset or blank, there is no link (documents render as they always did)."""
    assert grafana_overview_url(WINDOW, {}) is None
    assert url("") is None
    assert url("   ") is None


def test_no_window_no_link():
    """A run that recorded no window (it never reached measurement) gets no link."""
    assert url("http://127.0.0.1:3000", None) is None
    assert url("http://127.0.0.1:3000", (float("nan"), 1.0)) is None
    assert url("http://127.0.0.1:3000", (10.0, 5.0)) is None


def test_the_overview_for_the_window_in_epoch_milliseconds():
    """`/d/genesis-overview?from=<ms>&to=<ms>`, the window widened to whole milliseconds."""
    assert url("http://127.0.0.1:3000") == (
        "http://127.0.0.1:3000/d/genesis-overview?from=1764867600250&to=1764867720500"
    )
    assert (
        url("http://g:3000", (100.0004, 200.0004))
        == "http://g:3000/d/genesis-overview?from=100000&to=200001"
    )


def test_trailing_slashes_and_sub_paths():
    """A trailing slash does not double; Grafana served under a sub-path keeps it."""
    expected = (
        "https://grafana.example.org/grafana/d/genesis-overview?from=1764867600250&to=1764867720500"
    )
    assert url("https://grafana.example.org/grafana/") == expected
    assert url("https://grafana.example.org/grafana//") == expected
    assert url("https://grafana.example.org/grafana") == expected


def test_url_encoding_of_path_and_query():
    """A space in the path is percent-encoded, the base URL's own query (orgId) is kept and
    encoded, and a from/to already in it is replaced, never repeated."""
    got = url("http://host:3000/my grafana/?orgId=2&kiosk=&from=1&theme=a b")
    assert got == (
        "http://host:3000/my%20grafana/d/genesis-overview"
        "?orgId=2&kiosk=&theme=a+b&from=1764867600250&to=1764867720500"
    )


@pytest.mark.parametrize("base", ["grafana:3000", "javascript:alert(1)", "ftp://host/", "http://"])
def test_a_base_that_is_not_an_http_url_is_refused(base):
    """Anything but an http(s) URL with a host is an input error (exit 2), never a link."""
    with pytest.raises(InvalidInput, match=GRAFANA_URL_ENV):
        url(base)
