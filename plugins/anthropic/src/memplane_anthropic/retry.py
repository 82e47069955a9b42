"""Bounded retries that honour Retry-After, observable at the server.

The SDK's own retries are switched off (``max_retries=0`` on the client) because it
sleeps through any Retry-After, however long; here a wait longer than
``max_retry_wait`` is reported to the caller instead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from memplane.errors import MemplaneError, ProviderError, RateLimitError

T = TypeVar("T")

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: ~0.5 s, 1 s, 2 s ... capped at 8 s."""
    return min(INITIAL_DELAY * 2.0**attempt, MAX_DELAY) * (1.0 - 0.25 * random.random())


def delay_before_retry(error: MemplaneError, attempt: int, max_wait: float) -> float | None:
    """Seconds to wait before the next attempt, or None when it should not retry."""
    if not isinstance(error, ProviderError) or not error.retryable:
        return None
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return error.retry_after if error.retry_after <= max_wait else None
    return backoff(attempt)


def with_retries(
    call: Callable[[], T],
    translate: Callable[[Exception], Exception],
    *,
    max_retries: int,
    max_wait: float,
) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            error = translate(exc)
            delay = delay_before_retry(error, attempt, max_wait) if isinstance(error, MemplaneError) else None
            if delay is None or attempt >= max_retries:
                if error is exc:
                    raise
                raise error from exc
        attempt += 1
        time.sleep(delay)


async def awith_retries(
    call: Callable[[], Awaitable[T]],
    translate: Callable[[Exception], Exception],
    *,
    max_retries: int,
    max_wait: float,
) -> T:
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            error = translate(exc)
            delay = delay_before_retry(error, attempt, max_wait) if isinstance(error, MemplaneError) else None
            if delay is None or attempt >= max_retries:
                if error is exc:
                    raise
                raise error from exc
        attempt += 1
        await asyncio.sleep(delay)
