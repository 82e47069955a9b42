"""Checks of the shared retry policy (``memplane.providers.retry``) on an LLM provider.

A provider that follows the policy has ``max_retries`` (retries after the first
attempt) and ``max_retry_wait`` (the longest server-requested wait it sleeps through)
in its config. :class:`RetryPolicyContract` drives it through the real SDK against
the loopback endpoint and checks, sync and async:

- a 429 whose Retry-After is within ``max_retry_wait`` is waited out, then retried;
- a 429 asking for more is raised at once as ``RateLimitError`` with ``retry_after``;
- a ``nan``, infinite or negative Retry-After never reaches ``retry_after``;
- 5xx is retried, at most ``max_retries`` times;
- 4xx (other than 401/403/408/409/429) is not retried.

:class:`~memplane_conformance.llm.LLMContract` includes it; providers without a
``max_retry_wait`` setting skip it, with the reason.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from memplane.errors import ProviderError, RateLimitError
from memplane.models import ChatMessage
from memplane.providers.base import LLM
from memplane_conformance.guard import suite_skip
from memplane_conformance.loopback import LoopbackServer

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def _chat() -> list[ChatMessage]:
    return [ChatMessage(role="user", content="hi")]


def _generate(llm: LLM, mode: str) -> Any:
    if mode == "async":
        return asyncio.run(llm.agenerate(_chat()))
    return llm.generate(_chat())


def _policy_llm(llm_factory: Callable[..., LLM], **overrides: Any) -> LLM:
    probe = llm_factory()
    if "max_retry_wait" not in type(probe).Config.model_fields:
        suite_skip(f"llms provider {probe.name!r} has no 'max_retry_wait' setting: it does not "
                    "follow the shared retry policy (memplane.providers.retry)")
    return llm_factory(**overrides)


class RetryPolicyContract:
    """Needs the ``endpoint`` and ``llm_factory`` fixtures of ``LLMContract``."""

    #: its tests fall under the no-silent-override guard of the contracts
    _memplane_suite_class: ClassVar[bool] = True

    @MODES
    def test_retry_after_within_max_retry_wait_is_waited_out(
        self, endpoint: Any, llm_factory: Callable[..., LLM], mode: str
    ) -> None:
        """A 429 asking for 1.2 s (under ``max_retry_wait``) is retried after >= 1.2 s.

        Troubleshooting: read the wait with ``memplane.providers.retry_after`` into
        ``RateLimitError(retry_after=...)`` and retry through
        ``memplane.providers.retry.call_with_retries``; switch the SDK's retries off.
        """
        llm = _policy_llm(llm_factory, max_retries=1, max_retry_wait=5.0)
        endpoint.enqueue_fault("rate_limit", retry_after=1.2)
        endpoint.enqueue_text("after the wait")
        started = time.monotonic()
        response = _generate(llm, mode)
        assert "after the wait" in response.text
        assert len(endpoint.requests) == 2
        assert time.monotonic() - started >= 1.15, "the Retry-After was not honoured"

    @MODES
    def test_retry_after_beyond_max_retry_wait_is_raised_at_once(
        self, endpoint: Any, llm_factory: Callable[..., LLM], mode: str
    ) -> None:
        """A 429 asking for more than ``max_retry_wait`` is raised at once, with
        ``retry_after`` set, so the caller decides instead of a worker sleeping.

        Troubleshooting: compare the wait with ``max_retry_wait`` before sleeping
        (``RetryPolicy.delay`` does) and keep ``retry_after`` on the error.
        """
        llm = _policy_llm(llm_factory, max_retries=3, max_retry_wait=1.0)
        endpoint.enqueue_fault("rate_limit", retry_after=30)
        endpoint.enqueue_text("unused")
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            _generate(llm, mode)
        assert caught.value.retry_after == pytest.approx(30)
        assert len(endpoint.requests) == 1
        assert time.monotonic() - started < 5.0

    @pytest.mark.parametrize("value", [math.nan, math.inf, -5.0], ids=["nan", "inf", "negative"])
    def test_nonsense_retry_after_is_not_reported(
        self, endpoint: Any, llm_factory: Callable[..., LLM], value: float
    ) -> None:
        """``Retry-After: nan`` (or ``inf``, or negative) never becomes
        ``RateLimitError.retry_after``: it is treated as absent.

        Troubleshooting: read headers with ``memplane.providers.retry_after``; a bare
        ``float()`` accepts ``nan`` and ``inf``.
        """
        llm = _policy_llm(llm_factory, max_retries=0)
        endpoint.enqueue_fault("rate_limit", retry_after=value)
        with pytest.raises(RateLimitError) as caught:
            _generate(llm, "sync")
        assert caught.value.retry_after is None

    @MODES
    def test_server_errors_are_retried_with_bounded_attempts(
        self, endpoint: Any, llm_factory: Callable[..., LLM], mode: str
    ) -> None:
        """Endless 500s: exactly ``max_retries + 1`` requests, then a retryable error.

        Troubleshooting: map 5xx to ``ProviderError(retryable=True)`` and count only
        your own loop's retries (the SDK's are off).
        """
        llm = _policy_llm(llm_factory, max_retries=2)
        for _ in range(6):
            endpoint.enqueue_fault("server_error")
        with pytest.raises(ProviderError) as caught:
            _generate(llm, mode)
        assert caught.value.retryable is True
        assert len(endpoint.requests) == 3

    @MODES
    def test_client_errors_are_not_retried(
        self, endpoint: Any, llm_factory: Callable[..., LLM], mode: str
    ) -> None:
        """A 400 is raised after one request, not retryable, whatever ``max_retries``.

        Troubleshooting: map statuses with ``memplane.providers.retry.error_for_status``.
        """
        if not isinstance(endpoint, LoopbackServer):
            suite_skip("the endpoint is not a memplane_conformance LoopbackServer")
        llm = _policy_llm(llm_factory, max_retries=2)
        refusal = endpoint.error(400, "loopback: a request the API refuses", "invalid_request_error")
        for _ in range(3):
            endpoint.enqueue_raw(refusal.status, refusal.body, refusal.headers)
        with pytest.raises(ProviderError) as caught:
            _generate(llm, mode)
        assert caught.value.retryable is False
        assert len(endpoint.requests) == 1
