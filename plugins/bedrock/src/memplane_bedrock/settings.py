"""Connection settings shared by the Bedrock LLM, embedder and reranker.

Region and credentials come from the standard boto3 chain (environment, shared
config and credentials files, SSO, container and instance roles) unless set here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from memplane.providers.base import ProviderConfig


class BedrockConnection(ProviderConfig):
    region: str | None = Field(None, description="AWS region; defaults to the boto3 chain (AWS_REGION...)")
    profile: str | None = Field(None, description="named profile from the shared AWS config")
    aws_access_key_id: SecretStr | None = Field(None, description="explicit credentials (else the chain)")
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    endpoint_url: str | None = Field(None, description="override the endpoint (VPC endpoints, tests)")
    timeout: float = Field(60.0, gt=0, description="read timeout of one HTTP response, seconds")
    connect_timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(
        2, ge=0, le=10,
        description="retries after the first attempt (throttling, 5xx, timeouts, lost "
        "connections, garbled bodies); 0 = one attempt",
    )
    max_retry_wait: float = Field(
        60.0, ge=0,
        description="longest x-amz-retry-after / Retry-After waited out; a longer one is "
        "raised at once as RateLimitError(retry_after=...)",
    )
    retry_mode: Literal["standard", "adaptive", "legacy"] = Field(
        "standard",
        description="botocore retry mode; botocore makes one attempt per call (memplane "
        "retries), so only adaptive's client-side rate limiting still has an effect",
    )

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> BedrockConnection:
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("set both aws_access_key_id and aws_secret_access_key, or neither")
        return self
