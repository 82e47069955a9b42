"""Connection settings shared by the Gemini LLM and embedder.

Two backends behind one SDK: the Gemini API (an API key) and Vertex AI (a Google
Cloud project and location, credentials from Application Default Credentials or a
static access token).
"""

from __future__ import annotations

import os

from pydantic import Field, SecretStr

from memplane.errors import ConfigurationError
from memplane.providers.base import ProviderConfig
from memplane.providers.retry import RetryPolicy

API_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
LOCATION_ENV = "GOOGLE_CLOUD_LOCATION"
DEFAULT_LOCATION = "us-central1"


class GeminiConnection(ProviderConfig):
    """Where and how to reach Gemini. Every field has an environment fallback or a default."""

    vertexai: bool = Field(False, description="use Vertex AI instead of the Gemini API")
    api_key: SecretStr | None = Field(
        None, description="Gemini API key; defaults to GEMINI_API_KEY, then GOOGLE_API_KEY"
    )
    project: str | None = Field(None, description="Vertex AI project; defaults to GOOGLE_CLOUD_PROJECT")
    location: str | None = Field(
        None, description="Vertex AI region; defaults to GOOGLE_CLOUD_LOCATION, then us-central1"
    )
    access_token: SecretStr | None = Field(
        None,
        description="Vertex AI: a static OAuth access token instead of Application Default Credentials",
    )
    base_url: str | None = Field(None, description="override the service endpoint (proxies, tests)")
    api_version: str | None = Field(None, description="override the REST API version, e.g. v1beta")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers")
    timeout: float = Field(60.0, gt=0, description="seconds to wait for one HTTP response")
    max_retries: int = Field(
        2, ge=0, le=10,
        description="retries after the first attempt (429, 408, 5xx, timeouts, lost "
        "connections, garbled bodies); 0 = one attempt",
    )
    max_retry_wait: float = Field(
        60.0, ge=0,
        description="longest server-requested wait (Retry-After, RetryInfo) waited out; a "
        "longer one is raised at once as RateLimitError(retry_after=...)",
    )
    retry_initial_delay: float = Field(1.0, ge=0, description="first backoff delay, seconds")
    retry_max_delay: float = Field(30.0, ge=0, description="cap on any one backoff delay, seconds")

    def resolved_api_key(self) -> str:
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        for name in API_KEY_ENV:
            if os.environ.get(name):
                return os.environ[name]
        raise ConfigurationError(
            "gemini: no API key: set `api_key` in the provider config or the GEMINI_API_KEY "
            "environment variable (or set `vertexai: true` with a project to use Vertex AI)"
        )

    def resolved_project(self) -> str:
        project = self.project or os.environ.get(PROJECT_ENV)
        if not project:
            raise ConfigurationError(
                "gemini: Vertex AI mode needs a project: set `project` in the provider config "
                f"or the {PROJECT_ENV} environment variable"
            )
        return project

    def resolved_location(self) -> str:
        return self.location or os.environ.get(LOCATION_ENV) or DEFAULT_LOCATION


def retry_policy(conn: GeminiConnection) -> RetryPolicy:
    """The shared retry policy (:mod:`memplane.providers.retry`) from the config."""
    return RetryPolicy(max_retries=conn.max_retries, max_wait=conn.max_retry_wait,
                       initial_delay=conn.retry_initial_delay, max_delay=conn.retry_max_delay)
