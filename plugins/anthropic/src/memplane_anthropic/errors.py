"""Translate Anthropic SDK exceptions into :mod:`memplane.errors` (the mapping every
Stainless-generated SDK shares: :mod:`memplane.providers.sdk_errors`)."""

from __future__ import annotations

from memplane.errors import MemplaneError
from memplane.providers.sdk_errors import SDKHints, map_sdk_error

HINTS = SDKHints(
    base_error="AnthropicError",
    connect="check `base_url` and the network",
    credentials="set a valid `api_key` in the provider config or ANTHROPIC_API_KEY",
)


def map_anthropic_error(exc: BaseException, provider: str) -> MemplaneError | None:
    """The memplane error for an SDK exception, or None when it is not the SDK's."""
    import anthropic  # lazy: importing this module must not import the SDK

    return map_sdk_error(exc, provider, anthropic, HINTS)
