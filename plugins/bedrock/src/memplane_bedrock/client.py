"""Build boto3 clients from :class:`BedrockConnection` (boto3 is imported here)."""

from __future__ import annotations

import os
from typing import Any

from memplane.errors import ConfigurationError
from memplane_bedrock.settings import BedrockConnection


def build_client(conn: BedrockConnection, service: str) -> Any:
    """A boto3 client for ``service`` (bedrock-runtime or bedrock-agent-runtime).

    botocore makes one attempt per call: memplane retries through
    :mod:`memplane.providers.retry` (``max_retries``, ``max_retry_wait``), so that
    ``max_retries`` means what it means in every cloud plugin.
    """
    import boto3
    from botocore.config import Config

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    session = boto3.session.Session(
        profile_name=conn.profile,
        # botocore reads AWS_DEFAULT_REGION; other AWS SDKs use AWS_REGION, so honour both
        region_name=conn.region or os.environ.get("AWS_REGION") or None,
        aws_access_key_id=secret(conn.aws_access_key_id),
        aws_secret_access_key=secret(conn.aws_secret_access_key),
        aws_session_token=secret(conn.aws_session_token),
    )
    if session.region_name is None:
        raise ConfigurationError(
            "bedrock: no AWS region: set `region` in the provider config, or AWS_REGION / "
            "AWS_DEFAULT_REGION, or a region in the AWS profile"
        )
    config = Config(
        retries={"mode": conn.retry_mode, "total_max_attempts": 1},
        read_timeout=conn.timeout,
        connect_timeout=conn.connect_timeout,
        user_agent_extra="memplane",
    )
    return session.client(service, endpoint_url=conn.endpoint_url, config=config)
