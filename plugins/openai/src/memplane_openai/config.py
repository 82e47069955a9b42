"""Config models of the OpenAI and Azure OpenAI providers (no SDK import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from memplane.providers.base import ProviderConfig

#: How the LLM asks for JSON. ``json_schema``: strict structured outputs (OpenAI,
#: Azure, recent vLLM/Ollama); ``json_object``: JSON mode, the schema goes into the
#: prompt (servers without structured outputs); ``text``: neither, the core parses.
StructuredOutput = Literal["json_schema", "json_object", "text"]


class ConnectionConfig(ProviderConfig):
    """What every OpenAI-protocol client needs."""

    api_key: SecretStr | None = Field(
        default=None, description="falls back to the SDK's environment variable"
    )
    timeout: float = Field(default=60.0, gt=0, description="seconds per HTTP attempt")
    max_retries: int = Field(
        default=2, ge=0, le=10,
        description="retries after the first attempt (429, 408, 409, 5xx, timeouts, lost "
        "connections, garbled bodies); 0 = one attempt",
    )
    max_retry_wait: float = Field(
        default=60.0, ge=0,
        description="longest Retry-After waited out; a longer one is raised at once as "
        "RateLimitError(retry_after=...)",
    )
    organization: str | None = None
    project: str | None = None
    default_headers: dict[str, str] = Field(default_factory=dict)


class OpenAIConnectionConfig(ConnectionConfig):
    base_url: str | None = Field(
        default=None, description="e.g. http://localhost:11434/v1 for Ollama; None = api.openai.com"
    )


class AzureConnectionConfig(ConnectionConfig):
    azure_endpoint: str = Field(description="https://<resource>.openai.azure.com")
    deployment: str = Field(description="the deployment name the model is served under")
    api_version: str = "2024-10-21"
    azure_ad_token: SecretStr | None = Field(
        default=None, description="Entra ID bearer token instead of an api key"
    )


class LLMOptions(ProviderConfig):
    structured_output: StructuredOutput = "json_schema"
    strict: bool = Field(
        default=True,
        description="strict structured outputs; optional fields are sent as required+nullable",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = Field(
        default="max_completion_tokens",
        description="older OpenAI-compatible servers only know max_tokens",
    )


class OpenAILLMConfig(OpenAIConnectionConfig, LLMOptions):
    model: str = Field(default="gpt-4o-mini", min_length=1)


class AzureOpenAILLMConfig(AzureConnectionConfig, LLMOptions):
    model: str | None = Field(default=None, description="sent as `model`; default: deployment")

    @model_validator(mode="after")
    def _model_defaults_to_deployment(self) -> AzureOpenAILLMConfig:
        if self.model is None:
            self.model = self.deployment
        return self


#: The API accepts at most this many inputs per embeddings request.
MAX_EMBEDDING_INPUTS = 2048


class EmbedderOptions(ProviderConfig):
    dimensions: int | None = Field(
        default=None, gt=0, description="shorten text-embedding-3 vectors; sent to the API"
    )
    batch_size: int = Field(default=512, gt=0, le=MAX_EMBEDDING_INPUTS)
    max_batch_tokens: int = Field(
        default=250_000,
        gt=0,
        description="estimated-token budget per request (the API allows 300k)",
    )


class OpenAIEmbedderConfig(OpenAIConnectionConfig, EmbedderOptions):
    model: str = Field(default="text-embedding-3-small", min_length=1)


class AzureOpenAIEmbedderConfig(AzureConnectionConfig, EmbedderOptions):
    model: str | None = Field(
        default=None, description="the underlying model, to know its default dimension"
    )

    @model_validator(mode="after")
    def _model_defaults_to_deployment(self) -> AzureOpenAIEmbedderConfig:
        if self.model is None:
            self.model = self.deployment
        return self
