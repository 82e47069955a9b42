"""Translate Anthropic SDK exceptions into :mod:`memplane.errors`."""

from __future__ import annotations

import json
from typing import Any

from memplane.errors import (
    AuthenticationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
)
from memplane.providers.retry import error_for_status
from memplane.providers.wire import garbled, wrong_shape


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
    if isinstance(exc, anthropic.APIStatusError):
        return error_for_status(
            exc.status_code, provider=provider, detail=_detail(exc), headers=exc.response.headers
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return wrong_shape(provider, str(exc))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return garbled(provider, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, anthropic.AnthropicError):
        return ProviderError(f"{provider}: {exc}", provider=provider, retryable=False)
    return None
