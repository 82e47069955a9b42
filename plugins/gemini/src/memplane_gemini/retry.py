"""Bounded retries with exponential backoff that honour the server's retry delay."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from memplane.errors import MemplaneError, ProviderError, RateLimitError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    initial_delay: float
    max_delay: float

    def delay(self, attempt: int, error: MemplaneError) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(float(error.retry_after), self.max_delay)
        backoff = self.initial_delay * (2**attempt)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)

    def should_retry(self, attempt: int, error: MemplaneError) -> bool:
        return attempt < self.max_retries and isinstance(error, ProviderError) and error.retryable


def call(fn: Callable[[], T], policy: RetryPolicy,
         map_error: Callable[[BaseException], MemplaneError]) -> T:
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            error = map_error(exc)
            if not policy.should_retry(attempt, error):
                if error is exc:
                    raise
                raise error from exc
            wait = policy.delay(attempt, error)
            log.info("retrying after %s (%.2fs, retry %d/%d)", error, wait, attempt + 1,
                     policy.max_retries)
            time.sleep(wait)
            attempt += 1


async def acall(fn: Callable[[], Awaitable[T]], policy: RetryPolicy,
                map_error: Callable[[BaseException], MemplaneError]) -> T:
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            error = map_error(exc)
            if not policy.should_retry(attempt, error):
                if error is exc:
                    raise
                raise error from exc
            wait = policy.delay(attempt, error)
            log.info("retrying after %s (%.2fs, retry %d/%d)", error, wait, attempt + 1,
                     policy.max_retries)
            await asyncio.sleep(wait)
            attempt += 1
