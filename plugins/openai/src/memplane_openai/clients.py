"""Build OpenAI / Azure OpenAI SDK clients from a config, lazily and once.

The SDK is imported only when the first client is built, so loading a provider
class (``memplane providers``, start-up) stays free of it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from memplane.errors import ConfigurationError
from memplane.providers.retry import RetryPolicy
from memplane_openai.config import AzureConnectionConfig, ConnectionConfig, OpenAIConnectionConfig


def _secret(value: Any) -> str | None:
    return str(value.get_secret_value()) if value is not None else None


def check_credentials(config: ConnectionConfig, provider: str) -> None:
    """Fail at construction, not at the first call, when no credential is set."""
    if isinstance(config, AzureConnectionConfig):
        if config.api_key or config.azure_ad_token or os.environ.get("AZURE_OPENAI_API_KEY"):
            return
        raise ConfigurationError(
            f"{provider}: no credential; set `api_key` or `azure_ad_token` in the provider "
            f"config, or the AZURE_OPENAI_API_KEY environment variable"
        )
    if config.api_key or os.environ.get("OPENAI_API_KEY"):
        return
    raise ConfigurationError(
        f"{provider}: no API key; set `api_key` in the provider config or OPENAI_API_KEY. "
        f"Local servers (Ollama, vLLM, LM Studio) accept any placeholder, e.g. api_key: local"
    )


def retry_policy(config: ConnectionConfig) -> RetryPolicy:
    return RetryPolicy(max_retries=config.max_retries, max_wait=config.max_retry_wait)


def _common(config: ConnectionConfig) -> dict[str, Any]:
    return {
        "api_key": _secret(config.api_key),
        "organization": config.organization,
        "project": config.project,
        "timeout": config.timeout,
        "max_retries": 0,  # retries are memplane's: see memplane.providers.retry
        "default_headers": config.default_headers or None,
    }


def build_client(config: ConnectionConfig, *, asynchronous: bool) -> Any:
    import openai  # lazy: see module docstring

    kwargs = _common(config)
    cls: Any
    if isinstance(config, AzureConnectionConfig):
        cls = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
        return cls(
            azure_endpoint=config.azure_endpoint,
            azure_deployment=config.deployment,
            api_version=config.api_version,
            azure_ad_token=_secret(config.azure_ad_token),
            **kwargs,
        )
    assert isinstance(config, OpenAIConnectionConfig)
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(base_url=config.base_url, **kwargs)


class ClientHolder:
    """One sync client, and one async client per event loop (an async HTTP pool is
    bound to the loop that created it, and callers may run several loops in turn)."""

    def __init__(self, config: ConnectionConfig) -> None:
        self._config = config
        self._sync: Any = None
        self._async: tuple[asyncio.AbstractEventLoop, Any] | None = None

    def sync(self) -> Any:
        if self._sync is None:
            self._sync = build_client(self._config, asynchronous=False)
        return self._sync

    def async_(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, build_client(self._config, asynchronous=True))
        return self._async[1]

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self.close()
        if self._async is not None:
            loop, client = self._async
            self._async = None
            if loop is asyncio.get_running_loop():
                await client.close()
