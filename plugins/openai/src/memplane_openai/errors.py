"""Translate OpenAI SDK exceptions into :mod:`memplane.errors`.

The SDK's own retries are off (``max_retries=0`` on the client): the provider retries
through :mod:`memplane.providers.retry`, which needs each failure as a typed error.
"""

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
    if isinstance(exc, openai.APIStatusError):
        return error_for_status(
            exc.status_code, provider=provider, detail=_detail(exc), headers=exc.response.headers
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return wrong_shape(provider, str(exc))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return garbled(provider, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.OpenAIError):
        return ProviderError(f"{provider}: {exc}", provider=provider, retryable=False)
    return None
