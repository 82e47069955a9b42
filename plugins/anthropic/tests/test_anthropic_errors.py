"""SDK failures become memplane errors; retries are bounded, honour Retry-After, and
are counted at the server."""

from __future__ import annotations

import pytest

from memplane.errors import AuthenticationError, ProviderError, ProviderTimeout, RateLimitError
from memplane.models import ChatMessage

CHAT = [ChatMessage(role="user", content="hello")]


def test_wrong_key_is_an_authentication_error_and_not_retried(server, make_llm):
    with pytest.raises(AuthenticationError, match="api_key") as info:
        make_llm(api_key="sk-ant-wrong", max_retries=3).generate(CHAT)
    assert info.value.retryable is False
    assert len(server.requests) == 1


def test_rate_limits_are_retried_up_to_max_retries(server, make_llm):
    for _ in range(4):
        server.enqueue_fault("rate_limit", retry_after=0)
    with pytest.raises(RateLimitError) as info:
        make_llm(max_retries=2).generate(CHAT)
    assert len(server.requests) == 3
    assert info.value.retry_after == 0 and info.value.retryable is True
    assert server.pending == 1


def test_rate_limit_then_success(server, make_llm):
    server.enqueue_fault("rate_limit", retry_after=0.01)
    server.enqueue_text("fine")
    assert make_llm(max_retries=1).generate(CHAT).text == "fine"
    assert len(server.requests) == 2


def test_retry_waits_at_least_the_retry_after(server, make_llm):
    # back-off alone would wait at most 0.5 s; a lower bound cannot flake when slow
    server.enqueue_fault("rate_limit", retry_after=1.2)
    server.enqueue_text("fine")
    make_llm(max_retries=1).generate(CHAT)
    first, second = server.requests
    assert second.extra["received_at"] - first.extra["received_at"] >= 1.1


def test_retry_after_beyond_max_retry_wait_is_reported_not_slept(server, make_llm):
    server.enqueue_fault("rate_limit", retry_after=3600)
    server.enqueue_text("unused")
    with pytest.raises(RateLimitError) as info:
        make_llm(max_retries=5, max_retry_wait=30).generate(CHAT)
    assert info.value.retry_after == 3600
    assert len(server.requests) == 1


def test_server_errors_are_retried_then_retryable(server, make_llm):
    server.enqueue_fault("server_error")
    server.enqueue_fault("server_error")
    with pytest.raises(ProviderError) as info:
        make_llm(max_retries=1).generate(CHAT)
    assert type(info.value) is ProviderError and info.value.retryable is True
    assert len(server.requests) == 2


def test_slow_answer_is_a_provider_timeout(server, make_llm):
    server.enqueue_fault("timeout")
    with pytest.raises(ProviderTimeout):
        make_llm(timeout=0.3).generate(CHAT)
    assert len(server.requests) == 1


def test_timeout_is_retried_within_the_bound(server, make_llm):
    server.enqueue_fault("timeout")
    server.enqueue_text("second try")
    assert make_llm(timeout=0.3, max_retries=1).generate(CHAT).text == "second try"
    assert len(server.requests) == 2


def test_malformed_body_is_a_provider_error(server, make_llm):
    server.enqueue_fault("malformed")
    with pytest.raises(ProviderError, match="could not be decoded") as info:
        make_llm(max_retries=0).generate(CHAT)
    assert info.value.retryable is True


def test_unknown_model_is_refused_without_retries(server, make_llm):
    server.known_models = {"claude-haiku-4-5"}
    with pytest.raises(ProviderError, match="HTTP 404") as info:
        make_llm(model="claude-nonexistent", max_retries=3).generate(CHAT)
    assert info.value.retryable is False and len(server.requests) == 1


def test_empty_script_is_not_retried(server, make_llm):
    # the loopback marks "nothing scripted" x-should-retry: false; honour it
    with pytest.raises(ProviderError, match="no scripted reply") as info:
        make_llm(max_retries=3).generate(CHAT)
    assert info.value.retryable is False and len(server.requests) == 1


async def test_async_retries_are_bounded_too(server, make_llm):
    for _ in range(3):
        server.enqueue_fault("rate_limit", retry_after=0)
    with pytest.raises(RateLimitError):
        await make_llm(max_retries=1).agenerate(CHAT)
    assert len(server.requests) == 2
