"""Config model of the Anthropic provider (no SDK import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from memplane.providers.base import ProviderConfig


class AnthropicConfig(ProviderConfig):
    model: str = Field(default="claude-haiku-4-5", min_length=1)
    api_key: SecretStr | None = Field(default=None, description="falls back to ANTHROPIC_API_KEY")
    base_url: str | None = Field(default=None, description="None = api.anthropic.com")
    timeout: float = Field(default=60.0, gt=0, description="seconds per HTTP attempt")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="retries after the first attempt (429, 5xx, timeouts)"
    )
    max_retry_wait: float = Field(
        default=60.0,
        ge=0,
        description="longest Retry-After honoured; a longer one is reported, not slept through",
    )
    max_tokens: int = Field(default=4096, gt=0, description="the Messages API requires a limit")
    temperature: float | None = Field(default=None, ge=0, le=1)
    #: ``tool``: the schema is the input schema of a forced tool call (enforced);
    #: ``text``: the schema goes into the system prompt and the core parses the text.
    structured_output: Literal["tool", "text"] = "tool"
    default_headers: dict[str, str] = Field(default_factory=dict)
