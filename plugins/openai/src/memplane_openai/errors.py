"""Translate OpenAI SDK exceptions into :mod:`memplane.errors` (the mapping every
Stainless-generated SDK shares: :mod:`memplane.providers.sdk_errors`).

The SDK's own retries are off (``max_retries=0`` on the client): the provider retries
through :mod:`memplane.providers.retry`, which needs each failure as a typed error.
"""

from __future__ import annotations

from memplane.errors import MemplaneError
from memplane.providers.sdk_errors import SDKHints, map_sdk_error

HINTS = SDKHints(
    base_error="OpenAIError",
    connect="check `base_url` / `azure_endpoint` and that the server is running",
    credentials="set a valid `api_key` in the provider config or the SDK's environment variable",
)


def map_openai_error(exc: BaseException, provider: str) -> MemplaneError | None:
    """The memplane error for an SDK exception, or None when it is not the SDK's."""
    import openai  # lazy: importing this module must not import the SDK

    return map_sdk_error(exc, provider, openai, HINTS)
