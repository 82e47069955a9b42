"""The shared retry policy and HTTP status mapper of remote providers.

The plugins' own tests drive this through the real SDKs against loopback servers;
here the loop itself is checked with plain callables and real (short) sleeps.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pytest

from memplane.errors import (
    AuthenticationError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.providers.retry import (
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    error_for_status,
)

FAST = RetryPolicy(max_retries=2, max_wait=1.0, initial_delay=0.01, max_delay=0.02)


class Flaky:
    """Raises the queued errors in turn, then returns "ok"; counts the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def async_(self) -> str:
        return self()


def _same(exc: Exception) -> Exception:
    return exc


def run(flaky: Flaky, policy: RetryPolicy, *, asynchronous: bool,
        translate: Callable[[Exception], BaseException] = _same) -> str:
    if asynchronous:
        return asyncio.run(acall_with_retries(flaky.async_, policy, translate))
    return call_with_retries(flaky, policy, translate)


def retryable() -> ProviderError:
    return ProviderError("HTTP 500", provider="t", retryable=True)


both = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@both
def test_a_transient_failure_is_retried(asynchronous: bool) -> None:
    flaky = Flaky(retryable(), retryable())
    assert run(flaky, FAST, asynchronous=asynchronous) == "ok"
    assert flaky.calls == 3


@both
def test_attempts_are_bounded_by_max_retries(asynchronous: bool) -> None:
    flaky = Flaky(*(retryable() for _ in range(10)))
    with pytest.raises(ProviderError):
        run(flaky, FAST, asynchronous=asynchronous)
    assert flaky.calls == 3  # the first attempt and max_retries=2 retries


@both
def test_max_retries_zero_means_one_attempt(asynchronous: bool) -> None:
    flaky = Flaky(retryable())
    with pytest.raises(ProviderError):
        run(flaky, RetryPolicy(max_retries=0), asynchronous=asynchronous)
    assert flaky.calls == 1


@both
@pytest.mark.parametrize("error", [
    AuthenticationError("401", provider="t"),
    ProviderError("HTTP 400", provider="t", retryable=False),
    ValueError("not a provider error"),
])
def test_permanent_failures_are_not_retried(asynchronous: bool, error: Exception) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        run(flaky, FAST, asynchronous=asynchronous)
    assert flaky.calls == 1


@both
def test_sdk_exceptions_are_translated_and_chained(asynchronous: bool) -> None:
    def translate(exc: Exception) -> BaseException:
        return ProviderError(f"mapped {exc}", provider="t", retryable=True)

    flaky = Flaky(*(KeyError("sdk") for _ in range(5)))
    with pytest.raises(ProviderError, match="mapped") as caught:
        run(flaky, FAST, asynchronous=asynchronous, translate=translate)
    assert isinstance(caught.value.__cause__, KeyError)
    assert flaky.calls == 3


@both
def test_retry_after_within_max_wait_is_waited_out(asynchronous: bool) -> None:
    flaky = Flaky(RateLimitError("429", provider="t", retry_after=0.3))
    started = time.monotonic()
    assert run(flaky, FAST, asynchronous=asynchronous) == "ok"
    assert time.monotonic() - started >= 0.3
    assert flaky.calls == 2


@both
def test_retry_after_beyond_max_wait_gives_up_at_once(asynchronous: bool) -> None:
    flaky = Flaky(RateLimitError("429", provider="t", retry_after=30.0))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        run(flaky, FAST, asynchronous=asynchronous)
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 30.0
    assert flaky.calls == 1


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0)
    for attempt, base in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (5000, 4.0)]:
        waits = [policy.backoff(attempt) for _ in range(50)]
        assert all(0.75 * base <= w <= base for w in waits), (attempt, waits)
    assert len({policy.backoff(0) for _ in range(20)}) > 1, "the wait must be jittered"


def test_a_rate_limit_without_retry_after_backs_off() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0)
    wait = policy.delay(0, RateLimitError("429", provider="t"))
    assert wait is not None and 0.375 <= wait <= 0.5


def test_policy_refuses_negative_settings() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(max_wait=-1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0])
def test_rate_limit_error_never_carries_a_nonsense_wait(value: float) -> None:
    assert RateLimitError("429", retry_after=value).retry_after is None


@pytest.mark.parametrize(("status", "kind", "retryable"), [
    (401, AuthenticationError, False),
    (403, AuthenticationError, False),
    (429, RateLimitError, True),
    (408, ProviderTimeout, True),
    (504, ProviderTimeout, True),
    (409, ProviderError, True),
    (500, ProviderError, True),
    (502, ProviderError, True),
    (503, ProviderError, True),
    (529, ProviderError, True),  # Anthropic: overloaded
    (400, ProviderError, False),
    (404, ProviderError, False),
    (422, ProviderError, False),
])
def test_status_mapping(status: int, kind: type[ProviderError], retryable: bool) -> None:
    error = error_for_status(status, provider="p", detail="boom")
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.provider == "p" and "boom" in str(error) and str(status) in str(error)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "nan"}, None),
    ({"retry-after": "inf"}, None),
    ({"retry-after": "-2"}, None),
    ({}, None),
])
def test_a_429_reads_retry_after_safely(headers: dict[str, str], expected: float | None) -> None:
    error = error_for_status(429, provider="p", detail="slow down", headers=headers)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == expected


def test_a_service_specific_milliseconds_header() -> None:
    error = error_for_status(429, provider="p", detail="x", headers={"x-amz-retry-after": "1500"},
                             millis_header="x-amz-retry-after")
    assert isinstance(error, RateLimitError) and error.retry_after == 1.5


def test_x_should_retry_overrides_the_status() -> None:
    assert error_for_status(500, provider="p", detail="x",
                            headers={"x-should-retry": "false"}).retryable is False
    assert error_for_status(400, provider="p", detail="x",
                            headers={"x-should-retry": "true"}).retryable is True
