"""The shared reading of a server's requested wait (Retry-After and milliseconds headers)."""

from __future__ import annotations

import email.utils
import time

import pytest

from memplane.providers.retry_after import retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        # not a wait (RFC 9110 delay-seconds is a non-negative integer): treated as
        # absent, so the client's own backoff applies instead of a hammering retry
        ({"retry-after": "-3"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "NaN"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "-inf"}, None),
        ({"retry-after-ms": "nan", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "inf"}, None),
        ({"retry-after-ms": "-100"}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise header wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # unreadable: fall back
        ({"retry-after": "whenever"}, None),
    ],
)
def test_seconds_from_headers(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_an_http_date_is_the_time_left_until_it() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = retry_after_seconds({"retry-after": when})
    assert waited is not None and 25.0 <= waited <= 31.0
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds({"retry-after": past}) == 0.0


def test_a_service_names_its_own_milliseconds_header() -> None:
    headers = {"x-amz-retry-after": "1200", "retry-after": "5"}
    assert retry_after_seconds(headers, millis_header="x-amz-retry-after") == 1.2
    assert retry_after_seconds(headers) == 5.0  # retry-after-ms is not there
