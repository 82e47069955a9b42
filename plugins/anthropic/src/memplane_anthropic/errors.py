"""Translate Anthropic SDK exceptions into :mod:`memplane.errors`."""

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
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", None) or exc)


def map_anthropic_error(exc: BaseException, provider: str) -> MemplaneError | None:
    """The memplane error for an SDK exception, or None when it is not the SDK's."""
    import anthropic  # lazy: importing this module must not import the SDK

    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeout(
            f"{provider}: no answer within the configured timeout; raise `timeout` or "
            f"`max_retries` in the provider config",
            provider=provider,
        )
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(
            f"{provider}: could not connect ({exc}); check `base_url` and the network",
            provider=provider,
            retryable=True,
        )
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return AuthenticationError(
            f"{provider}: the API rejected the credentials ({_detail(exc)}); set a valid "
            f"`api_key` in the provider config or ANTHROPIC_API_KEY",
            provider=provider,
        )
    if isinstance(exc, anthropic.RateLimitError):
        return RateLimitError(
            f"{provider}: rate limited ({_detail(exc)}); slow down, raise `max_retries` "
            f"or `max_retry_wait`, or raise your limits",
            provider=provider,
            retry_after=retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409) or status >= 500  # 529 = overloaded
        if exc.response.headers.get("x-should-retry") in ("true", "false"):
            retryable = exc.response.headers["x-should-retry"] == "true"  # the server knows best
        hint = "the API failed or is overloaded; try again later" if retryable else (
            "the request was refused; check `model`, `max_tokens` and the schema"
        )
        return ProviderError(
            f"{provider}: HTTP {status}: {_detail(exc)}; {hint}",
            provider=provider,
            retryable=retryable,
        )
    if isinstance(exc, anthropic.APIResponseValidationError | json.JSONDecodeError):
        return malformed_response(provider, exc)
    if isinstance(exc, anthropic.AnthropicError):
        return ProviderError(f"{provider}: {exc}", provider=provider, retryable=False)
    return None


def malformed_response(provider: str, exc: BaseException | str) -> ProviderError:
    # A garbled body is usually a proxy or an overloaded server: trying again may help.
    return ProviderError(
        f"{provider}: the API sent a response that is not a valid message ({exc}); "
        f"check `base_url`",
        provider=provider,
        retryable=True,
    )
