"""Translate the exceptions of Stainless-generated SDKs into :mod:`memplane.errors`.

The OpenAI and Anthropic Python SDKs (and others generated the same way) share one
exception hierarchy under different module names: ``APITimeoutError`` (a kind of
``APIConnectionError``), ``AuthenticationError``, ``PermissionDeniedError``,
``APIStatusError`` with ``status_code`` and ``response``, ``APIResponseValidationError``
and a base class. A provider passes its SDK module, the base class's name and its own
hints; the mapping is the same for all of them, so the retry policy sees the same
typed errors whichever SDK failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from memplane.errors import AuthenticationError, MemplaneError, ProviderError, ProviderTimeout
from memplane.providers.retry import error_for_status
from memplane.providers.wire import garbled, wrong_shape


@dataclass(frozen=True)
class SDKHints:
    """What one provider's errors tell the user to check."""

    base_error: str
    """the SDK's base exception class name (``OpenAIError``, ``AnthropicError``)"""
    connect: str
    """after "could not connect (...)": where the address is configured"""
    credentials: str
    """after "rejected the credentials (...)": where the key is configured"""


def error_detail(exc: Any) -> str:
    """The server's own message: ``body.message``, ``body.error.message`` or
    ``body.error`` (as OpenAI, Anthropic and compatible servers write it), else the
    exception's message."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)
    return str(getattr(exc, "message", None) or exc)


def map_sdk_error(exc: BaseException, provider: str, sdk: ModuleType,
                  hints: SDKHints) -> MemplaneError | None:
    """The memplane error for an exception of ``sdk``, or None when it is not the SDK's
    (nor a decoding failure of its answer)."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimeout(
            f"{provider}: no answer within the configured timeout; raise `timeout` or "
            f"`max_retries` in the provider config",
            provider=provider,
        )
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError(f"{provider}: could not connect ({exc}); {hints.connect}",
                             provider=provider, retryable=True)
    if isinstance(exc, sdk.AuthenticationError | sdk.PermissionDeniedError):
        return AuthenticationError(
            f"{provider}: the server rejected the credentials ({error_detail(exc)}); "
            f"{hints.credentials}",
            provider=provider,
        )
    if isinstance(exc, sdk.APIStatusError):
        return error_for_status(exc.status_code, provider=provider, detail=error_detail(exc),
                                headers=exc.response.headers)
    if isinstance(exc, sdk.APIResponseValidationError):
        return wrong_shape(provider, str(exc))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return garbled(provider, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, getattr(sdk, hints.base_error)):
        return ProviderError(f"{provider}: {exc}", provider=provider, retryable=False)
    return None
