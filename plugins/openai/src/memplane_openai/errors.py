"""Translate OpenAI SDK exceptions into :mod:`memplane.errors`.

The SDK has already retried what it retries (429, 408, 409, 5xx, timeouts, lost
connections) ``max_retries`` times when one of these reaches us.
"""

from __future__ import annotations

import json
from typing import Any

from memplane.errors import (
    AuthenticationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.providers.retry_after import retry_after_seconds


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)
    return str(getattr(exc, "message", None) or exc)


def map_openai_error(exc: BaseException, provider: str) -> MemplaneError | None:
    """The memplane error for an SDK exception, or None when it is not the SDK's."""
    import openai  # lazy: importing this module must not import the SDK

    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(
            f"{provider}: no answer within the configured timeout; raise `timeout` "
            f"or `max_retries` in the provider config",
            provider=provider,
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"{provider}: could not connect ({exc}); check `base_url` / `azure_endpoint` "
            f"and that the server is running",
            provider=provider,
            retryable=True,
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AuthenticationError(
            f"{provider}: the server rejected the credentials ({_detail(exc)}); set a valid "
            f"`api_key` in the provider config or the SDK's environment variable",
            provider=provider,
        )
    if isinstance(exc, openai.RateLimitError):
        return RateLimitError(
            f"{provider}: rate limited after the configured retries ({_detail(exc)}); "
            f"slow down, raise `max_retries`, or raise your quota",
            provider=provider,
            retry_after=retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409) or status >= 500
        if exc.response.headers.get("x-should-retry") in ("true", "false"):
            retryable = exc.response.headers["x-should-retry"] == "true"  # the server knows best
        hint = "the server failed; try again later" if retryable else (
            "the request was refused; check `model`, the schema and the server's capabilities"
        )
        return ProviderError(
            f"{provider}: HTTP {status}: {_detail(exc)}; {hint}",
            provider=provider,
            retryable=retryable,
        )
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
        return malformed_response(provider, exc)
    if isinstance(exc, openai.OpenAIError):
        return ProviderError(f"{provider}: {exc}", provider=provider, retryable=False)
    return None


def malformed_response(provider: str, exc: BaseException | str) -> ProviderError:
    # A garbled body is usually a proxy or overloaded server: trying again may help.
    return ProviderError(
        f"{provider}: the server sent a response that is not valid for the API ({exc}); "
        f"check that `base_url` points at an OpenAI-compatible endpoint",
        provider=provider,
        retryable=True,
    )
