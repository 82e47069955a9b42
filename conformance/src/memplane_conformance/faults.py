"""Fault-handling checks for providers tested against a scripted loopback endpoint.

The contract suites drive LLMs through faults themselves; these helpers give plugin
tests the same checks for any other call that reaches the endpoint (embedding,
reranking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from memplane.errors import AuthenticationError, RateLimitError
from memplane_conformance.endpoint import ScriptedEndpoint

T = TypeVar("T")


def assert_one_retry_then_typed_errors(call: Callable[[], T], endpoint: ScriptedEndpoint) -> T:
    """``call`` uses a provider configured with ``max_retries=1``: a single rate limit
    is retried and succeeds (two requests), two in a row raise ``RateLimitError``, and
    an auth fault raises ``AuthenticationError``. Returns the successful call's result."""
    endpoint.reset()
    endpoint.enqueue_fault("rate_limit", retry_after=0)
    result = call()
    assert len(endpoint.requests) == 2, "one rate limit, then one retry"
    endpoint.enqueue_fault("rate_limit", retry_after=0)
    endpoint.enqueue_fault("rate_limit", retry_after=0)
    with pytest.raises(RateLimitError):
        call()
    endpoint.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        call()
    return result
