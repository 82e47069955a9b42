"""One retry policy for remote providers, and one HTTP-status-to-error mapper.

Every cloud plugin (openai, anthropic, gemini, bedrock) retries through
:func:`call_with_retries` / :func:`acall_with_retries` with its SDK's own retries
switched off, so ``max_retries`` means the same everywhere: the number of retries
after the first attempt. The rules:

- only a :class:`~memplane.errors.ProviderError` with ``retryable=True`` is retried
  (429, 408, 409, 5xx, timeouts, lost connections, a garbled body); anything else is
  raised after the first attempt;
- a 429 that says how long to wait (``Retry-After``) is waited out when that is at
  most ``max_wait`` seconds; a longer wait is raised at once as
  :class:`~memplane.errors.RateLimitError` with ``retry_after`` set, so the caller
  decides instead of a worker sleeping for minutes;
- otherwise the wait is an exponential backoff with jitter (``initial_delay``,
  doubling, capped at ``max_delay``, each wait shortened by up to a quarter at
  random so that many clients do not retry in step);
- after ``max_retries`` retries the last error is raised.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from memplane.errors import (
    AuthenticationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.providers.retry_after import retry_after_seconds

T = TypeVar("T")
log = logging.getLogger(__name__)

#: HTTP statuses worth another attempt besides 5xx: request timeout, conflict (a
#: concurrent change on the server side) and too many requests.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Build it from a provider's config."""

    max_retries: int = 2
    max_wait: float = 60.0
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if min(self.max_wait, self.initial_delay, self.max_delay) < 0:
            raise ValueError("max_wait, initial_delay and max_delay must be >= 0")

    def backoff(self, attempt: int) -> float:
        """The jittered wait before retry ``attempt + 1`` (``attempt`` is 0-based)."""
        base = min(self.initial_delay * 2.0 ** min(attempt, 32), self.max_delay)
        return base * (1.0 - 0.25 * random.random())

    def delay(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before retrying after ``error`` on attempt ``attempt``
        (0-based), or None when the error is to be raised now."""
        if attempt >= self.max_retries:
            return None
        if not isinstance(error, ProviderError) or not error.retryable:
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_wait else None
        return self.backoff(attempt)


Translate = Callable[[Exception], BaseException]


def _wait_or_raise(exc: Exception, attempt: int, policy: RetryPolicy, translate: Translate) -> float:
    """How long to wait before the next attempt after ``exc``; raises the (translated)
    error when it is not to be retried. Shared by the sync and async loops."""
    error = exc if isinstance(exc, MemplaneError) else translate(exc)
    wait = policy.delay(attempt, error)
    if wait is None:
        if error is exc:
            raise exc
        raise error from exc
    log.info("retrying after %s (%.2fs, retry %d/%d)", error, wait, attempt + 1,
             policy.max_retries)
    return wait


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, translate: Translate) -> T:
    """``fn()`` under ``policy``. ``translate`` turns an SDK exception into a memplane
    error (or returns it unchanged); memplane errors raised by ``fn`` (e.g. a
    malformed answer found while parsing) are judged as they are."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = _wait_or_raise(exc, attempt, policy, translate)
        time.sleep(wait)
        attempt += 1


async def acall_with_retries(
    fn: Callable[[], Awaitable[T]], policy: RetryPolicy, translate: Translate
) -> T:
    """The async twin of :func:`call_with_retries` (waits with ``asyncio.sleep``)."""
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            wait = _wait_or_raise(exc, attempt, policy, translate)
        await asyncio.sleep(wait)
        attempt += 1


def error_for_status(
    status: int,
    *,
    provider: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    millis_header: str = "retry-after-ms",
    retry_after: float | None = None,
) -> ProviderError:
    """The memplane error for an HTTP error status.

    401/403 -> :class:`AuthenticationError`; 429 -> :class:`RateLimitError` with
    ``retry_after`` (given, else read from ``headers``); 408/504 ->
    :class:`ProviderTimeout`; 409 and other 5xx -> retryable :class:`ProviderError`;
    any other status -> a :class:`ProviderError` that is not retried. An
    ``x-should-retry: true|false`` header (sent by OpenAI and Anthropic) overrides
    whether a plain ``ProviderError`` is retryable: the server knows best.
    """
    where = f"{provider}: HTTP {status}: {detail}"
    if status in (401, 403):
        return AuthenticationError(
            f"{where}; the credentials were rejected: check the API key or the role and "
            f"its permissions",
            provider=provider,
        )
    if status == 429:
        if retry_after is None:
            retry_after = retry_after_seconds(headers, millis_header=millis_header)
        return RateLimitError(
            f"{where}; rate limited: slow down, raise `max_retries` or `max_retry_wait`, "
            f"or raise the quota",
            provider=provider,
            retry_after=retry_after,
        )
    if status in (408, 504):
        return ProviderTimeout(f"{where}; the server timed out: try again", provider=provider)
    retryable = status in RETRYABLE_STATUSES or status >= 500
    hint = headers.get("x-should-retry") if headers is not None else None
    if hint in ("true", "false"):
        retryable = hint == "true"
    return ProviderError(
        f"{where}; "
        + ("a server-side failure: try again later" if retryable else
           "the request was refused: check the model name, the schema and the config"),
        provider=provider,
        retryable=retryable,
    )
