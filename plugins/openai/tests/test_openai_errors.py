"""SDK failures become memplane errors; retries are bounded and honour Retry-After.

Retry counts are observed where they happen: at the server.
"""

from __future__ import annotations

import pytest

from memplane.errors import AuthenticationError, ProviderError, ProviderTimeout, RateLimitError
from memplane.models import ChatMessage

USER = [ChatMessage(role="user", content="hello")]


def test_wrong_key_is_an_authentication_error(server, make_llm):
    with pytest.raises(AuthenticationError, match="api_key") as info:
        make_llm(api_key="sk-wrong", max_retries=3).generate(USER)
    assert info.value.retryable is False
    assert len(server.requests) == 1  # never retried


def test_auth_fault_is_an_authentication_error(server, make_llm):
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        make_llm(max_retries=2).generate(USER)
    assert len(server.requests) == 1


def test_rate_limit_is_retried_up_to_max_retries_then_reported_with_retry_after(server, make_llm):
    for _ in range(3):
        server.enqueue_fault("rate_limit", retry_after=0.01)
    server.enqueue_text("never reached")
    with pytest.raises(RateLimitError) as info:
        make_llm(max_retries=2).generate(USER)
    assert len(server.requests) == 3  # the first attempt and two retries
    assert info.value.retry_after == pytest.approx(0.01)
    assert info.value.retryable is True
    assert server.pending == 1


def test_rate_limit_then_success(server, make_llm):
    server.enqueue_fault("rate_limit", retry_after=0.01)
    server.enqueue_text("fine")
    assert make_llm(max_retries=1).generate(USER).text == "fine"
    assert len(server.requests) == 2
    # memplane's loop retried, not the SDK's (its retries are off so they cannot multiply)
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "0"]


def test_retry_waits_at_least_the_retry_after_the_server_asked_for(server, make_llm):
    # Without the header the SDK's first back-off is at most 0.5 s; a gap of more
    # than one second can only come from honouring Retry-After (a lower bound only,
    # so a slow machine cannot make this fail).
    server.enqueue_fault("rate_limit", retry_after=1.2)
    server.enqueue_text("fine")
    make_llm(max_retries=1).generate(USER)
    first, second = server.requests
    assert second.extra["received_at"] - first.extra["received_at"] >= 1.1


def test_retry_after_beyond_max_retry_wait_is_reported_not_slept(server, make_llm):
    server.enqueue_fault("rate_limit", retry_after=3600)
    server.enqueue_text("unused")
    with pytest.raises(RateLimitError) as info:
        make_llm(max_retries=3).generate(USER)
    assert info.value.retry_after == 3600
    assert len(server.requests) == 1


def test_empty_script_is_not_retried(server, make_llm):
    # the loopback marks "nothing scripted" x-should-retry: false, as the SDK honours
    with pytest.raises(ProviderError, match="no scripted reply") as info:
        make_llm(max_retries=3).generate(USER)
    assert info.value.retryable is False and len(server.requests) == 1


def test_server_errors_are_retried_then_retryable_provider_error(server, make_llm):
    server.enqueue_fault("server_error")
    server.enqueue_fault("server_error")
    with pytest.raises(ProviderError) as info:
        make_llm(max_retries=1).generate(USER)
    assert type(info.value) is ProviderError and info.value.retryable is True
    assert "HTTP 500" in str(info.value)
    assert len(server.requests) == 2


def test_zero_retries_means_one_request(server, make_llm):
    server.enqueue_fault("server_error")
    server.enqueue_text("unused")
    with pytest.raises(ProviderError):
        make_llm(max_retries=0).generate(USER)
    assert len(server.requests) == 1


def test_slow_answer_is_a_provider_timeout(server, make_llm):
    server.enqueue_fault("timeout")
    with pytest.raises(ProviderTimeout) as info:
        make_llm(timeout=0.3, max_retries=0).generate(USER)
    assert info.value.retryable is True
    assert len(server.requests) == 1


def test_timeout_is_retried_within_the_bound(server, make_llm):
    server.enqueue_fault("timeout")
    server.enqueue_text("second try")
    assert make_llm(timeout=0.3, max_retries=1).generate(USER).text == "second try"
    assert len(server.requests) == 2


def test_malformed_body_is_a_retryable_provider_error(server, make_llm):
    server.enqueue_fault("malformed")
    with pytest.raises(ProviderError, match="could not be decoded") as info:
        make_llm(max_retries=0).generate(USER)
    assert info.value.retryable is True


def test_refused_request_is_not_retryable(server, make_llm):
    server.known_models = {"gpt-4o-mini"}
    server.enqueue_text("unused")
    with pytest.raises(ProviderError, match="does not exist") as info:
        make_llm(model="gpt-nonexistent", max_retries=3).generate(USER)
    assert info.value.retryable is False and "HTTP 404" in str(info.value)
    assert len(server.requests) == 1 and server.pending == 1


def test_unreachable_server_is_a_retryable_provider_error(make_llm):
    llm = make_llm(base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ProviderError, match="could not connect") as info:
        llm.generate(USER)
    assert info.value.retryable is True


async def test_async_errors_are_mapped_too(server, make_llm):
    server.enqueue_fault("rate_limit", retry_after=0.01)
    server.enqueue_fault("rate_limit", retry_after=0.01)
    with pytest.raises(RateLimitError):
        await make_llm(max_retries=1).agenerate(USER)
    assert len(server.requests) == 2
